package bot_test

import (
	"context"
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

// scheduleCatalog: backup runs hourly with a window of 10m, report daily at
// 06:00 (in the scheduler's zone) with the default window.
func scheduleCatalog(t *testing.T, triggers ...dayops.ScheduleTrigger) *dayops.Catalog {
	t.Helper()
	src := dayops.Source{File: "ops/x.yaml", Revision: "0123456789abcdef0123"}
	step := []dayops.Step{{Name: "Do", Kind: dayops.StepKindRun, Run: "true"}}
	if triggers == nil {
		triggers = []dayops.ScheduleTrigger{{Cron: "0 * * * *", Window: 10 * time.Minute}}
	}
	defs := []*dayops.Definition{
		{Phase: dayops.Day2, Name: "backup", Steps: step, Source: src, Triggers: dayops.Triggers{Schedule: triggers}},
		{Phase: dayops.Day2, Name: "report", Steps: step, Source: src, Triggers: dayops.Triggers{Schedule: []dayops.ScheduleTrigger{{Cron: "0 6 * * *"}}}},
		{Phase: dayops.Day1, Name: "deploy", Steps: step, Source: src, Triggers: dayops.Triggers{Schedule: []dayops.ScheduleTrigger{{Cron: "* * * * *"}}}},
	}
	cat, err := dayops.NewCatalog("0123456789abcdef0123", defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// scheduleWorld is one dayops process: a bot and its scheduler on a shared
// database, with a clock the test sets.
type scheduleWorld struct {
	*incidentWorld
	sched *bot.Scheduler
}

var paris = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return loc
}()

func newScheduleWorld(t *testing.T, dbPath string, cat *dayops.Catalog, now time.Time) *scheduleWorld {
	t.Helper()
	db, err := storage.Open(context.Background(), dbPath, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &bottest.Store{}
	w := &incidentWorld{db: db, now: now}
	w.world = &world{engine: &bottest.Engine{Store: store}, store: store,
		cats: &bottest.Catalogs{Cat: cat}, door: &bottest.Door{DoorName: "test"}, bus: dayops.NewBus()}
	b, err := bot.New(bot.Options{Engine: w.engine, Store: store, Catalogs: w.cats, Policy: bottest.Policy(), Events: w.bus,
		Automation: db, NotifyThread: alertNotify, Now: func() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	b.Register(w.door)
	w.bot = b
	t.Cleanup(func() { b.Close() })
	s, err := bot.NewScheduler(bot.SchedulerOptions{Bot: b, Store: db, Location: paris})
	if err != nil {
		t.Fatal(err)
	}
	return &scheduleWorld{incidentWorld: w, sched: s}
}

func (w *scheduleWorld) at(t time.Time) {
	w.mu.Lock()
	w.now = t
	w.mu.Unlock()
}

func (w *scheduleWorld) tick() {
	w.sched.Tick(context.Background())
	w.bot.Wait()
}

// fired is the schedule times of the runs started, by definition.
func (w *scheduleWorld) fired() []string {
	var out []string
	for _, r := range w.engine.Requests() {
		out = append(out, r.Definition+"@"+r.Context[dayops.ContextScheduleTime])
	}
	return out
}

func TestScheduleDue(t *testing.T) {
	start := time.Date(2025, 3, 1, 2, 58, 10, 0, paris)
	w := newScheduleWorld(t, filepath.Join(t.TempDir(), "dayops.db"), scheduleCatalog(t), start)
	w.tick() // first seen: nothing of the past fires
	if got := w.fired(); got != nil {
		t.Fatalf("fired on first sight: %v", got)
	}
	w.at(start.Add(2 * time.Minute)) // 03:00:10
	w.tick()
	w.tick()
	if diff := cmp.Diff([]string{"backup@2025-03-01T03:00:00+01:00"}, w.fired()); diff != "" {
		t.Fatalf("fired (-want +got):\n%s", diff)
	}
	r := w.engine.Requests()[0]
	want := dayops.RunRequest{Definition: "backup", Actor: dayops.TriggerActor(dayops.TriggerSchedule), Thread: alertNotify,
		Trigger: dayops.TriggerSchedule, Context: map[string]string{dayops.ContextScheduleTime: "2025-03-01T03:00:00+01:00", dayops.ContextScheduleCron: "0 * * * *"}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("run request (-want +got):\n%s", diff)
	}
	firings, err := w.db.Firings(context.Background(), "backup", "0 * * * *", 0)
	if err != nil || len(firings) != 2 || firings[0].State != dayops.FiringRun || firings[0].RunID == 0 {
		t.Errorf("firings: %+v, %v", firings, err)
	}
	// The day1 definition never fires.
	for _, f := range w.fired() {
		if strings.HasPrefix(f, "deploy@") {
			t.Errorf("a day1 definition fired: %v", f)
		}
	}
}

// TestScheduleMissed: after a downtime the last firing runs once when it is
// within its window; older ones, and one beyond its window, are recorded
// missed and reported in the notify channel.
func TestScheduleMissed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		restart    time.Time
		wantFired  []string
		wantMissed string
	}{
		{"within the window", time.Date(2025, 3, 1, 4, 5, 0, 0, paris), []string{"backup@2025-03-01T04:00:00+01:00"},
			"Missed: backup on schedule 0 * * * * did not run at 2 firings from 2025-03-01 02:00 CET to 2025-03-01 03:00 CET"},
		{"beyond the window", time.Date(2025, 3, 1, 4, 15, 0, 0, paris), nil,
			"Missed: backup on schedule 0 * * * * did not run at 3 firings from 2025-03-01 02:00 CET to 2025-03-01 04:00 CET: dayops was not running, and it was too late when it started (window: 10m0s). Next: 2025-03-01 05:00 CET."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newScheduleWorld(t, filepath.Join(t.TempDir(), "dayops.db"), scheduleCatalog(t), time.Date(2025, 3, 1, 1, 30, 0, 0, paris))
			w.tick()
			w.at(tc.restart) // down from 01:30 until now
			w.tick()
			if diff := cmp.Diff(tc.wantFired, w.fired()); diff != "" {
				t.Errorf("fired (-want +got):\n%s", diff)
			}
			if tr := w.door.Transcript(); !strings.Contains(tr, tc.wantMissed) {
				t.Errorf("missed firings not reported as %q:\n%s", tc.wantMissed, tr)
			}
			w.tick()
			reports := 0
			for _, p := range w.door.Posts() {
				if strings.HasPrefix(p.Msg.Text, "Missed:") {
					reports++
				}
			}
			if reports != 1 || len(w.fired()) != len(tc.wantFired) {
				t.Errorf("after a second tick: %d reports, runs %v", reports, w.fired())
			}
		})
	}
}

// TestScheduleDefaultWindow: without a window a missed daily firing still
// runs at start within a day, in the scheduler's time zone.
func TestScheduleDefaultWindow(t *testing.T) {
	w := newScheduleWorld(t, filepath.Join(t.TempDir(), "dayops.db"), scheduleCatalog(t, dayops.ScheduleTrigger{Cron: "30 * * * *"}),
		time.Date(2025, 3, 1, 5, 0, 0, 0, paris))
	w.tick()
	w.at(time.Date(2025, 3, 1, 17, 0, 0, 0, paris)) // 11 hours down
	w.tick()
	want := []string{"backup@2025-03-01T16:30:00+01:00", "report@2025-03-01T06:00:00+01:00"}
	if diff := cmp.Diff(want, w.fired()); diff != "" {
		t.Errorf("fired (-want +got):\n%s", diff)
	}
}

// TestScheduleTwoProcesses: two dayops processes on one database tick at
// the same moments: every firing runs exactly once.
func TestScheduleTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dayops.db")
	start := time.Date(2025, 3, 1, 0, 59, 0, 0, paris)
	a := newScheduleWorld(t, path, scheduleCatalog(t), start)
	b := newScheduleWorld(t, path, scheduleCatalog(t), start)
	a.tick()
	b.tick()
	for h := range 5 {
		now := start.Add(time.Duration(h)*time.Hour + time.Minute + 5*time.Second)
		a.at(now)
		b.at(now)
		var wg sync.WaitGroup
		for _, w := range []*scheduleWorld{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); w.tick() }()
		}
		wg.Wait()
	}
	all := append(a.fired(), b.fired()...)
	if len(all) != 5 {
		t.Fatalf("%d runs for 5 firings: %v and %v", len(all), a.fired(), b.fired())
	}
	seen := map[string]bool{}
	for _, f := range all {
		if seen[f] {
			t.Errorf("%s ran twice", f)
		}
		seen[f] = true
	}
}

