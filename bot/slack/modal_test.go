package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// viewCalls are the views.open and views.update calls made so far.
func (w *world) viewCalls() []call {
	var out []call
	for _, c := range w.slack.Calls() {
		if strings.HasPrefix(c.Method, "views.") {
			out = append(out, c)
		}
	}
	return out
}

// modalView is the part of a view dayops draws that the tests read.
type modalView struct {
	CallbackID      string `json:"callback_id"`
	PrivateMetadata string `json:"private_metadata"`
	Blocks          []struct {
		Type    string `json:"type"`
		BlockID string `json:"block_id"`
		Hint    *struct {
			Text string `json:"text"`
		} `json:"hint"`
		Optional bool `json:"optional"`
		Text     *struct {
			Text string `json:"text"`
		} `json:"text"`
		Element *struct {
			Type         string `json:"type"`
			InitialValue string `json:"initial_value"`
			Options      []struct {
				Value string `json:"value"`
			} `json:"options"`
		} `json:"element"`
	} `json:"blocks"`
}

func viewOf(t *testing.T, c call) modalView {
	t.Helper()
	var v modalView
	if err := json.Unmarshal([]byte(c.Form.Get("view")), &v); err != nil {
		t.Fatalf("%s view: %v", c.Method, err)
	}
	return v
}

// submission is the view_submission form Slack posts when user submits the
// view v (its ID viewID) with values by field name, built on the
// block_actions fixture (the same user, team and token fields).
func submission(t *testing.T, user, viewID string, v modalView, values map[string]string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, "block_actions.json"), &m); err != nil {
		t.Fatal(err)
	}
	m["type"] = "view_submission"
	m["user"].(map[string]any)["id"] = user
	delete(m, "actions")
	delete(m, "container")
	delete(m, "channel")
	delete(m, "response_url")
	state := map[string]any{}
	for _, b := range v.Blocks {
		name, ok := strings.CutPrefix(b.BlockID, fieldBlockPrefix)
		if b.Type != "input" || !ok {
			continue
		}
		val, given := values[name]
		if !given {
			continue
		}
		var action map[string]any
		switch b.Element.Type {
		case "static_select":
			action = map[string]any{"type": "static_select", "selected_option": map[string]any{"value": val}}
		case "checkboxes":
			sel := []any{}
			if val == "true" {
				sel = append(sel, map[string]any{"value": "true"})
			}
			action = map[string]any{"type": "checkboxes", "selected_options": sel}
		default:
			action = map[string]any{"type": "plain_text_input", "value": val}
		}
		state[b.BlockID] = map[string]any{fieldActionID: action}
	}
	m["view"] = map[string]any{"id": viewID, "type": "modal", "callback_id": v.CallbackID,
		"private_metadata": v.PrivateMetadata, "state": map[string]any{"values": state}}
	b, _ := json.Marshal(m)
	return url.Values{"payload": {string(b)}}.Encode()
}

