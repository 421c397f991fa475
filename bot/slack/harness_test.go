package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack/slacktest"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
	"github.com/dayops/dayops/internal/testkit/fixtures"
	"github.com/dayops/dayops/storage"
)

// The test world's people, as Slack knows them.
const (
	botUser   = "UDAYOPS"
	sreUser   = "W111" // the user of the block_actions and slash_command fixtures
	devUser   = "W222" // the user of the app_mention fixture
	sreUser2  = "UALICE"
	strangerU = "W999" // no role
	secret    = "8f742231b10e8888abcd99yyyzzz85a5"
)

func policy() dayops.Policy {
	return dayops.Policy{Roles: []dayops.Role{
		{Name: "sre", Members: []string{"slack:" + sreUser, "slack:" + sreUser2}, Allow: []string{"*"}},
		{Name: "dev", Members: []string{"slack:" + devUser}, Allow: []string{"day1:*:staging", "read"}},
	}}
}

// call is one Web API call the fake Slack received.
type call struct {
	Method string
	Form   url.Values
	TS     string    // the ts it answered
	At     time.Time // when the fake received it
}

// blocksText is the text of every block of the call, for searching.
func (c call) blocksText() string { return c.Form.Get("blocks") + c.Form.Get("text") }

// fakeSlack is slacktest's server with handlers of its own that record
// every call and can be told to fail.
type fakeSlack struct {
	srv *slacktest.Server

	mu    sync.Mutex
	calls []call
	seq   int
	// fail, when set, decides the answer to a call before it is recorded:
	// a status (429, 503) and a Retry-After; 0 lets the call through.
	fail func(method string) (status int, retryAfter string)
	// slackErr, when set, is the Slack error ("channel_not_found") every
	// call gets, with 200 and ok:false.
	slackErr string
	// refuse, when set, is the Slack error one method gets.
	refuse map[string]string
	// responses are the bodies posted to /respond, the response_url.
	responses []map[string]any
	opens     int // apps.connections.open calls
	// sockets receives each Socket Mode connection dayops opens; the
	// connection lives until its done channel is closed.
	sockets chan *socketConn
	// channels are the channels conversations.info and conversations.join
	// describe; any other is "ops-" and its lowercased ID.
	channels map[string]fakeChannel
	// groups are the user groups by ID and their members; groupsOmitUsers
	// makes usergroups.list leave the members out (usergroups.users.list
	// then has them). groupReads counts usergroups.list calls.
	groups          map[string][]string
	groupsOmitUsers bool
	groupReads      int
}

// fakeChannel is a channel as the fake Slack describes it.
type fakeChannel struct{ Name, Topic, Purpose string }

// socketConn is one Socket Mode connection as the fake Slack holds it.
type socketConn struct {
	c    *websocket.Conn
	acks chan string // envelope IDs acknowledged on it
	// answers are the payloads of the acknowledgements, by envelope ID.
	answers sync.Map
	done    chan struct{}
}

func newFakeSlack(t testing.TB) *fakeSlack {
	t.Helper()
	f := &fakeSlack{sockets: make(chan *socketConn, 4)}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		for _, m := range []string{"chat.postMessage", "chat.postEphemeral", "chat.update"} {
			c.Handle("/"+m, f.handler(m))
		}
		for _, m := range []string{"views.open", "views.update"} {
			c.Handle("/"+m, f.viewHandler(m))
		}
		c.Handle("/auth.test", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"ok":true,"user":"dayops","user_id":%q,"team_id":"T111","bot_id":"B111"}`, botUser)
		})
		c.Handle("/chat.getPermalink", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"permalink":"https://acme.slack.com/archives/%s/p%s"}`,
				r.Form.Get("channel"), r.Form.Get("channel"), strings.ReplaceAll(r.Form.Get("message_ts"), ".", ""))
		})
		c.Handle("/respond", func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f.mu.Lock()
			f.responses = append(f.responses, body)
			f.mu.Unlock()
		})
		c.Handle("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			f.opens++
			f.mu.Unlock()
			fmt.Fprintf(w, `{"ok":true,"url":%q}`, "ws://"+f.srv.ServerAddr+"/ws")
		})
		c.Handle("/ws", slacktest.Websocket(func(c *websocket.Conn) {
			sc := &socketConn{c: c, acks: make(chan string, 100), done: make(chan struct{})}
			go func() {
				for {
					var ack struct {
						EnvelopeID string          `json:"envelope_id"`
						Payload    json.RawMessage `json:"payload"`
					}
					if err := c.ReadJSON(&ack); err != nil {
						return
					}
					sc.answers.Store(ack.EnvelopeID, ack.Payload)
					sc.acks <- ack.EnvelopeID
				}
			}()
			f.sockets <- sc
			<-sc.done
		}))
		c.Handle("/conversations.info", f.channelHandler("conversations.info"))
		c.Handle("/conversations.join", f.channelHandler("conversations.join"))
		c.Handle("/usergroups.list", f.groupsHandler)
		c.Handle("/usergroups.users.list", f.groupsHandler)
		f.uploadHandlers(c) // upload_test.go
	})
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	return f
}

