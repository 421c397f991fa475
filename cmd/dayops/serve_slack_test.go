package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

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
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	fake := newRecordingSlack(t)
	gs := gitserver.New(t)
	gs.Commit("web", map[string]string{"ops/deploy-web.yaml": `apiVersion: dayops/v1
phase: day1
name: deploy-web
service: web
environments: {staging: {}}
params:
  version: {type: string, pattern: '^v\d+\.\d+\.\d+$', required: true}
steps:
  - name: Install
    run: echo "installing $DAYOPS_PARAM_VERSION"
`})
	file := serveConfig(t, gs.URL(), "5s") + "base_url: https://dayops.example.com\nslack: {mode: http}\nroles:\n  sre: {members: [\"slack:W111\"], allow: [\"*\"]}\n"
	d := startServe(t, file, "DAYOPS_SLACK_BOT_TOKEN", "xoxb-test-token", "DAYOPS_SLACK_SIGNING_SECRET", secret,
		"DAYOPS_SLACK_API_URL", fake.srv.GetAPIURL())
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, d.url+"/readyz"); return code == http.StatusOK })

	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "fixtures", "slack", "slash_command.form"))
	if err != nil {
		t.Skipf("the shared Slack fixtures are not here: %v", err)
	}
	form, err := url.ParseQuery(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	form.Set("command", "/ops")
	form.Set("text", "deploy web staging version=v1.2.0")
	body := form.Encode()

	// A bad signature is refused and runs nothing.
	bad := signedSlack(t, d.url+"/slack/commands", body, "v0=00", time.Now())
	if resp := do(t, bad); resp != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d, want 401", resp)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req := signedSlack(t, d.url+"/slack/commands", body, "v0="+hex.EncodeToString(mac.Sum(nil)), time.Now())
	start := time.Now()
	if code := do(t, req); code != http.StatusOK {
		t.Fatalf("slash command: %d, want 200", code)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("answered in %s: Slack wants 3 s", took)
	}
	eventually(t, 30*time.Second, "the run's message shows its end", func() bool {
		for _, c := range fake.Calls() {
			if c.method == "chat.update" && strings.Contains(c.form.Get("blocks")+c.form.Get("text"), "succeeded") {
				return true
			}
		}
		return false
	})
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
	if bad := strings.Count(d.logs.String(), "level=ERROR"); bad > 0 {
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