// TestSlashCommandMissingVersionOpensAForm: /ops deploy web staging without
// its required version opens a modal at once, filled in with the version
// field; a bad version is refused on its field and starts nothing; a good
// one starts the run in the channel, in a thread of its own.
func TestSlashCommandMissingVersionOpensAForm(t *testing.T) {
	w := newWorld(t)
	form := commandForm(t, sreUser, "deploy web staging")
	trigger, _ := url.ParseQuery(form)
	rec := w.serve(signed(PathCommands, form, time.Now()))
	if rec.Code != http.StatusOK {
		t.Fatalf("command answered %d", rec.Code)
	}
	views := w.viewCalls()
	if len(views) != 2 || views[0].Method != "views.open" || views[1].Method != "views.update" {
		t.Fatalf("view calls %s; want views.open then views.update", methods(views))
	}
	if got := views[0].Form.Get("trigger_id"); got != trigger.Get("trigger_id") {
		t.Errorf("opened with trigger %q, want the command's %q", got, trigger.Get("trigger_id"))
	}
	if !strings.Contains(views[0].Form.Get("view"), loadingText) {
		t.Errorf("first view is not the loading one: %s", views[0].Form.Get("view"))
	}
	if views[1].Form.Get("view_id") != views[0].TS {
		t.Errorf("updated view %q, want the one opened, %q", views[1].Form.Get("view_id"), views[0].TS)
	}
	v := viewOf(t, views[1])
	var field string
	for _, b := range v.Blocks {
		if b.Type == "input" {
			field = b.BlockID + " " + b.Element.Type + " hint=" + b.Hint.Text
			if b.Optional {
				field += " optional"
			}
		}
	}
	if want := "f.version plain_text_input hint=Image tag"; field != want || v.CallbackID != formCallbackID {
		t.Errorf("form field %q (callback %q), want %q", field, v.CallbackID, want)
	}
	if n := len(w.engine.Requests()); n != 0 || len(w.slack.Calls()) != 2 {
		t.Fatalf("before the submission: %d runs, calls %s", n, methods(w.slack.Calls()))
	}

	// A version that does not match the pattern: the error is on its field.
	rec = w.serve(signed(PathInteractions, submission(t, sreUser, views[0].TS, v, map[string]string{"version": "latest"}), time.Now()))
	var answer struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatalf("answer %d %q: %v", rec.Code, rec.Body.String(), err)
	}
	want := map[string]string{"f.version": `"latest" does not match the pattern ^v\d+\.\d+\.\d+$`}
	if diff := cmp.Diff(want, answer.Errors); diff != "" || answer.ResponseAction != "errors" {
		t.Errorf("answer %q errors (-want +got):\n%s", answer.ResponseAction, diff)
	}
	if n := len(w.engine.Requests()); n != 0 {
		t.Fatalf("a bad version started %d runs", n)
	}

	// A good one: the modal closes (an empty 200) and the run starts, twice
	// submitted or not.
	good := submission(t, sreUser, views[0].TS, v, map[string]string{"version": "v1.2.0"})
	rec = w.serve(signed(PathInteractions, good, time.Now()))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("good submission answered %d %q; want an empty 200", rec.Code, rec.Body.String())
	}
	w.serve(signed(PathInteractions, good, time.Now()))
	reqs := w.engine.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d runs started", len(reqs))
	}
	r := reqs[0]
	if r.Definition != "deploy-web" || r.Environment != "staging" || r.Params["version"] != "v1.2.0" || r.Actor.ID != "slack:"+sreUser {
		t.Errorf("run %+v", r)
	}
	calls := w.slack.Calls()
	var root call
	for _, c := range calls {
		if c.Method == "chat.postMessage" && c.Form.Get("thread_ts") == "" {
			root = c
		}
	}
	if !strings.Contains(root.Form.Get("text"), "asked: `/ops run deploy-web staging version=v1.2.0`") || root.Form.Get("channel") != "C111" {
		t.Errorf("root message %v", root.Form)
	}
	if r.Thread.ID != root.TS || r.Thread.Channel != "C111" || w.runTS() == "" {
		t.Errorf("run reported in %v; want the root message's thread %s", r.Thread, root.TS)
	}
}

// TestRunButtonOpensAFormAndRuns: a Run button on a suggested runbook opens
// its form at once; its submission runs it as the clicker, by button.
func TestRunButtonOpensAFormAndRuns(t *testing.T) {
	w := newWorld(t)
	w.serve(signed(PathInteractions, clickForm(t, sreUser, ActionIDRun, "restart-web", "trig-run-1", "", ""), time.Now()))
	views := w.viewCalls()
	if len(views) != 2 || views[0].Form.Get("trigger_id") != "trig-run-1" {
		t.Fatalf("view calls %s", methods(views))
	}
	v := viewOf(t, views[1])
	var env []string
	for _, b := range v.Blocks {
		if b.BlockID == fieldBlockPrefix+"dayops.environment" {
			for _, o := range b.Element.Options {
				env = append(env, o.Value)
			}
		}
	}
	if diff := cmp.Diff([]string{"staging", "production"}, env); diff != "" {
		t.Fatalf("environment choices (-want +got):\n%s\n%s", diff, views[1].Form.Get("view"))
	}
	w.serve(signed(PathInteractions, submission(t, sreUser2, views[0].TS, v, map[string]string{"dayops.environment": "production"}), time.Now()))
	reqs := w.engine.Requests()
	if len(reqs) != 1 || reqs[0].Definition != "restart-web" || reqs[0].Environment != "production" ||
		reqs[0].Trigger != dayops.TriggerButton || reqs[0].Actor.ID != "slack:"+sreUser2 || reqs[0].Thread.ID != "111.222" {
		t.Fatalf("runs %+v", reqs)
	}
}

