package executor_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/storage"
)

// cutStore is the database as a replica cut off from it sees it: while cut,
// its heartbeats do not reach the database (the rest still does, as a
// replica whose connection stalls on some statements and not others).
type cutStore struct {
	*storage.Store
	cut atomic.Bool
}

func (s *cutStore) Heartbeat(ctx context.Context, owner string, at time.Time) (int64, error) {
	if s.cut.Load() {
		return 0, dayops.Errorf(dayops.KindUnavailable, "the database is out of reach")
	}
	return s.Store.Heartbeat(ctx, owner, at)
}

// TestALiveReplicaTakesOverADeadOnesRuns: two executors of two hosts on one
// database. While replica A heartbeats, B leaves A's run alone however
// often it looks. Once A's heartbeats stop, B marks the run interrupted
// within TakeoverTime, announces it (EventInterrupted on B's events, which
// B's bot reports in the run's thread), and frees its concurrency key: a
// run on B with the same key then runs. When A's heartbeats come back it
// finds it lost the run: it stops the step and changes nothing.
func TestALiveReplicaTakesOverADeadOnesRuns(t *testing.T) {
	const beat = 100 * time.Millisecond
	body := `
concurrency: shared-key
steps:
  - name: Long
    run: |
      echo $$ > long.pid
      sleep 30
  - name: Next
    run: touch next.ran
`
	quick := `
concurrency: shared-key
steps:
  - name: Quick
    run: echo quick
`
	h := newHarness(t, map[string]string{"long.yaml": def("long", body), "quick.yaml": def("quick", quick)}, func(o *executor.Options) {
		o.Owner = "host-b:200:2"
		o.HeartbeatInterval = beat
		o.KillGrace = 200 * time.Millisecond
	})
	aStore := &cutStore{Store: h.store}
	aOpts := h.opts
	aOpts.Owner, aOpts.Store, aOpts.Events = "host-a:100:1", aStore, dayops.NewBus()
	a := h.newExecutor(aOpts)
	t.Cleanup(func() { a.Close() })

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	interrupted := make(chan []*dayops.Run, 10)
	go h.exec.WatchOwners(ctx, func(runs []*dayops.Run) { interrupted <- runs })

	r, err := a.Start(context.Background(), dayops.RunRequest{Definition: "long", Actor: actor("alice"), Thread: thread})
	if err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, filepath.Join(h.dir, "long.pid"))
	// A lives: B looks many times and leaves its run alone.
	time.Sleep(5 * executor.TakeoverTime(beat))
	if got := h.wait(r.ID, dayops.RunRunning); got.Owner != "host-a:100:1" {
		t.Fatalf("A's live run is owned by %q", got.Owner)
	}

	aStore.cut.Store(true)
	cutAt := time.Now()
	var runs []*dayops.Run
	select {
	case runs = <-interrupted:
	case <-time.After(10 * time.Second):
		t.Fatal("B did not take over the run of a replica that stopped heartbeating")
	}
	took := time.Since(cutAt)
	if len(runs) != 1 || runs[0].ID != r.ID || runs[0].State != dayops.RunInterrupted {
		t.Fatalf("B interrupted %+v, want run %d", runs, r.ID)
	}
	// A's last beat came up to one interval before the cut; load on the
	// machine may add a little.
	if limit := executor.TakeoverTime(beat) + 300*time.Millisecond; took > limit {
		t.Errorf("taken over %s after the heartbeats stopped, want within %s", took, limit)
	}
	t.Logf("taken over %s after the heartbeats stopped (TakeoverTime %s)", took, executor.TakeoverTime(beat))
	h.waitNotes(func(evs []dayops.RunEvent) bool {
		for _, ev := range evs {
			if ev.Kind == dayops.EventInterrupted && ev.Run != nil && ev.Run.ID == r.ID {
				return true
			}
		}
		return false
	})
	if head, err := h.store.QueueHead(context.Background(), "shared-key"); err != nil || head != 0 {
		t.Errorf("queue of the dead run's key: head %d, %v; want it freed", head, err)
	}

	// A's database comes back: A finds it lost the run and stops its step.
	aStore.cut.Store(false)
	waitGone(t, pid, 5*time.Second)
	if err := a.Wait(contextWithTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("A's lost run did not stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "next.ran")); err == nil {
		t.Error("A started the next step of a run it lost")
	}
	got, err := h.store.Run(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != dayops.RunInterrupted || got.Owner != "host-b:200:2" {
		t.Errorf("the run is %s owned by %q, want interrupted and B's", got.State, got.Owner)
	}
	q := h.start(dayops.RunRequest{Definition: "quick"})
	if done := h.done(q.ID); done.State != dayops.RunSucceeded {
		t.Errorf("a run with the freed key ended %s: %s", done.State, done.Reason)
	}
}
