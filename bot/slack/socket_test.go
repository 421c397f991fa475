package slack

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// envelope is a Socket Mode fixture with its envelope ID and payload
// changed by edit.
func envelope(t *testing.T, name, id string, edit func(payload map[string]any)) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, name), &m); err != nil {
		t.Fatal(err)
	}
	m["envelope_id"] = id
	if edit != nil {
		edit(m["payload"].(map[string]any))
	}
	return m
}

// send writes frame on the connection and, for an envelope, waits for its
// acknowledgement.
func (sc *socketConn) send(t *testing.T, frame map[string]any) {
	t.Helper()
	if err := sc.c.WriteJSON(frame); err != nil {
		t.Fatal(err)
	}
	id, _ := frame["envelope_id"].(string)
	if id == "" {
		return
	}
	select {
	case got := <-sc.acks:
		if got != id {
			t.Fatalf("acknowledged %q; want %q", got, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("envelope %s not acknowledged", id)
	}
}

func (f *fakeSlack) nextSocket(t *testing.T) *socketConn {
	t.Helper()
	select {
	case sc := <-f.sockets:
		return sc
	case <-time.After(10 * time.Second):
		t.Fatal("dayops opened no Socket Mode connection")
		return nil
	}
}

// TestSocketMode: envelopes are acknowledged at once and handled once,
// through duplicates, a disconnect and Slack's redelivery on the new
// connection.
func TestSocketMode(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.door.RunSocketMode(ctx, "xapp-test") }()

	var hello map[string]any
	_ = json.Unmarshal(fixture(t, "socket_hello.json"), &hello)
	var disconnect map[string]any
	_ = json.Unmarshal(fixture(t, "socket_disconnect.json"), &disconnect)
	command := envelope(t, "socket_slash_commands.json", "env-command", func(p map[string]any) {
		p["command"], p["text"], p["user_id"] = "/ops", "deploy web staging v1.2.0", sreUser
	})
	mention := func(id string, retry int) map[string]any {
		m := envelope(t, "socket_events_api_retry.json", id, func(p map[string]any) {
			ev := p["event"].(map[string]any)
			ev["type"], ev["text"], ev["user"] = "app_mention", "<@"+botUser+"> deploy web staging v1.3.0", devUser
			p["event_id"] = "EvSocket"
		})
		m["retry_attempt"] = retry
		return m
	}
	var click map[string]any
	_ = json.Unmarshal(fixture(t, "block_actions.json"), &click)
	click["user"].(map[string]any)["id"] = sreUser
	a := click["actions"].([]any)[0].(map[string]any)
	a["action_id"], a["value"] = ActionIDCancel, "1"
	click["trigger_id"] = "trig-socket"
	clickEnv := func(id string) map[string]any {
		return map[string]any{"envelope_id": id, "type": "interactive", "payload": click, "accepts_response_payload": false}
	}

	first := w.slack.nextSocket(t)
	first.send(t, hello)
	first.send(t, command)
	first.send(t, command) // a duplicate
	first.send(t, mention("env-mention", 0))
	first.send(t, disconnect)
	second := w.slack.nextSocket(t)
	close(first.done)
	second.send(t, hello)
	second.send(t, mention("env-mention-again", 1)) // Slack's redelivery
	// The click cancels run 1: it comes once that run exists, as a person
	// clicks a button on its message. (Envelopes are handled concurrently,
	// so a click sent at once could overtake the command that starts it.)
	deadline := time.Now().Add(10 * time.Second)
	for len(w.engine.Requests()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	second.send(t, clickEnv("env-click"))
	second.send(t, clickEnv("env-click")) // a duplicate
	second.send(t, clickEnv("env-click-2"))

	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("RunSocketMode = %v; want context.Canceled", err)
	}
	close(second.done)
	w.settle()

	reqs := w.engine.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d runs started; want 2 (the command, the mention)", len(reqs))
	}
	byActor := map[string]dayops.RunRequest{}
	for _, r := range reqs {
		byActor[r.Actor.ID] = r
	}
	cmdRun, mentionRun := byActor["slack:"+sreUser], byActor["slack:"+devUser]
	if cmdRun.Params["version"] != "v1.2.0" || mentionRun.Params["version"] != "v1.3.0" {
		t.Errorf("runs started: %+v", reqs)
	}
	cancels := 0
	for _, c := range w.engine.Calls() {
		if c == "cancel 1 slack:"+sreUser {
			cancels++
		}
	}
	if cancels != 1 {
		t.Errorf("%d cancels; want 1; calls %q", cancels, w.engine.Calls())
	}
	w.slack.mu.Lock()
	opens := w.slack.opens
	w.slack.mu.Unlock()
	if opens != 2 {
		t.Errorf("%d connections opened; want 2", opens)
	}
	if cmdRun.Thread.Door != "slack" || cmdRun.Thread.ID == "" {
		t.Errorf("the command's run has no thread: %+v", cmdRun.Thread)
	}
}

func TestSocketModeNeedsAnAppToken(t *testing.T) {
	w := newWorld(t)
	if err := w.door.RunSocketMode(context.Background(), "xoxb-bot"); dayops.KindOf(err) != dayops.KindInvalid {
		t.Errorf("RunSocketMode with a bot token = %v; want an invalid error", err)
	}
}

func TestStripQueries(t *testing.T) {
	got := stripQueries(`dial wss://wss-primary.slack.com/link/?ticket=abc-123&app_id=A1: bad handshake`)
	if want := `dial wss://wss-primary.slack.com/link/?… bad handshake`; got != want {
		t.Errorf("stripQueries = %q; want %q", got, want)
	}
}