// channelHandler answers conversations.info and conversations.join from
// f.channels; joins are recorded as calls.
func (f *fakeSlack) channelHandler(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id := r.Form.Get("channel")
		f.mu.Lock()
		ch, ok := f.channels[id]
		if method == "conversations.join" {
			f.calls = append(f.calls, call{Method: method, Form: r.Form})
		}
		f.mu.Unlock()
		if !ok {
			ch = fakeChannel{Name: "ops-" + strings.ToLower(id)}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": map[string]any{
			"id": id, "name": ch.Name, "topic": map[string]any{"value": ch.Topic}, "purpose": map[string]any{"value": ch.Purpose},
		}})
	}
}

// groupsHandler answers usergroups.list and usergroups.users.list from
// f.groups.
func (f *fakeSlack) groupsHandler(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if strings.HasSuffix(r.URL.Path, "usergroups.users.list") {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "users": f.groups[r.Form.Get("usergroup")]})
		return
	}
	f.groupReads++
	var list []map[string]any
	for id, users := range f.groups {
		g := map[string]any{"id": id, "handle": "handle-" + id, "user_count": len(users)}
		if !f.groupsOmitUsers && r.Form.Get("include_users") == "true" {
			g["users"] = users
		}
		list = append(list, g)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "usergroups": list})
}

func (f *fakeSlack) handler(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		f.mu.Lock()
		fail, slackErr := f.fail, f.slackErr
		f.mu.Unlock()
		if fail != nil {
			if status, after := fail(method); status != 0 {
				if after != "" {
					w.Header().Set("Retry-After", after)
				}
				http.Error(w, http.StatusText(status), status)
				return
			}
		}
		f.mu.Lock()
		if e := f.refuse[method]; e != "" {
			slackErr = e
		}
		f.mu.Unlock()
		if slackErr != "" {
			fmt.Fprintf(w, `{"ok":false,"error":%q}`, slackErr)
			return
		}
		f.mu.Lock()
		f.seq++
		ts := form.Get("ts")
		if method != "chat.update" {
			ts = fmt.Sprintf("1700000000.%06d", f.seq)
		}
		f.calls = append(f.calls, call{Method: method, Form: form, TS: ts, At: time.Now()})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": ts, "message_ts": ts})
	}
}

// viewHandler records a views.open or views.update (slack-go posts them as
// JSON): the call's Form holds "trigger_id", "view_id" and the "view" as
// JSON; TS is the view's ID, the same for every call on one view.
func (f *fakeSlack) viewHandler(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			TriggerID string          `json:"trigger_id"`
			ViewID    string          `json:"view_id"`
			View      json.RawMessage `json:"view"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		if e := f.refuse[method]; e != "" {
			f.mu.Unlock()
			fmt.Fprintf(w, `{"ok":false,"error":%q}`, e)
			return
		}
		id := req.ViewID
		if method == "views.open" {
			f.seq++
			id = fmt.Sprintf("V%06d", f.seq)
		}
		f.calls = append(f.calls, call{Method: method, TS: id,
			Form: url.Values{"trigger_id": {req.TriggerID}, "view_id": {req.ViewID}, "view": {string(req.View)}}})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"view":{"id":%q,"type":"modal"}}`, id)
	}
}

func (f *fakeSlack) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeSlack) setFail(fail func(string) (int, string)) {
	f.mu.Lock()
	f.fail = fail
	f.mu.Unlock()
}

// world is a real bot on bottest fakes, a real database for deliveries, a
// fake Slack and the door between them.
type world struct {
	t      testing.TB
	slack  *fakeSlack
	engine *bottest.Engine
	store  *bottest.Store
	bus    *dayops.Bus
	bot    *bot.Bot
	door   *Door
	db     *storage.Store
	// click is a clickForm on the run's message, once there is one.
	click func(user, actionID, value, trigger string) string
}

// runTS is the ts of the first message posted in a thread: the run's.
func (w *world) runTS() string {
	for _, c := range w.slack.Calls() {
		if c.Method == "chat.postMessage" && c.Form.Get("thread_ts") != "" {
			return c.TS
		}
	}
	w.t.Fatal("no run message posted")
	return ""
}

func newWorld(t testing.TB) *world {
	t.Helper()
	return newWorldAt(t, filepath.Join(t.TempDir(), "dayops.db"))
}

