package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
)

// countingPruner is the real store, with the batches it was asked for.
type countingPruner struct {
	*storage.Store
	mu      sync.Mutex
	batches []int64
}

func (c *countingPruner) PruneLogs(ctx context.Context, endedBefore time.Time, limit int) (int64, error) {
	n, err := c.Store.PruneLogs(ctx, endedBefore, limit)
	c.mu.Lock()
	c.batches = append(c.batches, n)
	c.mu.Unlock()
	return n, err
}

// TestRetention: the loop deletes the lines of runs that ended more than
// retention.logs ago in batches, while a run that has not ended keeps its
// old lines and goes on writing; it stops when its context ends.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := now.Add(-200 * 24 * time.Hour)
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "d.db"), storage.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev := dayops.AuditEvent{Actor: "test", Action: "run", Allowed: true}
	newRun := func(lines int) *dayops.Run {
		r := &dayops.Run{Definition: "backup-db", Phase: dayops.Day2, State: dayops.RunRunning}
		if err := st.CreateRun(ctx, r, ev); err != nil {
			t.Fatal(err)
		}
		batch := make([]dayops.LogLine, lines)
		for i := range batch {
			batch[i] = dayops.LogLine{RunID: r.ID, Seq: int64(i + 1), Stream: dayops.Stdout, Text: fmt.Sprint("line ", i+1)}
		}
		if err := st.AppendLogs(ctx, batch); err != nil {
			t.Fatal(err)
		}
		return r
	}
	ended := newRun(2500)
	if _, err := st.TransitionRun(ctx, ended.ID, dayops.RunSucceeded, "", ev); err != nil {
		t.Fatal(err)
	}
	running := newRun(300) // as old, never ended
	clock = now.Add(-time.Hour)
	recent := newRun(7)
	if _, err := st.TransitionRun(ctx, recent.ID, dayops.RunFailed, "", ev); err != nil {
		t.Fatal(err)
	}

	store := &countingPruner{Store: st}
	r := newRetention(store, 90*24*time.Hour, slog.New(slog.DiscardHandler))
	r.now, r.pause = func() time.Time { return now }, time.Millisecond
	// A run goes on writing while the loop prunes.
	stop := make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		seq := int64(300)
		for {
			select {
			case <-stop:
				wrote <- nil
				return
			default:
			}
			seq++
			if err := st.AppendLogs(ctx, []dayops.LogLine{{RunID: running.ID, Seq: seq, Stream: dayops.Stdout, Text: "more"}}); err != nil {
				wrote <- err
				return
			}
		}
	}()
	n, err := r.prune(ctx)
	close(stop)
	if werr := <-wrote; werr != nil {
		t.Errorf("a running run's log write failed during pruning: %v", werr)
	}
	if err != nil || n != 2500 {
		t.Fatalf("prune = %d, %v; want 2500", n, err)
	}
	if fmt.Sprint(store.batches) != "[1000 1000 500]" {
		t.Errorf("batches %v, want [1000 1000 500]", store.batches)
	}
	for _, tc := range []struct {
		id   int64
		want int
	}{{ended.ID, 0}, {recent.ID, 7}} {
		if got, err := st.Logs(ctx, tc.id, 0, 0); err != nil || len(got) != tc.want {
			t.Errorf("run %d keeps %d lines (%v), want %d", tc.id, len(got), err, tc.want)
		}
	}
	if got, err := st.Logs(ctx, running.ID, 0, 300); err != nil || len(got) != 300 {
		t.Errorf("the running run keeps %d of its first 300 lines (%v)", len(got), err)
	}

	// A message delivered 200 days ago goes; one still waiting stays.
	th := dayops.Thread{Door: "slack", Channel: "C1"}
	clock = now.Add(-200 * 24 * time.Hour)
	for i := range 2 {
		id, err := st.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: th, Message: `{"Text":"x"}`})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := st.MarkDelivered(ctx, id, clock); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := r.pruneDone(ctx); err != nil || n != 1 {
		t.Errorf("pruneDone = %d, %v; want the one delivered message", n, err)
	}
	if chans, err := st.OutgoingChannels(ctx, "slack"); err != nil || len(chans) != 1 {
		t.Errorf("the waiting message's channel: %v, %v", chans, err)
	}

	// The loop ends with its context.
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.run(lctx) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the retention loop did not stop with its context")
	}
}
