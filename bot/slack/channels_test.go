package slack

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot/bottest"
)

// incidentWorld is the test world with two incident runbooks: flush-cache
// runs by itself on "cache", restart-web is offered on "5xx" or "web"; the
// incident trigger may run day2 definitions. C42 is #inc-42.
func incidentWorld(t *testing.T) *world {
	t.Helper()
	re := regexp.MustCompile
	defs := bottest.Catalog(t).All()
	src := dayops.Source{File: "ops/day2/x.yaml", Revision: "0123456789abcdef0123"}
	step := []dayops.Step{{Name: "Do", Kind: dayops.StepKindRun, Run: "true"}}
	defs = append(defs,
		&dayops.Definition{Phase: dayops.Day2, Name: "flush-cache", Steps: step, Source: src,
			Triggers: dayops.Triggers{Incident: []dayops.IncidentTrigger{{Channel: re(`^inc-`), Match: re(`(?i)cache`), Auto: true, Cooldown: dayops.DefaultCooldown, Budget: dayops.DefaultBudget}}}},
		&dayops.Definition{Phase: dayops.Day2, Name: "restart-api", Steps: step, Source: src,
			Triggers: dayops.Triggers{Incident: []dayops.IncidentTrigger{{Channel: re(`^inc-`), Match: re(`(?i)5xx|api`)}}}},
	)
	cat, err := dayops.NewCatalog("0123456789abcdef0123", defs)
	if err != nil {
		t.Fatal(err)
	}
	pol := policy()
	pol.Roles = append(pol.Roles, dayops.Role{Name: "automation", Members: []string{"trigger:incident"}, Allow: []string{"day2:*"}})
	w := newWorldOf(t, filepath.Join(t.TempDir(), "dayops.db"), cat, pol)
	w.slack.channels = map[string]fakeChannel{
		"C42":       {Name: "inc-42", Topic: "api 5xx since 14:00"},
		"C024BE91L": {Name: "inc-cdn", Purpose: "stale cache everywhere"},
	}
	return w
}

