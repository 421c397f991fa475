package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops/internal/testkit/fixtures"
)

// recordView records a views.open or views.update, which slack-go posts as
// JSON: the call's form holds "trigger_id", "view_id" and the "view".
func (f *recordingSlack) recordView(method string) http.HandlerFunc {
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
		f.calls = append(f.calls, slackCall{method, url.Values{"trigger_id": {req.TriggerID}, "view_id": {req.ViewID}, "view": {string(req.View)}}})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true,"view":{"id":"V1","type":"modal"}}`)
	}
}

// TestServeSlackFormEndToEnd: from `dayops serve`, a slash command missing
// the required version opens a modal (views.open at once, then the form),
// a submission with a bad version gets the error on its field and runs
// nothing, and a good one runs the deploy, whose end is broadcast to the
// channel.
func TestServeSlackFormEndToEnd(t *testing.T) {
	fake := newRecordingSlack(t)
	w := newSlackServeWorldOf(t, fake, map[string]string{"ops/deploy-web.yaml": deployWebStaging}, slackSRE)
	d := w.start(t)

	form, err := url.ParseQuery(strings.TrimSpace(string(fixtures.Read(t, "slack", "slash_command.form"))))
	if err != nil {
		t.Fatal(err)
	}
	form.Set("command", commandsPrefix)
	form.Set("text", "deploy web staging")
	if code := postSigned(t, d, "/slack/commands", form.Encode()); code != http.StatusOK {
		t.Fatalf("slash command: %d", code)
	}
	var view map[string]any
	eventually(t, 10*time.Second, "the form", func() bool {
		for _, c := range fake.Calls() {
			if c.method == "views.update" {
				return json.Unmarshal([]byte(c.form.Get("view")), &view) == nil
			}
		}
		return false
	})
	if c := fake.Calls()[0]; c.method != "views.open" || c.form.Get("trigger_id") != form.Get("trigger_id") {
		t.Fatalf("first call %s %v; want views.open with the command's trigger", c.method, c.form)
	}
	submit := func(version string) *http.Response {
		p := map[string]any{"type": "view_submission", "user": map[string]any{"id": "W111", "name": "sre"}, "trigger_id": "t2",
			"view": map[string]any{"id": "V1", "callback_id": view["callback_id"], "private_metadata": view["private_metadata"],
				"state": map[string]any{"values": map[string]any{"f.version": map[string]any{"value": map[string]any{"type": "plain_text_input", "value": version}}}}}}
		b, _ := json.Marshal(p)
		return signedPost(t, d, "/slack/interactions", url.Values{"payload": {string(b)}}.Encode())
	}
	resp := submit("latest")
	var answer struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || answer.ResponseAction != "errors" ||
		!strings.Contains(answer.Errors["f.version"], "does not match the pattern") {
		t.Fatalf("bad version answered %+v (%v)", answer, err)
	}
	resp.Body.Close()
	resp = submit("v1.2.0")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("good submission: %d", resp.StatusCode)
	}
	eventually(t, 30*time.Second, "the deploy's end broadcast", func() bool {
		for _, c := range fake.Calls() {
			if c.form.Get("reply_broadcast") == "true" && strings.HasPrefix(c.form.Get("text"), "deploy-web to staging v1.2.0 succeeded (run #1") {
				return true
			}
		}
		return false
	})
	n := 0
	for _, c := range fake.Calls() {
		if c.method == "chat.postMessage" && strings.Contains(c.form.Get("text"), "asked:") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d root messages; want one, for the valid submission; calls %+v", n, fake.Calls())
	}
	if bad := strings.Count(d.logs.String(), `"level":"ERROR"`); bad > 0 {
		t.Errorf("%d errors logged:\n%s", bad, d.logs.String())
	}
}
