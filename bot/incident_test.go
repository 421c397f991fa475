package bot_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
	"github.com/dayops/dayops/storage"
)

// incidentCatalog has Day-2 runbooks with incident triggers: flush-cache
// runs by itself on "cache" in inc- channels, restart-web is offered on
// "5xx|web" (two environments), page-db is offered in any channel whose name
// mentions db, and drain-node (day1) has a trigger that must never count.
func incidentCatalog(t *testing.T) *dayops.Catalog {
	t.Helper()
	re := regexp.MustCompile
	src := dayops.Source{File: "ops/x.yaml", Revision: "0123456789abcdef0123"}
	step := []dayops.Step{{Name: "Do", Kind: dayops.StepKindRun, Run: "true"}}
	defs := []*dayops.Definition{
		{Phase: dayops.Day2, Name: "flush-cache", Description: "Flush the CDN cache", Steps: step, Source: src,
			Triggers: dayops.Triggers{Incident: []dayops.IncidentTrigger{{Channel: re(`^inc-`), Match: re(`(?i)cache`), Auto: true, Cooldown: 5 * time.Minute, Budget: 3}}}},
		{Phase: dayops.Day2, Name: "restart-web", Steps: step, Source: src,
			Environments: []dayops.Environment{{Name: "staging"}, {Name: "production"}},
			Triggers:     dayops.Triggers{Incident: []dayops.IncidentTrigger{{Channel: re(`^inc-`), Match: re(`(?i)5xx|web`)}}}},
		{Phase: dayops.Day2, Name: "page-db", Steps: step, Source: src,
			Triggers: dayops.Triggers{Incident: []dayops.IncidentTrigger{{Match: re(`db`)}}}},
		{Phase: dayops.Day2, Name: "rotate-logs", Steps: step, Source: src,
			Triggers: dayops.Triggers{Incident: []dayops.IncidentTrigger{{Channel: re(`^inc-logs`)}}}},
		{Phase: dayops.Day1, Name: "drain-node", Steps: step, Source: src,
			Triggers: dayops.Triggers{Incident: []dayops.IncidentTrigger{{Channel: re(`^inc-`)}}}},
	}
	cat, err := dayops.NewCatalog("0123456789abcdef0123", defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestMatchIncident(t *testing.T) {
	cat := incidentCatalog(t)
	for _, tc := range []struct {
		name    string
		channel string
		message bool
		texts   []string
		want    map[string]bool // definition → auto
	}{
		{"a new channel: triggers without a match count", "inc-logs-full", false, []string{"inc-logs-full"}, map[string]bool{"rotate-logs": false}},
		{"the topic matches", "inc-42", false, []string{"inc-42", "web is down", ""}, map[string]bool{"restart-web": false}},
		{"the purpose matches, auto", "inc-42", false, []string{"inc-42", "", "cache poisoning"}, map[string]bool{"flush-cache": true}},
		{"a channel pattern that does not match", "ops-general", false, []string{"ops-general", "web cache"}, map[string]bool{}},
		{"no channel pattern: any channel", "db-team", false, []string{"db-team"}, map[string]bool{"page-db": false}},
		{"a message needs a match", "inc-logs-full", true, []string{"hello"}, map[string]bool{}},
		{"a message matching two", "inc-7", true, []string{"the cache of web is stale"}, map[string]bool{"flush-cache": true, "restart-web": false}},
		{"day1 never", "inc-drain", false, []string{"inc-drain"}, map[string]bool{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]bool{}
			for _, m := range bot.MatchIncident(cat, tc.channel, tc.message, tc.texts...) {
				got[m.Definition.Name] = m.Auto
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
		})
	}
	if got := bot.MatchIncident(nil, "inc-1", false, "inc-1"); got != nil {
		t.Errorf("no catalog matched %v", got)
	}
}

// incidentWorld is a bot on the incident catalog with a clock the test
// moves and a real database remembering automatic runs.
type incidentWorld struct {
	*world
	db  *storage.Store
	mu  sync.Mutex
	now time.Time
}

func newIncidentWorld(t *testing.T, policy dayops.Policy) *incidentWorld {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "dayops.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &bottest.Store{}
	w := &incidentWorld{db: db, now: time.Date(2025, 3, 1, 12, 3, 0, 0, time.UTC)}
	w.world = &world{engine: &bottest.Engine{Store: store}, store: store,
		cats: &bottest.Catalogs{Cat: incidentCatalog(t)}, door: &bottest.Door{DoorName: "test"}, bus: dayops.NewBus()}
	b, err := bot.New(bot.Options{Engine: w.engine, Store: store, Catalogs: w.cats, Policy: policy, Events: w.bus, Automation: db,
		Now: func() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	b.Register(w.door)
	w.bot = b
	t.Cleanup(func() { b.Close() })
	return w
}

func (w *incidentWorld) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

var incThread = dayops.Thread{Door: "test", Channel: "C42", Name: "inc-42", ID: "1700.1"}

// TestIncidentMessageAutoRuns: a message matching an auto trigger runs the
// runbook as trigger:incident with the channel in its context, once per
// cooldown (also across the edge of a cooldown window); other matches are
// offered with Run buttons.
func TestIncidentMessageAutoRuns(t *testing.T) {
	w := newIncidentWorld(t, bottest.Policy())
	ctx := context.Background()
	w.bot.IncidentMessage(ctx, incThread, "the cache of web is stale")
	w.bot.Wait()
	reqs := w.engine.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d runs started, want 1: %q", len(reqs), w.engine.Calls())
	}
	want := dayops.RunRequest{Definition: "flush-cache", Actor: dayops.TriggerActor(dayops.TriggerIncident), Thread: incThread,
		Trigger: dayops.TriggerIncident, Context: map[string]string{dayops.ContextIncident: "inc-42"}}
	if diff := cmp.Diff(want, reqs[0]); diff != "" {
		t.Errorf("run request (-want +got):\n%s", diff)
	}
	var offer *bot.Message
	for _, p := range w.door.Posts() {
		if strings.Contains(p.Msg.Text, "restart-web") {
			offer = &p.Msg
		}
	}
	if offer == nil {
		t.Fatalf("restart-web was not offered:\n%s", w.door.Transcript())
	}
	wantButtons := []bot.Button{
		{Label: "Run restart-web staging", Action: bot.ActionRun, Value: "restart-web|staging"},
		{Label: "Run restart-web production", Action: bot.ActionRun, Value: "restart-web|production"},
	}
	if diff := cmp.Diff(wantButtons, offer.Buttons); diff != "" {
		t.Errorf("buttons (-want +got):\n%s", diff)
	}

	// 12:03 → 12:05:30: a new window, but within the cooldown of the last run.
	w.advance(150 * time.Second)
	w.bot.IncidentMessage(ctx, incThread, "cache again")
	w.bot.Wait()
	if n := len(w.engine.Requests()); n != 1 {
		t.Fatalf("%d runs after a second message within the cooldown, want 1", n)
	}
	// The guard says so in the thread, with a Run button for people.
	var asked *bot.Message
	for _, p := range w.door.Posts() {
		if strings.HasPrefix(p.Msg.Text, "Not run automatically: flush-cache for #inc-42") {
			asked = &p.Msg
		}
	}
	if asked == nil || !strings.Contains(asked.Text, "it ran automatically for #inc-42 2m30s ago, within its cooldown of 5m0s; this trigger ran it once in the last hour") {
		t.Fatalf("the guard did not ask people:\n%s", w.door.Transcript())
	}
	if diff := cmp.Diff([]bot.Button{{Label: "Run flush-cache", Action: bot.ActionRun, Value: "flush-cache", Style: bot.StylePrimary}}, asked.Buttons); diff != "" {
		t.Errorf("buttons (-want +got):\n%s", diff)
	}
	// Another channel has its own cooldown.
	other := dayops.Thread{Door: "test", Channel: "C43", Name: "inc-43", ID: "1700.2"}
	w.bot.IncidentMessage(ctx, other, "cache")
	w.bot.Wait()
	if n := len(w.engine.Requests()); n != 2 {
		t.Fatalf("%d runs after a message in another channel, want 2", n)
	}
	// 12:13: two windows on, it runs again.
	w.advance(8 * time.Minute)
	w.bot.IncidentMessage(ctx, incThread, "cache")
	w.bot.Wait()
	if n := len(w.engine.Requests()); n != 3 {
		t.Fatalf("%d runs after the cooldown, want 3", n)
	}
	// The budget is per trigger, across channels: a fourth automatic run
	// within the hour is asked of people instead.
	w.advance(6 * time.Minute)
	w.bot.IncidentMessage(ctx, other, "cache")
	w.bot.Wait()
	if n := len(w.engine.Requests()); n != 3 {
		t.Fatalf("%d runs past the budget, want 3", n)
	}
	if tr := w.door.Transcript(); !strings.Contains(tr, "its trigger already ran it 3 times in the last hour, its budget") {
		t.Fatalf("the budget was not given as the reason:\n%s", tr)
	}
}

// TestIncidentAutoNeedsRoles: when no role lets trigger:incident run the
// runbook, it is offered instead, saying why, and nothing runs.
func TestIncidentAutoNeedsRoles(t *testing.T) {
	p := bottest.Policy()
	p.Roles = p.Roles[:2] // no automation role
	w := newIncidentWorld(t, p)
	w.bot.IncidentMessage(context.Background(), incThread, "cache")
	w.bot.Wait()
	if calls := w.engine.Calls(); len(calls) > 0 {
		t.Fatalf("engine called: %q", calls)
	}
	posts := w.door.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want the offer:\n%s", len(posts), w.door.Transcript())
	}
	m := posts[0].Msg
	if !strings.Contains(m.Text, "flush-cache") || !strings.Contains(m.Footer, "(trigger:incident) has no role that allows run day2:flush-cache") {
		t.Errorf("offer does not say why it did not run:\n%s\n%s", m.Text, m.Footer)
	}
	if diff := cmp.Diff([]bot.Button{{Label: "Run flush-cache", Action: bot.ActionRun, Value: "flush-cache", Style: bot.StylePrimary}}, m.Buttons); diff != "" {
		t.Errorf("buttons (-want +got):\n%s", diff)
	}
}

// TestIncidentChannelOpened: a new incident channel gets the runbooks its
// name, topic or purpose match; a channel nothing matches gets nothing.
func TestIncidentChannelOpened(t *testing.T) {
	w := newIncidentWorld(t, bottest.Policy())
	ch := dayops.Thread{Door: "test", Channel: "C50", Name: "inc-logs-full"}
	w.bot.IncidentChannelOpened(context.Background(), ch, bot.IncidentChannel{Name: "inc-logs-full", Topic: "web 5xx"})
	w.bot.IncidentChannelOpened(context.Background(), dayops.Thread{Door: "test", Channel: "C51", Name: "random"}, bot.IncidentChannel{Name: "random"})
	w.bot.Wait()
	posts := w.door.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1:\n%s", len(posts), w.door.Transcript())
	}
	if got := posts[0].Msg.Text; got != "Runbooks for #inc-logs-full:\n• restart-web\n• rotate-logs" {
		t.Errorf("offer %q", got)
	}
	if posts[0].Thread != ch {
		t.Errorf("posted in %v, want %v", posts[0].Thread, ch)
	}
	if calls := w.engine.Calls(); len(calls) > 0 {
		t.Errorf("a new channel started something: %q", calls)
	}
}
