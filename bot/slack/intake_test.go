package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

func TestSlashCommandStartsRunInItsThread(t *testing.T) {
	w := newWorld(t)
	req := signed(PathCommands, commandForm(t, sreUser, "deploy web staging version=v1.2.0"), time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	req = req.WithContext(ctx)
	mux := http.NewServeMux()
	w.door.Routes(mux)
	rec := httptest.NewRecorder()
	start := time.Now()
	mux.ServeHTTP(rec, req)
	took := time.Since(start)
	cancel() // the request is over: its work must go on regardless
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Fatalf("answer %d %q; want 200 and an empty body", rec.Code, rec.Body.String())
	}
	t.Logf("acknowledged in %s", took)
	w.settle()

	reqs := w.engine.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d runs started; slack calls: %s", len(reqs), methods(w.slack.Calls()))
	}
	calls := w.slack.Calls()
	if len(calls) < 2 || calls[0].Method != "chat.postMessage" || calls[0].Form.Get("thread_ts") != "" {
		t.Fatalf("slack calls %s; want a root message first", methods(calls))
	}
	root := calls[0]
	if !strings.Contains(root.Form.Get("text"), "<@"+sreUser+"> asked: `/ops deploy web staging version=v1.2.0`") {
		t.Errorf("root message %q", root.Form.Get("text"))
	}
	wantThread := dayops.Thread{Door: "slack", Channel: "C111", Name: "random", ID: root.TS}
	got := reqs[0]
	if diff := cmp.Diff(wantThread, got.Thread); diff != "" {
		t.Errorf("run thread (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(dayops.Actor{ID: "slack:" + sreUser, Name: "primary-owner"}, got.Actor); diff != "" {
		t.Errorf("run actor (-want +got):\n%s", diff)
	}
	runMsg := calls[1]
	if runMsg.Method != "chat.postMessage" || runMsg.Form.Get("thread_ts") != root.TS || !strings.Contains(runMsg.blocksText(), "Run #1 deploy-web staging") {
		t.Errorf("run message %s %q; want it posted in the root's thread", runMsg.Method, runMsg.blocksText())
	}
	for _, c := range calls {
		if c.Method == "chat.postEphemeral" {
			t.Errorf("an ephemeral answer to a started run: %q", c.blocksText())
		}
	}
}

// TestAnswersAreEphemeral: errors, refusals and help go to the asker alone,
// in no thread a run would need.
func TestAnswersAreEphemeral(t *testing.T) {
	tests := []struct {
		name, user, text, want string
		root                   bool // a root message is posted first
	}{
		{"help", sreUser, "help", "deploy", false},
		{"unknown command", sreUser, "dploy web staging", "deploy", false},
		{"no role", strangerU, "deploy web staging v1.2.0", "has no role in dayops", true},
		{"role does not allow", devUser, "deploy web production v1.2.0", "not allowed", true},
		{"unknown service", sreUser, "deploy wbe staging v1.2.0", "web", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.serve(signed(PathCommands, commandForm(t, tt.user, tt.text), time.Now()))
			if rec.Code != http.StatusOK {
				t.Fatalf("answer %d %q", rec.Code, rec.Body.String())
			}
			if n := len(w.engine.Requests()); n != 0 {
				t.Errorf("%d runs started", n)
			}
			calls := w.slack.Calls()
			var eph []call
			posted := 0
			for _, c := range calls {
				switch c.Method {
				case "chat.postEphemeral":
					eph = append(eph, c)
				case "chat.postMessage":
					posted++
				}
			}
			if len(eph) != 1 || eph[0].Form.Get("user") != tt.user || !strings.Contains(eph[0].blocksText(), tt.want) {
				t.Fatalf("slack calls %s; want one ephemeral answer to %s saying %q; got %+v", methods(calls), tt.user, tt.want, eph)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.root]; posted != want {
				t.Errorf("%d messages posted for all to see; want %d (the root)", posted, want)
			}
		})
	}
}

func TestSlashCommandTooLong(t *testing.T) {
	w := newWorld(t)
	rec := w.serve(signed(PathCommands, commandForm(t, sreUser, "deploy web staging "+strings.Repeat("x", 4000)), time.Now()))
	var got ephemeralAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("answer %d %q: %v", rec.Code, rec.Body.String(), err)
	}
	if got.ResponseType != "ephemeral" || !strings.Contains(got.Text, "at most 4000") {
		t.Errorf("answer %+v; want an ephemeral refusal", got)
	}
	if calls := w.slack.Calls(); len(calls) > 0 {
		t.Errorf("slack was called: %s", methods(calls))
	}
	if calls := w.engine.Calls(); len(calls) > 0 {
		t.Errorf("engine was called: %q", calls)
	}
}