// newWorldAt is newWorld with its deliveries in the database at path.
func newWorldAt(t testing.TB, path string) *world {
	t.Helper()
	return newWorldOf(t, path, bottest.Catalog(t), policy())
}

// newWorldOf is newWorldAt with its own catalog and roles.
func newWorldOf(t testing.TB, path string, cat *dayops.Catalog, pol dayops.Policy) *world {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, slack: newFakeSlack(t), store: &bottest.Store{}, bus: dayops.NewBus()}
	w.engine = &bottest.Engine{Store: w.store}
	w.bot, err = bot.New(bot.Options{
		Engine: w.engine, Store: w.store, Catalogs: &bottest.Catalogs{Cat: cat}, Policy: pol,
		Events: w.bus, BaseURL: "https://dayops.example.com", Redactor: dayops.NewRedactor("hunter2-secret"),
		Automation: db,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.door, err = New(ctx, Options{Bot: w.bot, BotToken: "xoxb-test", SigningSecret: secret,
		APIURL: w.slack.srv.GetAPIURL(), Deliveries: db, Redactor: dayops.NewRedactor("hunter2-secret"), Now: func() time.Time { return time.Now() },
		ChannelInterval: 10 * time.Millisecond}) // pace_test.go tests Slack's pace
	if err != nil {
		t.Fatal(err)
	}
	w.db = db
	t.Cleanup(w.stop)
	return w
}

// stop closes the door, the bot and the database, as a stopping server does.
func (w *world) stop() {
	if err := w.door.Close(context.Background()); err != nil {
		w.t.Error(err)
	}
	if err := w.bot.Close(); err != nil {
		w.t.Error(err)
	}
	w.db.Close()
}

// signed is a request to path signed as Slack signs it, at ts.
func signed(path, body string, ts time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	sec := strconv.FormatInt(ts.Unix(), 10)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", sec)
	r.Header.Set("X-Slack-Signature", signature(secret, sec, []byte(body)))
	return r
}

// serve sends a signed request through the door's routes and waits for the
// work it started.
func (w *world) serve(r *http.Request) *httptest.ResponseRecorder {
	mux := http.NewServeMux()
	w.door.Routes(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, r)
	w.settle()
	return rec
}

// settle waits for the door's work and the bot's messages.
func (w *world) settle() {
	w.door.work.Wait()
	w.bot.Wait()
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	return fixtures.Read(t, "slack", name)
}

// commandForm is the slash command fixture with the user, the command /ops
// and text changed.
func commandForm(t testing.TB, user, text string) string {
	return commandFormTo(t, user, text, "")
}

// commandFormTo is commandForm with the response_url changed.
func commandFormTo(t testing.TB, user, text, responseURL string) string {
	t.Helper()
	v, err := url.ParseQuery(strings.TrimSpace(string(fixture(t, "slash_command.form"))))
	if err != nil {
		t.Fatal(err)
	}
	v.Set("command", "/ops")
	v.Set("user_id", user)
	v.Set("text", text)
	v.Set("trigger_id", fmt.Sprintf("trig-%d", time.Now().UnixNano()))
	if responseURL != "" {
		v.Set("response_url", responseURL)
	}
	return v.Encode()
}

// mentionBody is the app_mention fixture with the user, the text and the
// event ID changed.
func mentionBody(t testing.TB, user, text, eventID string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, "event_app_mention.json"), &m); err != nil {
		t.Fatal(err)
	}
	ev := m["event"].(map[string]any)
	ev["user"], ev["text"] = user, text
	m["event_id"] = eventID
	b, _ := json.Marshal(m)
	return string(b)
}

// clickForm is the block_actions fixture, as the form Slack posts, with the
// user, action ID, value and trigger ID changed, clicked on the message ts
// in the thread threadTS ("" for the fixture's own message).
func clickForm(t testing.TB, user, actionID, value, trigger, threadTS, ts string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, "block_actions.json"), &m); err != nil {
		t.Fatal(err)
	}
	m["user"].(map[string]any)["id"] = user
	a := m["actions"].([]any)[0].(map[string]any)
	a["action_id"], a["value"] = actionID, value
	m["trigger_id"] = trigger
	if ts != "" {
		c := m["container"].(map[string]any)
		c["message_ts"], c["thread_ts"], c["is_ephemeral"] = ts, threadTS, false
		m["message"] = map[string]any{"type": "message", "ts": ts, "thread_ts": threadTS, "text": "Run #1"}
	}
	b, _ := json.Marshal(m)
	return url.Values{"payload": {string(b)}}.Encode()
}

// methods lists the calls' methods, for messages.
func methods(calls []call) string {
	var s []string
	for _, c := range calls {
		s = append(s, c.Method+"("+c.Form.Get("thread_ts")+")")
	}
	return strings.Join(s, " ")
}