// TestStaleRunButtonAnswersInTheModal: a Run button of a runbook gone says
// so in the modal it opened, and starts nothing.
func TestStaleRunButtonAnswersInTheModal(t *testing.T) {
	w := newWorld(t)
	w.serve(signed(PathInteractions, clickForm(t, sreUser, ActionIDRun, "restart-api|staging", "trig-run-2", "", ""), time.Now()))
	views := w.viewCalls()
	if len(views) != 2 || !strings.Contains(views[1].Form.Get("view"), `this Run button no longer applies: no definition \"restart-api\"`) {
		t.Fatalf("view calls %s: %v", methods(views), views)
	}
	if n := len(w.engine.Requests()); n != 0 {
		t.Errorf("%d runs started", n)
	}
}

// TestRetryButtonOnAFailedRun: a failed run's message offers Retry; a click
// starts the same run again as the clicker, once however often clicked.
func TestRetryButtonOnAFailedRun(t *testing.T) {
	w := newWorld(t)
	w.serve(signed(PathCommands, commandForm(t, sreUser, "deploy web staging v1.2.0"), time.Now()))
	w.store.Update(1, func(r *dayops.Run) { r.State = dayops.RunFailed })
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: &dayops.Run{ID: 1}})
	w.settle()
	calls := w.slack.Calls()
	last := calls[len(calls)-1]
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Method == "chat.update" {
			last = calls[i]
			break
		}
	}
	if !strings.Contains(last.Form.Get("blocks"), `"action_id":"dayops_retry"`) {
		t.Fatalf("the failed run's message has no Retry button: %s", last.Form.Get("blocks"))
	}
	runTS := w.runTS()
	for range 2 {
		w.serve(signed(PathInteractions, clickForm(t, sreUser2, ActionIDRetry, "1", "trig-retry", runTS, runTS), time.Now()))
	}
	reqs := w.engine.Requests()
	if len(reqs) != 2 || reqs[1].Actor.ID != "slack:"+sreUser2 || reqs[1].Params["version"] != "v1.2.0" || reqs[1].Trigger != dayops.TriggerButton {
		t.Fatalf("runs %+v", reqs)
	}
}

// TestDeployEndBroadcast: when a deploy ends, one line goes to the whole
// channel from the run's thread (reply_broadcast), once.
func TestDeployEndBroadcast(t *testing.T) {
	w := newWorld(t)
	w.serve(signed(PathCommands, commandForm(t, sreUser, "deploy web staging v1.2.0"), time.Now()))
	for range 2 {
		w.store.Update(1, func(r *dayops.Run) { r.State = dayops.RunSucceeded })
		w.bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: &dayops.Run{ID: 1}})
		w.settle()
	}
	var got []string
	for _, c := range w.slack.Calls() {
		if c.Form.Get("reply_broadcast") == "true" {
			got = append(got, c.Method+" "+c.Form.Get("thread_ts")+" "+c.Form.Get("text"))
		}
	}
	want := []string{"chat.postMessage " + w.runThread() + " deploy-web to staging v1.2.0 succeeded (run #1)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("broadcasts (-want +got):\n%s", diff)
	}
}

// runThread is the thread the run's message was posted in.
func (w *world) runThread() string {
	for _, c := range w.slack.Calls() {
		if c.Method == "chat.postMessage" && c.Form.Get("thread_ts") != "" {
			return c.Form.Get("thread_ts")
		}
	}
	return ""
}

// TestSocketModeForm: over Socket Mode, a slash command missing its
// version opens the form; a bad version's errors come back in the
// envelope's acknowledgement, and a good one runs.
func TestSocketModeForm(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.door.RunSocketMode(ctx, "xapp-test") }()
	var hello map[string]any
	_ = json.Unmarshal(fixture(t, "socket_hello.json"), &hello)
	sc := w.slack.nextSocket(t)
	sc.send(t, hello)
	sc.send(t, envelope(t, "socket_slash_commands.json", "env-form-command", func(p map[string]any) {
		p["command"], p["text"], p["user_id"], p["trigger_id"] = "/ops", "deploy web staging", sreUser, "trig-socket-form"
	}))
	w.door.work.Wait()
	views := w.viewCalls()
	if len(views) != 2 || views[0].Form.Get("trigger_id") != "trig-socket-form" {
		t.Fatalf("view calls %s", methods(views))
	}
	v := viewOf(t, views[1])
	submit := func(id, version string) {
		var m map[string]any
		_ = json.Unmarshal(fixture(t, "socket_interactive_shortcut.json"), &m)
		var p map[string]any
		q, _ := url.ParseQuery(submission(t, sreUser, views[0].TS, v, map[string]string{"version": version}))
		_ = json.Unmarshal([]byte(q.Get("payload")), &p)
		m["envelope_id"], m["payload"], m["accepts_response_payload"] = id, p, true
		sc.send(t, m)
	}
	submit("env-bad", "1.2")
	answer, _ := sc.answers.Load("env-bad")
	var got struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(answer.(json.RawMessage), &got); err != nil || got.ResponseAction != "errors" ||
		got.Errors["f.version"] != `"1.2" does not match the pattern ^v\d+\.\d+\.\d+$` {
		t.Errorf("bad version acknowledged with %s (%v)", answer, err)
	}
	w.door.work.Wait()
	if n := len(w.engine.Requests()); n != 0 {
		t.Fatalf("a bad version started %d runs", n)
	}
	submit("env-good", "v1.4.2")
	cancel()
	<-done
	close(sc.done)
	w.settle()
	reqs := w.engine.Requests()
	if len(reqs) != 1 || reqs[0].Params["version"] != "v1.4.2" || reqs[0].Thread.ID == "" {
		t.Fatalf("runs %+v", reqs)
	}
}

