package bot_test

import (
	"context"
	"fmt"
	"path/filepath"
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

var alertNotify = dayops.Thread{Door: "test", Channel: "C-OPS", Name: "ops"}

// alertCatalog: restart-api runs by itself on HighErrorRate of service api
// (cooldown 10m, budget 2, with an instance parameter), diagnose-api is
// offered on it, and restart-db (day1) must never count.
func alertCatalog(t *testing.T) *dayops.Catalog {
	t.Helper()
	src := dayops.Source{File: "ops/x.yaml", Revision: "0123456789abcdef0123"}
	step := []dayops.Step{{Name: "Do", Kind: dayops.StepKindRun, Run: "true"}}
	auto := dayops.AlertTrigger{AlertName: "HighErrorRate", Labels: map[string]string{"service": "api"}, Auto: true,
		Cooldown: 10 * time.Minute, Budget: 2}
	defs := []*dayops.Definition{
		{Phase: dayops.Day2, Name: "restart-api", Steps: step, Source: src,
			Params:   []dayops.Param{{Name: "instance", Type: dayops.ParamString}, {Name: "cluster", Type: dayops.ParamString}},
			Triggers: dayops.Triggers{Alert: []dayops.AlertTrigger{{AlertName: "Other"}, auto}}},
		{Phase: dayops.Day2, Name: "diagnose-api", Steps: step, Source: src,
			Triggers: dayops.Triggers{Alert: []dayops.AlertTrigger{{AlertName: "HighErrorRate"}}}},
		{Phase: dayops.Day1, Name: "restart-db", Steps: step, Source: src,
			Triggers: dayops.Triggers{Alert: []dayops.AlertTrigger{{AlertName: "HighErrorRate", Auto: true}}}},
	}
	cat, err := dayops.NewCatalog("0123456789abcdef0123", defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func newAlertWorld(t *testing.T) *incidentWorld {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "dayops.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &bottest.Store{}
	w := &incidentWorld{db: db, now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	w.world = &world{engine: &bottest.Engine{Store: store}, store: store,
		cats: &bottest.Catalogs{Cat: alertCatalog(t)}, door: &bottest.Door{DoorName: "test"}, bus: dayops.NewBus()}
	b, err := bot.New(bot.Options{Engine: w.engine, Store: store, Catalogs: w.cats, Policy: bottest.Policy(), Events: w.bus,
		Automation: db, NotifyThread: alertNotify,
		Now: func() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	b.Register(w.door)
	w.bot = b
	t.Cleanup(func() { b.Close() })
	return w
}

// notice is a notification of group "api" with one alert per instance,
// all started at start.
func notice(status string, start time.Time, instances ...string) bot.AlertNotice {
	n := bot.AlertNotice{Receiver: "dayops", Status: status, GroupKey: `{}:{service="api"}`,
		GroupLabels:       map[string]string{"service": "api"},
		CommonLabels:      map[string]string{"alertname": "HighErrorRate", "service": "api", "cluster": "eu-1"},
		CommonAnnotations: map[string]string{"summary": "5xx above 5%"}}
	for _, in := range instances {
		n.Alerts = append(n.Alerts, bot.Alert{Status: status, StartsAt: start, Fingerprint: "fp-" + in,
			Labels: map[string]string{"alertname": "HighErrorRate", "service": "api", "cluster": "eu-1", "instance": in}})
	}
	if len(instances) == 1 {
		n.CommonLabels["instance"] = instances[0]
	}
	return n
}

func TestMatchAlert(t *testing.T) {
	cat := alertCatalog(t)
	fire := func(labels map[string]string) []bot.Alert {
		return []bot.Alert{{Status: bot.AlertFiring, Labels: labels}}
	}
	for _, tc := range []struct {
		name   string
		alerts []bot.Alert
		want   []string // definition:trigger:auto
	}{
		{"name and labels", fire(map[string]string{"alertname": "HighErrorRate", "service": "api", "x": "y"}),
			[]string{"diagnose-api:0:false", "restart-api:1:true"}},
		{"a label differs", fire(map[string]string{"alertname": "HighErrorRate", "service": "web"}), []string{"diagnose-api:0:false"}},
		{"another alert", fire(map[string]string{"alertname": "Other"}), []string{"restart-api:0:false"}},
		{"resolved alerts never match", []bot.Alert{{Status: bot.AlertResolved, Labels: map[string]string{"alertname": "Other"}}}, nil},
		{"no alerts", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range bot.MatchAlert(cat, tc.alerts) {
				got = append(got, m.Definition.Name+":"+string(rune('0'+m.Trigger))+":"+map[bool]string{true: "true", false: "false"}[m.Auto])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAlertGroupRunsOnce: two alerts of one group start one run, in a
// thread of its own in the notify channel, with the labels a parameter
// names as parameters; the same group firing again starts nothing; the
// group resolved is noted in its thread, and its run, still waiting, is
// cancelled.
func TestAlertGroupRunsOnce(t *testing.T) {
	w := newAlertWorld(t)
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 11, 58, 0, 0, time.UTC)
	if err := w.bot.Alert(ctx, notice(bot.AlertFiring, start, "web-1", "web-2")); err != nil {
		t.Fatal(err)
	}
	w.bot.Wait()
	reqs := w.engine.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d runs, want 1: %q", len(reqs), w.engine.Calls())
	}
	posts := w.door.Posts()
	if len(posts) == 0 || posts[0].Msg.Text != "Alert firing: HighErrorRate (2 alerts) — service=api" || posts[0].Thread != alertNotify {
		t.Fatalf("the alert's thread was not opened in the notify channel:\n%s", w.door.Transcript())
	}
	thread := alertNotify
	thread.ID = posts[0].ID
	want := dayops.RunRequest{Definition: "restart-api", Params: map[string]string{"cluster": "eu-1"},
		Actor: dayops.TriggerActor(dayops.TriggerAlert), Thread: thread, Trigger: dayops.TriggerAlert,
		Context: map[string]string{dayops.ContextAlertName: "HighErrorRate", "alert.label.alertname": "HighErrorRate",
			"alert.label.service": "api", "alert.label.cluster": "eu-1"}}
	if diff := cmp.Diff(want, reqs[0]); diff != "" {
		t.Errorf("run request (-want +got):\n%s", diff)
	}
	if tr := w.door.Transcript(); !strings.Contains(tr, "Runbooks for this alert:") || !strings.Contains(tr, "diagnose-api") {
		t.Errorf("diagnose-api was not offered:\n%s", tr)
	}

	// Alertmanager repeats the group, then adds a third alert to it: nothing new.
	for _, n := range []bot.AlertNotice{notice(bot.AlertFiring, start, "web-1", "web-2"), notice(bot.AlertFiring, start, "web-1", "web-2", "web-3")} {
		if err := w.bot.Alert(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	w.bot.Wait()
	if n := len(w.engine.Requests()); n != 1 || len(w.door.Posts()) != len(posts) {
		t.Fatalf("the group firing again started %d runs and posted %d messages", n, len(w.door.Posts())-len(posts))
	}

	// The run waits for approval; the group resolves: the run is cancelled and the thread told.
	runs, _ := w.store.Runs(ctx, dayops.RunFilter{})
	w.store.Update(runs[0].ID, func(r *dayops.Run) { r.State = dayops.RunAwaitingApproval })
	if err := w.bot.Alert(ctx, notice(bot.AlertResolved, start, "web-1", "web-2", "web-3")); err != nil {
		t.Fatal(err)
	}
	w.bot.Wait()
	got, _ := w.store.Run(ctx, runs[0].ID)
	if got.State != dayops.RunCancelled || got.Reason != "the alert HighErrorRate resolved before the run started" {
		t.Errorf("run of the resolved group: %s %q", got.State, got.Reason)
	}
	var last bottest.Posted
	for _, p := range w.door.Posts() {
		if strings.HasPrefix(p.Msg.Text, "Alert resolved") {
			last = p
		}
	}
	if last.Thread.ID != thread.ID || !strings.HasPrefix(last.Msg.Text, "Alert resolved: HighErrorRate — run ") || !strings.Contains(last.Msg.Text, "had not started and is cancelled") {
		t.Errorf("resolution not noted in the thread: %+v", last)
	}
	// Resolved twice: said once.
	n := len(w.door.Posts())
	if err := w.bot.Alert(ctx, notice(bot.AlertResolved, start, "web-1")); err != nil {
		t.Fatal(err)
	}
	w.bot.Wait()
	if len(w.door.Posts()) != n {
		t.Errorf("a second resolution posted again:\n%s", w.door.Transcript())
	}
}

// TestAlertResolvedLeavesARunningRun: a run that has started goes on when
// its group resolves, and the thread says so.
func TestAlertResolvedLeavesARunningRun(t *testing.T) {
	w := newAlertWorld(t)
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 11, 58, 0, 0, time.UTC)
	if err := w.bot.Alert(ctx, notice(bot.AlertFiring, start, "web-1")); err != nil {
		t.Fatal(err)
	}
	w.bot.Wait()
	runs, _ := w.store.Runs(ctx, dayops.RunFilter{})
	if len(runs) != 1 || runs[0].Params["instance"] != "web-1" {
		t.Fatalf("runs: %+v", runs)
	}
	w.store.Update(runs[0].ID, func(r *dayops.Run) {
		r.State = dayops.RunRunning
		r.Steps[0].State = dayops.StepRunning
	})
	if err := w.bot.Alert(ctx, notice(bot.AlertResolved, start, "web-1")); err != nil {
		t.Fatal(err)
	}
	w.bot.Wait()
	if got, _ := w.store.Run(ctx, runs[0].ID); got.State != dayops.RunRunning {
		t.Errorf("a running run was touched: %s", got.State)
	}
	if tr := w.door.Transcript(); !strings.Contains(tr, "has started and goes on") {
		t.Errorf("the thread was not told the run goes on:\n%s", tr)
	}
}

// TestAlertResolvedHandsTheRunOn: when the run of a resolved alert is
// driven by another replica, the engine hands the withdraw on to it; the
// thread says that replica cancels it if it has not started, never that
// it goes on.
func TestAlertResolvedHandsTheRunOn(t *testing.T) {
	w := newAlertWorld(t)
	w.engine.HandOn = true
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 11, 58, 0, 0, time.UTC)
	if err := w.bot.Alert(ctx, notice(bot.AlertFiring, start, "web-1")); err != nil {
		t.Fatal(err)
	}
	w.bot.Wait()
	runs, _ := w.store.Runs(ctx, dayops.RunFilter{})
	if len(runs) != 1 {
		t.Fatalf("runs: %+v", runs)
	}
	w.store.Update(runs[0].ID, func(r *dayops.Run) { r.State = dayops.RunQueued })
	if err := w.bot.Alert(ctx, notice(bot.AlertResolved, start, "web-1")); err != nil {
		t.Fatal(err)
	}
	w.bot.Wait()
	tr := w.door.Transcript()
	if want := fmt.Sprintf("run %d is driven by another dayops replica, which cancels it if it still has not started", runs[0].ID); !strings.Contains(tr, want) {
		t.Errorf("the thread was not told %q:\n%s", want, tr)
	}
	if strings.Contains(tr, "goes on") {
		t.Errorf("the thread says a run handed on goes on:\n%s", tr)
	}
}

// TestAlertFlapGuard: an alert that keeps resolving and firing again with
// new start times runs its runbook only outside the cooldown and up to the
// budget; then people are asked, with a Run button, and nothing runs.
func TestAlertFlapGuard(t *testing.T) {
	w := newAlertWorld(t)
	ctx := context.Background()
	flap := func(i int) {
		t.Helper()
		start := w.bot.Now().Add(-time.Minute)
		if err := w.bot.Alert(ctx, notice(bot.AlertFiring, start, "web-1")); err != nil {
			t.Fatal(err)
		}
		w.advance(time.Minute)
		if err := w.bot.Alert(ctx, notice(bot.AlertResolved, start, "web-1")); err != nil {
			t.Fatal(err)
		}
		w.bot.Wait()
	}
	flap(0) // runs
	w.advance(3 * time.Minute)
	flap(1) // within the cooldown: asked
	if n := len(w.engine.Requests()); n != 1 {
		t.Fatalf("%d runs after a flap within the cooldown, want 1", n)
	}
	if tr := w.door.Transcript(); !strings.Contains(tr, "Not run automatically: restart-api for service=api — it ran automatically for service=api 4m0s ago, within its cooldown of 10m0s; this trigger ran it once in the last hour (budget 2 an hour, cooldown 10m0s)") {
		t.Fatalf("the guard did not ask people:\n%s", tr)
	}
	w.advance(10 * time.Minute)
	flap(2) // runs: the second in the hour
	w.advance(11 * time.Minute)
	flap(3) // budget spent
	if n := len(w.engine.Requests()); n != 2 {
		t.Fatalf("%d runs after the budget, want 2", n)
	}
	var asked *bot.Message
	for _, p := range w.door.Posts() {
		if strings.Contains(p.Msg.Text, "its trigger already ran it 2 times in the last hour, its budget") {
			asked = &p.Msg
		}
	}
	if asked == nil {
		t.Fatalf("no request to people past the budget:\n%s", w.door.Transcript())
	}
	if diff := cmp.Diff([]bot.Button{{Label: "Run restart-api", Action: bot.ActionRun, Value: "restart-api", Style: bot.StylePrimary}}, asked.Buttons); diff != "" {
		t.Errorf("buttons (-want +got):\n%s", diff)
	}
	// Each trip is audited as trigger:alert's refusal.
	var refusals []string
	for _, ev := range w.store.Audits() {
		if ev.Action == "guard" {
			refusals = append(refusals, ev.Actor+" "+ev.Target+": "+ev.Reason)
		}
	}
	want := []string{
		"trigger:alert restart-api service=api: remediation guard: it ran automatically for service=api 4m0s ago, within its cooldown of 10m0s",
		"trigger:alert restart-api service=api: remediation guard: its trigger already ran it 2 times in the last hour, its budget",
	}
	if diff := cmp.Diff(want, refusals); diff != "" {
		t.Errorf("audited refusals (-want +got):\n%s", diff)
	}
}

// TestAlertIncidentChannelLabel: the incident_channel label answers the
// group in that channel, where channel rules apply.
func TestAlertIncidentChannelLabel(t *testing.T) {
	w := newAlertWorld(t)
	n := notice(bot.AlertFiring, time.Date(2025, 3, 1, 11, 58, 0, 0, time.UTC), "web-1")
	n.CommonLabels[bot.LabelIncidentChannel] = "inc-77"
	if err := w.bot.Alert(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	w.bot.Wait()
	reqs := w.engine.Requests()
	if len(reqs) != 1 || reqs[0].Thread.Channel != "inc-77" || reqs[0].Thread.Name != "inc-77" || reqs[0].Thread.ID == "" {
		t.Fatalf("run requests: %+v", reqs)
	}
}

// TestAlertNeedsAStore: without a database an alert is refused as
// unavailable (the door answers 503 and Alertmanager retries), and with
// no group key as invalid.
func TestAlertNeedsAStore(t *testing.T) {
	w := newWorld(t)
	err := w.bot.Alert(context.Background(), notice(bot.AlertFiring, time.Now(), "web-1"))
	if dayops.KindOf(err) != dayops.KindUnavailable {
		t.Errorf("without a store: %v", err)
	}
	if err := w.bot.Alert(context.Background(), bot.AlertNotice{Status: bot.AlertFiring}); dayops.KindOf(err) != dayops.KindInvalid {
		t.Errorf("without a group key: %v", err)
	}
	if calls := w.engine.Calls(); len(calls) > 0 {
		t.Errorf("engine called: %q", calls)
	}
}

// TestAlertTwoProcesses: two dayops processes on one database get the same
// notification several times at once (Alertmanager in a cluster sends from
// each peer): one thread, one run.
func TestAlertTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dayops.db")
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	a := newScheduleWorld(t, path, alertCatalog(t), now)
	b := newScheduleWorld(t, path, alertCatalog(t), now)
	n := notice(bot.AlertFiring, now.Add(-time.Minute), "web-1", "web-2")
	var wg sync.WaitGroup
	for i := range 10 {
		w := []*scheduleWorld{a, b}[i%2]
		wg.Go(func() {
			if err := w.bot.Alert(context.Background(), n); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	a.bot.Wait()
	b.bot.Wait()
	if runs := len(a.engine.Requests()) + len(b.engine.Requests()); runs != 1 {
		t.Errorf("%d runs, want 1", runs)
	}
	heads := 0
	for _, w := range []*scheduleWorld{a, b} {
		for _, p := range w.door.Posts() {
			if strings.HasPrefix(p.Msg.Text, "Alert firing:") {
				heads++
			}
		}
	}
	if heads != 1 {
		t.Errorf("%d alert threads, want 1", heads)
	}
}