func TestURLVerification(t *testing.T) {
	w := newWorld(t)
	rec := w.serve(signed(PathEvents, string(fixture(t, "event_url_verification.json")), time.Now()))
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("answer %d %q: %v", rec.Code, rec.Body.String(), err)
	}
	if got["challenge"] != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("challenge %q", got["challenge"])
	}
}

func TestMentionStartsRunInItsThread(t *testing.T) {
	w := newWorld(t)
	rec := w.serve(signed(PathEvents, mentionBody(t, devUser, "<@"+botUser+"> deploy web staging v1.2.0", "Ev111"), time.Now()))
	if rec.Code != 200 {
		t.Fatalf("answer %d %q", rec.Code, rec.Body.String())
	}
	reqs := w.engine.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d runs started; slack calls %s", len(reqs), methods(w.slack.Calls()))
	}
	want := dayops.Thread{Door: "slack", Channel: "C111", Name: "ops-c111", ID: "1595926230.009600"}
	if diff := cmp.Diff(want, reqs[0].Thread); diff != "" {
		t.Errorf("thread (-want +got):\n%s", diff)
	}
	if reqs[0].Actor.ID != "slack:"+devUser || reqs[0].Params["version"] != "v1.2.0" {
		t.Errorf("run request %+v", reqs[0])
	}
}

// TestNothingTriggersFromBots: messages of bots, of dayops itself, edits
// and plain messages start nothing and say nothing.
func TestNothingTriggersFromBots(t *testing.T) {
	self := mentionBody(t, botUser, "<@"+botUser+"> deploy web staging v1.2.0", "EvSelf")
	var bot map[string]any
	_ = json.Unmarshal([]byte(mentionBody(t, sreUser, "<@"+botUser+"> deploy web staging v1.2.0", "EvBot")), &bot)
	bot["event"].(map[string]any)["bot_id"] = "B999"
	fromBot, _ := json.Marshal(bot)
	for name, body := range map[string]string{
		"another bot's message":    string(fixture(t, "event_message_bot.json")),
		"a mention by a bot":       string(fromBot),
		"dayops mentioning itself": self,
		"a plain message":          string(fixture(t, "event_message.json")),
		"an edit":                  string(fixture(t, "event_message_changed.json")),
		"a broadcast":              string(fixture(t, "event_message_thread_broadcast.json")),
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			if rec := w.serve(signed(PathEvents, body, time.Now())); rec.Code != 200 {
				t.Fatalf("answer %d %q", rec.Code, rec.Body.String())
			}
			if calls := w.engine.Calls(); len(calls) > 0 {
				t.Errorf("engine was called: %q", calls)
			}
			if calls := w.slack.Calls(); len(calls) > 0 {
				t.Errorf("slack was called: %s", methods(calls))
			}
		})
	}
}