// TestFormRefusedShownInTheModal: someone without a role who leaves out the
// version gets the refusal in the modal that opened, and nothing runs.
func TestFormRefusedShownInTheModal(t *testing.T) {
	w := newWorld(t)
	w.serve(signed(PathCommands, commandForm(t, strangerU, "deploy web staging"), time.Now()))
	views := w.viewCalls()
	if len(views) != 2 || !strings.Contains(views[1].Form.Get("view"), "has no role in dayops") {
		t.Fatalf("view calls %s: %+v", methods(views), views)
	}
	if n := len(w.engine.Requests()); n != 0 || len(w.slack.Calls()) != 2 {
		t.Errorf("%d runs; calls %s", n, methods(w.slack.Calls()))
	}
}

func TestFormView(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("c%d", i)
		}
		return out
	}
	fields := func(n int) []bot.FormField {
		out := make([]bot.FormField, n)
		for i := range out {
			out[i] = bot.FormField{Name: fmt.Sprintf("p%d", i), Label: "p", Kind: bot.FieldText}
		}
		return out
	}
	tests := []struct {
		name    string
		form    bot.Form
		want    string // in the view's JSON
		wantErr string
	}{
		{name: "each kind", form: bot.Form{Definition: "a-very-long-definition-name", Title: "x", Fields: []bot.FormField{
			{Name: "tier", Label: "tier", Kind: bot.FieldChoice, Choices: []string{"small", "large"}, Initial: "large", Required: true},
			{Name: "dry", Label: "dry", Kind: bot.FieldBool, Initial: "true"},
			{Name: "tag", Label: "tag", Hint: "Image tag", Kind: bot.FieldText, Initial: "v1"},
		}}, want: `"title":{"type":"plain_text","text":"Run a-very-long-defin…"` +
			`|"block_id":"f.tier","label":{"type":"plain_text","text":"tier","emoji":false},"element":{"type":"static_select"` +
			`|"initial_option":{"text":{"type":"plain_text","text":"large","emoji":false},"value":"large"}}}` +
			`|"initial_options":[{"text":{"type":"plain_text","text":"yes","emoji":false},"value":"true"}]},"optional":true` +
			`|"initial_value":"v1","max_length":1024},"hint":{"type":"plain_text","text":"Image tag","emoji":false},"optional":true`},
		{name: "100 choices fit", form: bot.Form{Definition: "d", Fields: []bot.FormField{{Name: "c", Label: "c", Kind: bot.FieldChoice, Choices: many(100)}}},
			want: `"value":"c99"`},
		{name: "101 choices do not", form: bot.Form{Definition: "d", Fields: []bot.FormField{{Name: "c", Label: "c", Kind: bot.FieldChoice, Choices: many(101)}}},
			wantErr: "c has 101 choices; a Slack select holds 100"},
		{name: "99 fields fit", form: bot.Form{Definition: "d", Fields: fields(99)}, want: `"block_id":"f.p98"`},
		{name: "100 fields do not", form: bot.Form{Definition: "d", Fields: fields(100)}, wantErr: "form of d has 100 fields; a Slack modal holds 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := formView(tt.form, dayops.Thread{Channel: "C1", ID: "1.2"})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(v)
			for _, want := range strings.Split(tt.want, "|") {
				if !strings.Contains(string(b), want) {
					t.Errorf("view lacks %s:\n%s", want, b)
				}
			}
			if n := len(v.Blocks.BlockSet); n > maxModalBlocks {
				t.Errorf("%d blocks", n)
			}
		})
	}
}
