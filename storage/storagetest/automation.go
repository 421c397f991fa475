package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

// concurrently calls f n times at once and counts the true answers.
func concurrently(t *testing.T, n int, f func() (bool, error)) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	yes := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := f()
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				yes++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return yes
}

func testAlertGroups(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	a := dayops.AlertInstance{Fingerprint: "aaa", StartsAt: start}
	b := dayops.AlertInstance{Fingerprint: "bbb", StartsAt: start.Add(time.Second)}
	openIt := func(alerts ...dayops.AlertInstance) bool {
		t.Helper()
		ok, err := s.OpenAlertGroup(ctx, "web/{}:{alertname=\"Down\"}", alerts)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	const key = "web/{}:{alertname=\"Down\"}"

	// Twenty copies of the first firing at once open the group once.
	if n := concurrently(t, 20, func() (bool, error) { return s.OpenAlertGroup(ctx, key, []dayops.AlertInstance{a, b}) }); n != 1 {
		t.Fatalf("the first firing sent 20 times opened the group %d times", n)
	}
	th := dayops.Thread{Door: "slack", Channel: "C01", Name: "ops", ID: "1700.1"}
	if err := s.SetAlertGroup(ctx, key, th, 42); err != nil {
		t.Fatal(err)
	}
	// Firing again, and a new alert in the open group: nothing new.
	c := dayops.AlertInstance{Fingerprint: "ccc", StartsAt: start.Add(time.Minute)}
	if openIt(a, b) || openIt(a, b, c) {
		t.Fatal("a repeat of an open group opened it again")
	}
	got, err := s.AlertGroup(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	want := &dayops.AlertGroup{Key: key, Open: true, Thread: th, RunID: 42, OpenedAt: clk.Now()}
	opts := cmp.Comparer(func(x, y time.Time) bool { return x.Equal(y) })
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Fatalf("group (-want +got):\n%s", diff)
	}

	// Resolved: the first resolution closes it, a second says it was closed.
	clk.Advance(time.Minute)
	got, err = s.ResolveAlertGroup(ctx, key)
	if err != nil || !got.Open || got.RunID != 42 || got.Thread != th {
		t.Fatalf("first resolution: %+v, %v", got, err)
	}
	if got, err = s.ResolveAlertGroup(ctx, key); err != nil || got.Open || !got.ResolvedAt.Equal(clk.Now()) {
		t.Fatalf("second resolution: %+v, %v", got, err)
	}
	// An old firing delivered late does not reopen it; a flap (a new start) does, afresh.
	if openIt(a, b, c) {
		t.Fatal("a late copy of an old firing reopened the group")
	}
	if !openIt(dayops.AlertInstance{Fingerprint: "aaa", StartsAt: start.Add(time.Hour)}) {
		t.Fatal("the alert firing again with a new start did not reopen the group")
	}
	if got, err = s.AlertGroup(ctx, key); err != nil || !got.Open || got.RunID != 0 || got.Thread != (dayops.Thread{}) || !got.ResolvedAt.IsZero() {
		t.Fatalf("reopened group: %+v, %v", got, err)
	}

	_, err = s.ResolveAlertGroup(ctx, "never-seen")
	WantKind(t, err, dayops.KindNotFound, "never-seen")
	_, err = s.AlertGroup(ctx, "never-seen")
	WantKind(t, err, dayops.KindNotFound)
	WantKind(t, s.SetAlertGroup(ctx, "never-seen", th, 1), dayops.KindNotFound)
	_, err = s.OpenAlertGroup(ctx, "", []dayops.AlertInstance{a})
	WantKind(t, err, dayops.KindInvalid, "group key")
}

func testGuard(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	check := func(target string) dayops.GuardCheck {
		return dayops.GuardCheck{Trigger: "restart/alert/0", Definition: "restart", Target: target,
			Cooldown: 10 * time.Minute, Budget: 3, At: clk.Now()}
	}
	guard := func(target string) dayops.GuardVerdict {
		t.Helper()
		v, err := s.GuardAutoRun(ctx, check(target))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Ten at once for one target: one passes.
	if n := concurrently(t, 10, func() (bool, error) {
		v, err := s.GuardAutoRun(ctx, check("instance=web-1"))
		return v.Allowed, err
	}); n != 1 {
		t.Fatalf("%d of 10 concurrent checks passed, want 1", n)
	}
	first := clk.Now()
	clk.Advance(5 * time.Minute)
	v := guard("instance=web-1")
	if v.Allowed || !v.Last.Equal(first) || v.InHour != 1 || v.Reason != "it ran automatically for instance=web-1 5m0s ago, within its cooldown of 10m0s" {
		t.Fatalf("within the cooldown: %+v", v)
	}
	// Another target has its own cooldown, but the same budget.
	if v := guard("instance=web-2"); !v.Allowed || v.InHour != 1 {
		t.Fatalf("another target: %+v", v)
	}
	clk.Advance(10 * time.Minute)
	if v := guard("instance=web-1"); !v.Allowed || v.InHour != 2 {
		t.Fatalf("after the cooldown: %+v", v)
	}
	clk.Advance(11 * time.Minute)
	v = guard("instance=web-2")
	if v.Allowed || v.InHour != 3 || v.Reason != "its trigger already ran it 3 times in the last hour, its budget" {
		t.Fatalf("past the budget: %+v", v)
	}
	// An hour after the first run, the budget has room again.
	clk.Advance(35 * time.Minute)
	if v := guard("instance=web-2"); !v.Allowed || v.InHour != 2 {
		t.Fatalf("an hour later: %+v", v)
	}
	// Another trigger of the same definition has its own budget.
	other := check("instance=web-9")
	other.Trigger = "restart/incident/0"
	if v, err := s.GuardAutoRun(ctx, other); err != nil || !v.Allowed || v.InHour != 0 {
		t.Fatalf("another trigger: %+v, %v", v, err)
	}
	_, err := s.GuardAutoRun(ctx, dayops.GuardCheck{Definition: "restart", Budget: 1})
	WantKind(t, err, dayops.KindInvalid, "needs a trigger")
}

func testFirings(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	at := time.Date(2025, 3, 14, 3, 0, 0, 0, time.UTC)
	f := dayops.ScheduleFiring{Definition: "backup", Cron: "0 3 * * *", ScheduledAt: at, State: dayops.FiringRun}
	if n := concurrently(t, 20, func() (bool, error) { return s.ClaimFiring(ctx, f) }); n != 1 {
		t.Fatalf("one firing claimed %d times by 20 at once", n)
	}
	// Another cron or definition at the same time is another firing.
	g := f
	g.Cron = "0 * * * *"
	h := f
	h.Definition, h.State = "rotate", dayops.FiringMissed
	for _, x := range []dayops.ScheduleFiring{g, h} {
		if ok, err := s.ClaimFiring(ctx, x); err != nil || !ok {
			t.Fatalf("claiming %+v: %v, %v", x, ok, err)
		}
	}
	if err := s.SetFiringRun(ctx, "backup", "0 3 * * *", at, 7); err != nil {
		t.Fatal(err)
	}
	later := f
	later.ScheduledAt, later.State = at.Add(24*time.Hour), dayops.FiringMissed
	if ok, err := s.ClaimFiring(ctx, later); err != nil || !ok {
		t.Fatalf("the next day: %v, %v", ok, err)
	}
	got, err := s.Firings(ctx, "backup", "0 3 * * *", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []dayops.ScheduleFiring{
		{Definition: "backup", Cron: "0 3 * * *", ScheduledAt: later.ScheduledAt, State: dayops.FiringMissed, RecordedAt: clk.Now()},
		{Definition: "backup", Cron: "0 3 * * *", ScheduledAt: at, State: dayops.FiringRun, RunID: 7, RecordedAt: clk.Now()},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y time.Time) bool { return x.Equal(y) })); diff != "" {
		t.Fatalf("firings (-want +got):\n%s", diff)
	}
	WantKind(t, s.SetFiringRun(ctx, "backup", "0 3 * * *", at.Add(time.Hour), 1), dayops.KindNotFound)
	_, err = s.ClaimFiring(ctx, dayops.ScheduleFiring{Definition: "backup"})
	WantKind(t, err, dayops.KindInvalid, "needs a definition")
}