// TestOneRunPerEvent: Slack's retries of one event, and copies of it, all
// at once, start one run.
func TestOneRunPerEvent(t *testing.T) {
	w := newWorld(t)
	body := mentionBody(t, sreUser, "<@"+botUser+"> deploy web staging v1.2.0", "EvOnce")
	mux := http.NewServeMux()
	w.door.Routes(mux)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 1000 {
		wg.Go(func() {
			r := signed(PathEvents, body, time.Now())
			if i > 0 {
				r.Header.Set("X-Slack-Retry-Num", fmt.Sprint(i%3+1))
				r.Header.Set("X-Slack-Retry-Reason", "http_timeout")
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			mu.Lock()
			codes[rec.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	w.settle()
	if diff := cmp.Diff(map[int]int{200: 1000}, codes); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if n := len(w.engine.Requests()); n != 1 {
		t.Errorf("%d runs started; want 1", n)
	}
}

func TestClicks(t *testing.T) {
	// Run 1 is a production deploy by UALICE, waiting for an approval.
	setup := func(t *testing.T) *world {
		w := newWorld(t)
		w.serve(signed(PathCommands, commandForm(t, sreUser2, "deploy web production v1.2.0"), time.Now()))
		if n := len(w.engine.Requests()); n != 1 {
			t.Fatalf("%d runs started", n)
		}
		w.store.Update(1, func(r *dayops.Run) { r.State = dayops.RunAwaitingApproval })
		w.settle()
		th := w.engine.Requests()[0].Thread
		w.click = func(user, actionID, value, trigger string) string {
			return clickForm(t, user, actionID, value, trigger, th.ID, w.runTS())
		}
		return w
	}
	approves := func(w *world) int {
		n := 0
		for _, c := range w.engine.Calls() {
			if strings.HasPrefix(c, "approve") {
				n++
			}
		}
		return n
	}
	t.Run("approve by another sre", func(t *testing.T) {
		w := setup(t)
		before := len(w.slack.Calls())
		w.serve(signed(PathInteractions, w.click(sreUser, ActionIDApprove, "1", "trig-1"), time.Now()))
		if got := w.engine.Calls(); !contains(got, "approve 1 slack:"+sreUser) {
			t.Errorf("engine calls %q; want the approval of W111", got)
		}
		public := false
		for _, c := range w.slack.Calls()[before:] {
			if c.Method != "chat.update" && c.Form.Get("thread_ts") != w.engine.Requests()[0].Thread.ID {
				t.Errorf("%s outside the run's thread (%q)", c.Method, c.Form.Get("thread_ts"))
			}
			if c.Method == "chat.postEphemeral" && strings.Contains(c.blocksText(), "approved") {
				t.Errorf("the approval was told to the approver alone: %q", c.blocksText())
			}
			public = public || (c.Method == "chat.postMessage" && strings.Contains(c.blocksText(), "approved run 1"))
		}
		if !public {
			t.Errorf("the thread does not say who approved; calls: %+v", w.slack.Calls()[before:])
		}
	})
	t.Run("the same payload twice", func(t *testing.T) {
		w := setup(t)
		for range 2 {
			w.serve(signed(PathInteractions, w.click(sreUser, ActionIDApprove, "1", "trig-dup"), time.Now()))
		}
		if n := approves(w); n != 1 {
			t.Errorf("%d approvals asked of the engine; want 1", n)
		}
	})
	t.Run("a user without a role", func(t *testing.T) {
		w := setup(t)
		before := len(w.slack.Calls())
		w.serve(signed(PathInteractions, w.click(strangerU, ActionIDApprove, "1", "trig-2"), time.Now()))
		if n := approves(w); n != 0 {
			t.Errorf("%d approvals asked of the engine; want none", n)
		}
		calls := w.slack.Calls()[before:]
		if len(calls) != 1 || calls[0].Method != "chat.postEphemeral" || calls[0].Form.Get("user") != strangerU || calls[0].Form.Get("thread_ts") == "" ||
			!strings.Contains(calls[0].blocksText(), "has no role") {
			t.Errorf("slack calls %s; want one ephemeral refusal", methods(calls))
		}
	})
	t.Run("an unknown action id", func(t *testing.T) {
		w := setup(t)
		before, engine := len(w.slack.Calls()), len(w.engine.Calls())
		w.serve(signed(PathInteractions, w.click(sreUser, "a", "click_me_123", "trig-3"), time.Now()))
		if calls := w.engine.Calls()[engine:]; len(calls) != 0 {
			t.Errorf("engine calls %q; want none", calls)
		}
		calls := w.slack.Calls()[before:]
		if len(calls) != 1 || calls[0].Method != "chat.postEphemeral" || !strings.Contains(calls[0].blocksText(), "not one dayops knows") {
			t.Errorf("slack calls %s; want one ephemeral answer", methods(calls))
		}
	})
	t.Run("cancel", func(t *testing.T) {
		w := setup(t)
		w.serve(signed(PathInteractions, w.click(sreUser2, ActionIDCancel, "1", "trig-4"), time.Now()))
		if got := w.engine.Calls(); !contains(got, "cancel 1 slack:"+sreUser2) {
			t.Errorf("engine calls %q; want the cancel", got)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestAfterClose: a request after Close is refused with 503, which Slack
// retries, and starts nothing.
func TestAfterClose(t *testing.T) {
	w := newWorld(t)
	if err := w.door.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for path, body := range map[string]string{
		PathCommands:     commandForm(t, sreUser, "deploy web staging v1.2.0"),
		PathEvents:       mentionBody(t, sreUser, "<@"+botUser+"> deploy web staging v1.2.0", "EvClosed"),
		PathInteractions: clickForm(t, sreUser, ActionIDCancel, "1", "trig-closed", "", ""),
	} {
		if rec := w.serve(signed(path, body, time.Now())); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: answer %d %q; want 503", path, rec.Code, rec.Body.String())
		}
	}
	if calls := w.engine.Calls(); len(calls) > 0 {
		t.Errorf("engine was called: %q", calls)
	}
}

// TestChannelNameAsked: a mention's channel name (for channel rules) is
// asked of Slack, and again once it may have changed.
func TestChannelNameAsked(t *testing.T) {
	w := newWorld(t)
	now := time.Now()
	w.door.now = func() time.Time { return now }
	ctx := context.Background()
	if got := w.door.channelName(ctx, "C9"); got != "ops-c9" {
		t.Errorf("channelName = %q", got)
	}
	w.door.mu.Lock()
	w.door.channels["C9"] = channelName{name: "old-name", at: now}
	w.door.mu.Unlock()
	if got := w.door.channelName(ctx, "C9"); got != "old-name" {
		t.Errorf("channelName within the TTL = %q; want the cached old-name", got)
	}
	now = now.Add(channelNameTTL)
	if got := w.door.channelName(ctx, "C9"); got != "ops-c9" {
		t.Errorf("channelName after the TTL = %q; want it asked again", got)
	}
}

// TestChannelWithoutDayops: where Slack does not let dayops post, the asker
// learns it through the command's response_url, and no run is started that
// could never be reported.
func TestChannelWithoutDayops(t *testing.T) {
	tests := []struct {
		name, text, refused, want string
	}{
		{"a run", "deploy web staging v1.2.0", "chat.postMessage", "invite it with /invite <@" + botUser + ">"},
		{"help", "help", "chat.postEphemeral", "deploy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.slack.mu.Lock()
			w.slack.refuse = map[string]string{tt.refused: "not_in_channel"}
			w.slack.mu.Unlock()
			w.serve(signed(PathCommands, commandFormTo(t, sreUser, tt.text, w.slack.srv.GetAPIURL()+"respond"), time.Now()))
			if n := len(w.engine.Requests()); n != 0 {
				t.Errorf("%d runs started", n)
			}
			w.slack.mu.Lock()
			defer w.slack.mu.Unlock()
			if len(w.slack.responses) != 1 {
				t.Fatalf("%d answers through the response_url; want 1", len(w.slack.responses))
			}
			r := w.slack.responses[0]
			got := fmt.Sprint(r)
			if r["response_type"] != "ephemeral" || !strings.Contains(got, tt.want) {
				t.Errorf("answer %s; want an ephemeral one saying %q", got, tt.want)
			}
		})
	}
	t.Run("only to Slack", func(t *testing.T) {
		w := newWorld(t)
		for _, u := range []string{"https://evil.example/hooks", "http://hooks.slack.com/x", "", "::"} {
			if err := w.door.respond(context.Background(), u, nil, "hi"); err == nil {
				t.Errorf("respond(%q) called it", u)
			}
		}
	})
}

// TestRootMessageRedacted: the root message quotes the command, without the
// secrets in it.
func TestRootMessageRedacted(t *testing.T) {
	w := newWorld(t)
	w.serve(signed(PathCommands, commandForm(t, sreUser, "deploy web staging v1.2.0 note=hunter2-secret"), time.Now()))
	calls := w.slack.Calls()
	if len(calls) == 0 || calls[0].Form.Get("thread_ts") != "" {
		t.Fatalf("no root message: %s", methods(calls))
	}
	for _, c := range calls {
		if strings.Contains(c.blocksText(), "hunter2") {
			t.Errorf("%s shows the secret: %q", c.Method, c.blocksText())
		}
	}
	if !strings.Contains(calls[0].Form.Get("text"), "note=") {
		t.Errorf("root message %q does not quote the command", calls[0].Form.Get("text"))
	}
}

// TestRetryAfterRestart: Slack's retry of an event that reached dayops
// before a restart starts nothing after it.
func TestRetryAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dayops.db")
	body := mentionBody(t, sreUser, "<@"+botUser+"> deploy web staging v1.2.0", "EvRestart")
	click := clickForm(t, sreUser, ActionIDCancel, "1", "trig-restart", "", "")
	var before *world
	t.Run("before", func(t *testing.T) {
		before = newWorldAt(t, path)
		before.serve(signed(PathEvents, body, time.Now()))
		before.serve(signed(PathInteractions, click, time.Now()))
		if n := len(before.engine.Requests()); n != 1 {
			t.Fatalf("%d runs started", n)
		}
	}) // its cleanup stops it
	after := newWorldAt(t, path)
	r := signed(PathEvents, body, time.Now())
	r.Header.Set("X-Slack-Retry-Num", "1")
	after.serve(r)
	after.serve(signed(PathInteractions, click, time.Now()))
	if calls := after.engine.Calls(); len(calls) > 0 {
		t.Errorf("after the restart the engine was called: %q", calls)
	}
}