// TestScheduleCatalogChanges: a definition removed from the catalog stops
// firing; a changed cron fires from the next sync on.
func TestScheduleCatalogChanges(t *testing.T) {
	start := time.Date(2025, 3, 1, 2, 58, 0, 0, paris)
	w := newScheduleWorld(t, filepath.Join(t.TempDir(), "dayops.db"), scheduleCatalog(t), start)
	w.tick()
	w.cats.Cat = scheduleCatalog(t, dayops.ScheduleTrigger{Cron: "15 * * * *"}) // a sync changes the cron
	w.at(time.Date(2025, 3, 1, 3, 0, 30, 0, paris))
	w.tick()
	w.at(time.Date(2025, 3, 1, 3, 15, 30, 0, paris))
	w.tick()
	if diff := cmp.Diff([]string{"backup@2025-03-01T03:15:00+01:00"}, w.fired()); diff != "" {
		t.Errorf("fired after the cron changed (-want +got):\n%s", diff)
	}
	cat, err := dayops.NewCatalog("0123456789abcdef0124", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.cats.Cat = cat // backup and report removed
	w.at(time.Date(2025, 3, 1, 6, 15, 30, 0, paris))
	w.tick()
	if n := len(w.fired()); n != 1 {
		t.Errorf("%d runs after the definitions were removed: %v", n, w.fired())
	}
}
