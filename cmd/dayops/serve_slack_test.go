package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/dayops/dayops/commands"
	"github.com/dayops/dayops/internal/testkit/fixtures"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

// slackCall is one Web API call the fake Slack received.
type slackCall struct {
	method string
	form   url.Values
}

// recordingSlack is slacktest's server with handlers that record the calls
// a run's reporting makes.
type recordingSlack struct {
	srv   *slacktest.Server
	mu    sync.Mutex
	calls []slackCall
	seq   int
	// down, while set, answers every chat call with its status (503, or
	// 429 with Retry-After 1) instead of doing it.
	down int
}

func (f *recordingSlack) setDown(status int) {
	f.mu.Lock()
	f.down = status
	f.mu.Unlock()
}

func newRecordingSlack(t *testing.T) *recordingSlack {
	f := &recordingSlack{}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		for _, m := range []string{"chat.postMessage", "chat.postEphemeral", "chat.update"} {
			c.Handle("/"+m, f.record(m))
		}
		for _, m := range []string{"views.open", "views.update"} {
			c.Handle("/"+m, f.recordView(m))
		}
		c.Handle("/auth.test", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"ok":true,"user":"dayops","user_id":"UDAYOPS","team_id":"T111","bot_id":"B111"}`)
		})
		c.Handle("/conversations.info", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			fmt.Fprintf(w, `{"ok":true,"channel":{"id":%q,"name":"deploys"}}`, r.Form.Get("channel"))
		})
	})
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	return f
}

func (f *recordingSlack) record(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		f.mu.Lock()
		if down := f.down; down != 0 {
			f.mu.Unlock()
			if down == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			http.Error(w, http.StatusText(down), down)
			return
		}
		f.seq++
		ts := form.Get("ts")
		if method != "chat.update" {
			ts = fmt.Sprintf("1700000000.%06d", f.seq)
		}
		f.calls = append(f.calls, slackCall{method, form})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": ts})
	}
}

func (f *recordingSlack) Calls() []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slackCall(nil), f.calls...)
}

// TestServeSlackSlashCommandEndToEnd: `dayops serve` with the Slack door in
// HTTP mode takes a signed slash command (the fixture's form, with dayops's
// command), answers at once, posts the run's message in a thread and
// updates it in place to the run's end.
func TestServeSlackSlashCommandEndToEnd(t *testing.T) {
	fake := newRecordingSlack(t)
	w := newSlackServeWorldOf(t, fake, map[string]string{"ops/deploy-web.yaml": deployWebStaging}, slackSRE)
	d := w.start(t)

	form, err := url.ParseQuery(strings.TrimSpace(string(fixtures.Read(t, "slack", "slash_command.form"))))
	if err != nil {
		t.Fatal(err)
	}
	form.Set("command", commandsPrefix)
	form.Set("text", "deploy web staging version=v1.2.0")
	body := form.Encode()

	// A bad signature is refused and runs nothing.
	bad := signedSlack(t, d.url+"/slack/commands", body, "v0=00", time.Now())
	if resp := do(t, bad); resp != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d, want 401", resp)
	}
	start := time.Now()
	if code := postSigned(t, d, "/slack/commands", body); code != http.StatusOK {
		t.Fatalf("slash command: %d, want 200", code)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("answered in %s: Slack wants 3 s", took)
	}
	eventually(t, 30*time.Second, "the run's message shows its end", func() bool { _, ok := w.finalUpdate(); return ok })
	var root, runMsg string
	for _, c := range fake.Calls() {
		switch {
		case c.method == "chat.postMessage" && c.form.Get("thread_ts") == "" && root == "":
			root = c.form.Get("channel")
		case c.method == "chat.postMessage" && c.form.Get("thread_ts") != "" && runMsg == "":
			runMsg = c.form.Get("thread_ts")
		}
	}
	if root != "C111" || runMsg == "" {
		t.Errorf("want a root message in C111 and the run's message in its thread; calls: %+v", fake.Calls())
	}
	code, metrics := get(t, d.url+"/metrics")
	for _, want := range []string{`dayops_api_requests_total{api="slack",outcome="ok"}`,
		`dayops_http_request_duration_seconds_count{code="401",route="/slack/commands"} 1`,
		`dayops_http_request_duration_seconds_count{code="200",route="/slack/commands"} 1`} {
		if code != http.StatusOK || !strings.Contains(metrics, want) {
			t.Errorf("/metrics = %d, lacks %q", code, want)
		}
	}
	if bad := strings.Count(d.logs.String(), `"level":"ERROR"`); bad > 0 {
		t.Errorf("%d errors logged:\n%s", bad, d.logs.String())
	}
}

func signedSlack(t *testing.T, target, body, sig string, at time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(at.Unix(), 10))
	r.Header.Set("X-Slack-Signature", sig)
	return r
}

func do(t *testing.T, r *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// slackServeWorld is a git server with a definition of a short step, a fake
// Slack and the configuration of a `dayops serve` in HTTP mode.
type slackServeWorld struct {
	fake *recordingSlack
	file string
	env  []string
}

const testSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// commandsPrefix is the slash command the tests' Slack sends.
const commandsPrefix = commands.DefaultPrefix

// deployWebStaging deploys service web to staging.
const deployWebStaging = `apiVersion: dayops/v1
phase: day1
name: deploy-web
service: web
environments: {staging: {}}
params:
  version: {type: string, description: Image tag, pattern: '^v\d+\.\d+\.\d+$', required: true}
steps:
  - name: Install
    run: echo "installing $DAYOPS_PARAM_VERSION"
`

// slackSRE is the roles of a serve world: W111 may do everything.
const slackSRE = "  sre: {members: [\"slack:W111\"], allow: [\"*\"]}\n"

// newSlackServeWorld is a world whose one definition, nap, runs step.
func newSlackServeWorld(t *testing.T, step string) *slackServeWorld {
	return newSlackServeWorldOf(t, newRecordingSlack(t),
		map[string]string{"ops/nap.yaml": "apiVersion: dayops/v1\nphase: day2\nname: nap\nsteps:\n  - name: Nap\n    run: " + step + "\n"}, slackSRE)
}

// newSlackServeWorldOf is a world of the given fake Slack, definitions
// (path -> YAML) and roles (the lines under `roles:`).
func newSlackServeWorldOf(t *testing.T, fake *recordingSlack, defs map[string]string, roles string) *slackServeWorld {
	gs := gitserver.New(t)
	gs.Commit("defs", defs)
	return &slackServeWorld{
		fake: fake,
		file: serveConfig(t, gs.URL(), "30s") + "base_url: https://dayops.example.com\nslack: {mode: http}\nroles:\n" + roles,
		env: []string{"DAYOPS_SLACK_BOT_TOKEN", "xoxb-test-token", "DAYOPS_SLACK_SIGNING_SECRET", testSigningSecret,
			"DAYOPS_SLACK_API_URL", fake.srv.GetAPIURL()},
	}
}

// start starts serve on the world and waits for it to be ready.
func (w *slackServeWorld) start(t *testing.T) *servedDayops {
	t.Helper()
	d := startServe(t, w.file, w.env...)
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, d.url+"/readyz"); return code == http.StatusOK })
	return d
}

// signedPost posts body to path of d, signed now with testSigningSecret,
// and returns the answer; the caller closes its body.
func signedPost(t *testing.T, d *servedDayops, path, body string) *http.Response {
	t.Helper()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(testSigningSecret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	resp, err := http.DefaultClient.Do(signedSlack(t, d.url+path, body, "v0="+hex.EncodeToString(mac.Sum(nil)), time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// postSigned is signedPost that returns the answer's status.
func postSigned(t *testing.T, d *servedDayops, path, body string) int {
	t.Helper()
	resp := signedPost(t, d, path, body)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// command sends a signed slash command to d and checks the 200.
func (w *slackServeWorld) command(t *testing.T, d *servedDayops, text string) {
	t.Helper()
	form := url.Values{"team_id": {"T111"}, "channel_id": {"C111"}, "channel_name": {"deploys"}, "user_id": {"W111"},
		"user_name": {"alice"}, "command": {commandsPrefix}, "text": {text}, "trigger_id": {"111.111.xxx"},
		"response_url": {"https://hooks.slack.com/commands/T111/111/xxxxx"}}
	if code := postSigned(t, d, "/slack/commands", form.Encode()); code != http.StatusOK {
		t.Fatalf("slash command: %d", code)
	}
}

// runMessage is the thread of the run's message once it is posted: the run's
// message is the first one posted in a thread (the root's).
func (w *slackServeWorld) runMessage() string {
	for _, c := range w.fake.Calls() {
		if c.method == "chat.postMessage" && c.form.Get("thread_ts") != "" {
			return c.form.Get("thread_ts")
		}
	}
	return ""
}

// finalUpdate reports whether a chat.update showed the run succeeded, and
// of which message.
func (f *recordingSlack) finalUpdate() (ts string, ok bool) {
	for _, c := range f.Calls() {
		if c.method == "chat.update" && strings.Contains(c.form.Get("blocks")+c.form.Get("text"), "succeeded") {
			return c.form.Get("ts"), true
		}
	}
	return "", false
}

func (w *slackServeWorld) finalUpdate() (string, bool) { return w.fake.finalUpdate() }

// TestServeSlackOutage: Slack answers 503, then 429, while a run goes on;
// the run is not affected, and once Slack is back its message ends in the
// final state. Then the same across a restart of serve: Slack is down when
// the run ends and when serve stops; the next serve brings the same message
// up to date.
func TestServeSlackOutage(t *testing.T) {
	t.Run("during a run", func(t *testing.T) {
		w := newSlackServeWorld(t, "sleep 2")
		d := startServe(t, w.file, w.env...)
		eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, d.url+"/readyz"); return code == http.StatusOK })
		w.command(t, d, "run nap")
		eventually(t, 30*time.Second, "the run's message", func() bool { return w.runMessage() != "" })
		w.fake.setDown(http.StatusServiceUnavailable)
		time.Sleep(1500 * time.Millisecond)
		w.fake.setDown(http.StatusTooManyRequests)
		eventually(t, 30*time.Second, "the run ends", func() bool {
			return d.srv.exec.Wait(context.Background()) == nil && storedRunState(t, d) == "succeeded"
		})
		if _, ok := w.finalUpdate(); ok {
			t.Fatal("an update landed while Slack was down")
		}
		w.fake.setDown(0)
		eventually(t, 90*time.Second, "the final state lands", func() bool { _, ok := w.finalUpdate(); return ok })
	})
	t.Run("across a restart", func(t *testing.T) {
		w := newSlackServeWorld(t, "sleep 1")
		d := startServe(t, w.file, w.env...)
		eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, d.url+"/readyz"); return code == http.StatusOK })
		w.command(t, d, "run nap")
		eventually(t, 30*time.Second, "the run's message", func() bool { return w.runMessage() != "" })
		w.fake.setDown(http.StatusServiceUnavailable)
		eventually(t, 30*time.Second, "the run ends", func() bool { return storedRunState(t, d) == "succeeded" })
		d.stop()
		if code := d.exitCode(t, time.Minute); code != exitOK {
			t.Fatalf("exit %d:\n%s", code, d.logs.String())
		}
		if _, ok := w.finalUpdate(); ok {
			t.Fatal("an update landed while Slack was down")
		}
		w.fake.setDown(0)
		startServe(t, w.file, w.env...)
		eventually(t, 60*time.Second, "the final state lands after the restart", func() bool { _, ok := w.finalUpdate(); return ok })
		ts, _ := w.finalUpdate()
		var posted []string
		for _, c := range w.fake.Calls() {
			if c.method == "chat.postMessage" && c.form.Get("thread_ts") != "" {
				posted = append(posted, c.form.Get("thread_ts"))
			}
		}
		if len(posted) != 1 || ts == "" {
			t.Errorf("after the restart: %d run messages posted, final update of %q; want the one message updated", len(posted), ts)
		}
	})
}

// storedRunState is the state of run 1 in d's database.
func storedRunState(t *testing.T, d *servedDayops) string {
	r, err := d.srv.store.Run(context.Background(), 1)
	if err != nil {
		return ""
	}
	return string(r.State)
}

// click sends a signed block_actions payload (the fixture's, with user,
// action, value and the run's thread set) to d.
func (w *slackServeWorld) click(t *testing.T, d *servedDayops, user, actionID, value, trigger string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixtures.Read(t, "slack", "block_actions.json"), &m); err != nil {
		t.Fatal(err)
	}
	m["user"].(map[string]any)["id"] = user
	a := m["actions"].([]any)[0].(map[string]any)
	a["action_id"], a["value"] = actionID, value
	m["trigger_id"] = trigger
	thread := w.runMessage()
	c := m["container"].(map[string]any)
	c["message_ts"], c["thread_ts"], c["is_ephemeral"] = thread, thread, false
	m["message"] = map[string]any{"type": "message", "ts": thread, "thread_ts": thread, "text": "Run #1"}
	b, _ := json.Marshal(m)
	if code := postSigned(t, d, "/slack/interactions", url.Values{"payload": {string(b)}}.Encode()); code != http.StatusOK {
		t.Fatalf("click: %d", code)
	}
}

// TestServeSlackProductionApproval: a production deploy asked in Slack waits
// for an SRE other than the requester; a click by a developer is refused and
// changes nothing, the click of another SRE lets it go on, the thread says
// who approved and the message ends in the final state.
func TestServeSlackProductionApproval(t *testing.T) {
	fake := newRecordingSlack(t)
	w := newSlackServeWorldOf(t, fake, map[string]string{"ops/deploy-web.yaml": `apiVersion: dayops/v1
phase: day1
name: deploy-web
service: web
environments:
  staging: {}
  production: {approvals: {count: 1, from: [sre]}}
params:
  version: {type: string, pattern: '^v\d+\.\d+\.\d+$', required: true}
steps:
  - name: Install
    run: echo "installing $DAYOPS_PARAM_VERSION"
`}, "  sre: {members: [\"slack:W111\", \"slack:W222\"], allow: [\"*\"]}\n  dev: {members: [\"slack:W333\"], allow: [\"day1:*:staging\", \"read\"]}\n")
	d := w.start(t)
	w.command(t, d, "deploy web production version=v1.2.0")
	eventually(t, 30*time.Second, "the run waits for an approval", func() bool { return storedRunState(t, d) == "awaiting_approval" })
	eventually(t, 30*time.Second, "the run's message", func() bool { return w.runMessage() != "" })

	w.click(t, d, "W333", "dayops_approve", "1", "trig-dev")
	eventually(t, 30*time.Second, "the developer is told no", func() bool {
		for _, c := range fake.Calls() {
			if c.method == "chat.postEphemeral" && c.form.Get("user") == "W333" && strings.Contains(c.form.Get("blocks")+c.form.Get("text"), "not allowed") {
				return true
			}
		}
		return false
	})
	if got := storedRunState(t, d); got != "awaiting_approval" {
		t.Fatalf("after the developer's click the run is %s", got)
	}
	w.click(t, d, "W111", "dayops_approve", "1", "trig-requester")
	w.click(t, d, "W222", "dayops_approve", "1", "trig-sre")
	eventually(t, 30*time.Second, "the final state lands", func() bool { _, ok := w.finalUpdate(); return ok })
	said := false
	for _, c := range fake.Calls() {
		text := c.form.Get("blocks") + c.form.Get("text")
		if c.method == "chat.postMessage" && strings.Contains(text, "approved run 1") {
			said = true
		}
		if c.method != "chat.postEphemeral" && strings.Contains(text, "W111") && strings.Contains(text, "cannot approve") {
			t.Errorf("the requester's refusal was posted for all: %q", text)
		}
	}
	if !said {
		t.Errorf("the thread does not say who approved; calls: %+v", fake.Calls())
	}
}