// eventBody is a fixture with its event ID and event fields changed (a
// field set to nil is removed).
func eventBody(t *testing.T, name, eventID string, set map[string]any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, name), &m); err != nil {
		t.Fatal(err)
	}
	m["event_id"] = eventID
	ev := m["event"].(map[string]any)
	for k, v := range set {
		if v == nil {
			delete(ev, k)
		} else {
			ev[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// posts are the chat.postMessage calls, as "channel thread: blocks".
func posts(w *world) []call {
	var out []call
	for _, c := range w.slack.Calls() {
		if c.Method == "chat.postMessage" {
			out = append(out, c)
		}
	}
	return out
}

// TestIncidentChannelCreated: a channel created with an incident name gets
// the runbooks its name, topic or purpose match, with Run buttons, once —
// not again when dayops's own join is announced, nor for a redelivery; a
// channel of another name gets nothing. A rename to an incident name does
// what a creation does.
func TestIncidentChannelCreated(t *testing.T) {
	w := incidentWorld(t)
	created := eventBody(t, "event_channel_created.json", "EvNew", map[string]any{
		"channel": map[string]any{"id": "C024BE91L", "name": "inc-cdn", "created": 1360782804, "creator": "U024BE7LH"}})
	for range 3 {
		if rec := w.serve(signed(PathEvents, created, time.Now())); rec.Code != 200 {
			t.Fatalf("answer %d %q", rec.Code, rec.Body.String())
		}
	}
	joined := eventBody(t, "event_message.json", "EvJoined", map[string]any{
		"type": "member_joined_channel", "user": botUser, "channel": "C024BE91L", "text": nil, "blocks": nil})
	w.serve(signed(PathEvents, joined, time.Now()))
	w.serve(signed(PathEvents, string(fixture(t, "event_channel_created.json")), time.Now())) // #fun

	got := posts(w)
	if len(got) != 1 {
		t.Fatalf("%d messages posted, want 1: %s", len(got), methods(w.slack.Calls()))
	}
	if ch := got[0].Form.Get("channel"); ch != "C024BE91L" {
		t.Errorf("posted in %s", ch)
	}
	blocks := got[0].blocksText()
	for _, want := range []string{"inc-cdn", "flush-cache", `"action_id":"dayops_run"`, `"value":"flush-cache"`} {
		if !strings.Contains(blocks, want) {
			t.Errorf("the offer lacks %s: %s", want, blocks)
		}
	}
	if strings.Contains(blocks, "restart-api") {
		t.Errorf("restart-api offered though nothing of #inc-cdn matches it: %s", blocks)
	}
	if calls := w.engine.Calls(); len(calls) > 0 {
		t.Errorf("a new channel started something: %q", calls)
	}
	var joins int
	for _, c := range w.slack.Calls() {
		if c.Method == "conversations.join" {
			joins++
		}
	}
	if joins != 1 {
		t.Errorf("%d joins, want 1", joins)
	}

	// #ops-api renamed to #inc-42: its topic matches restart-api.
	renamed := eventBody(t, "event_channel_created.json", "EvRename", map[string]any{
		"type": "channel_rename", "channel": map[string]any{"id": "C42", "name": "inc-42", "created": 1360782804}})
	w.serve(signed(PathEvents, renamed, time.Now()))
	got = posts(w)
	if len(got) != 2 || got[1].Form.Get("channel") != "C42" || !strings.Contains(got[1].blocksText(), `"value":"restart-api"`) {
		t.Errorf("the rename did not offer restart-api in C42: %s", methods(w.slack.Calls()))
	}
}

// TestIncidentInvited: dayops invited into an incident channel offers its
// runbooks; someone else joining does nothing.
func TestIncidentInvited(t *testing.T) {
	w := incidentWorld(t)
	other := eventBody(t, "event_message.json", "EvOther", map[string]any{
		"type": "member_joined_channel", "user": sreUser, "channel": "C42", "text": nil, "blocks": nil})
	w.serve(signed(PathEvents, other, time.Now()))
	if got := posts(w); len(got) != 0 {
		t.Fatalf("someone else joining posted %d messages", len(got))
	}
	invited := eventBody(t, "event_message.json", "EvInvited", map[string]any{
		"type": "member_joined_channel", "user": botUser, "channel": "C42", "text": nil, "blocks": nil})
	w.serve(signed(PathEvents, invited, time.Now()))
	got := posts(w)
	if len(got) != 1 || !strings.Contains(got[0].blocksText(), `"value":"restart-api"`) {
		t.Fatalf("invitation did not offer restart-api: %s", methods(w.slack.Calls()))
	}
}

// TestIncidentMessage: a message matching an auto trigger in an incident
// channel runs its runbook as trigger:incident, once however often Slack
// delivers it and not again within the cooldown; one matching an offered
// trigger gets the offer in its thread; messages of bots, of dayops, edits
// and messages outside incident channels do nothing.
func TestIncidentMessage(t *testing.T) {
	w := incidentWorld(t)
	msg := func(id, text string) string {
		return eventBody(t, "event_message.json", id, map[string]any{"channel": "C42", "user": sreUser, "text": text, "blocks": nil})
	}
	for name, body := range map[string]string{
		"another bot":     eventBody(t, "event_message_bot.json", "EvBot", map[string]any{"channel": "C42", "text": "cache is stale"}),
		"dayops itself":   eventBody(t, "event_message.json", "EvSelf", map[string]any{"channel": "C42", "user": botUser, "text": "cache is stale"}),
		"an edit":         eventBody(t, "event_message_changed.json", "EvEdit", map[string]any{"channel": "C42", "text": "cache is stale"}),
		"a deletion":      eventBody(t, "event_message_changed.json", "EvDel", map[string]any{"channel": "C42", "subtype": "message_deleted"}),
		"another channel": eventBody(t, "event_message.json", "EvElse", map[string]any{"channel": "C111", "text": "cache is stale"}),
		"no match":        msg("EvNothing", "hello all"),
	} {
		w.serve(signed(PathEvents, body, time.Now()))
		if calls := w.engine.Calls(); len(calls) > 0 {
			t.Fatalf("%s started something: %q", name, calls)
		}
		if got := posts(w); len(got) > 0 {
			t.Fatalf("%s posted %d messages", name, len(got))
		}
	}

	body := msg("EvCache", "the cache is stale again")
	for range 3 {
		w.serve(signed(PathEvents, body, time.Now()))
	}
	w.serve(signed(PathEvents, msg("EvCache2", "still the cache"), time.Now()))
	reqs := w.engine.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d runs started, want 1: %q", len(reqs), w.engine.Calls())
	}
	want := dayops.RunRequest{Definition: "flush-cache", Actor: dayops.TriggerActor(dayops.TriggerIncident),
		Thread:  dayops.Thread{Door: "slack", Channel: "C42", Name: "inc-42", ID: "1596183880.004200"},
		Trigger: dayops.TriggerIncident, Context: map[string]string{dayops.ContextIncident: "inc-42"}}
	if diff := cmp.Diff(want, reqs[0]); diff != "" {
		t.Errorf("run request (-want +got):\n%s", diff)
	}

	before := len(posts(w))
	w.serve(signed(PathEvents, msg("Ev5xx", "api answers 5xx"), time.Now()))
	got := posts(w)
	if len(got) != before+1 {
		t.Fatalf("no offer for a 5xx message: %s", methods(w.slack.Calls()))
	}
	offer := got[len(got)-1]
	if offer.Form.Get("thread_ts") != "1596183880.004200" || !strings.Contains(offer.blocksText(), `"value":"restart-api"`) {
		t.Errorf("offer not in the message's thread or without its button: %s %s", offer.Form.Get("thread_ts"), offer.blocksText())
	}
	if n := len(w.engine.Requests()); n != 1 {
		t.Errorf("an offered runbook ran: %d runs", n)
	}
}
