package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// testPruneLogs: PruneLogs deletes the lines of runs that ended before the
// cut, at most limit a call, oldest runs and lines first; a run that has
// not ended, or ended at or after the cut, keeps every line however old.
func testPruneLogs(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	ev := dayops.AuditEvent{Actor: "test", Action: "run.state", Allowed: true}
	lines := func(id int64, n int, at time.Time) {
		t.Helper()
		batch := make([]dayops.LogLine, n)
		for i := range batch {
			batch[i] = dayops.LogLine{RunID: id, Seq: int64(i + 1), Time: at, Stream: dayops.Stdout, Text: fmt.Sprint("line ", i+1)}
		}
		if err := s.AppendLogs(ctx, batch); err != nil {
			t.Fatalf("AppendLogs: %v", err)
		}
	}
	started := func() *dayops.Run {
		t.Helper()
		r := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunPending))
		if _, err := s.TransitionRun(ctx, r.ID, dayops.RunRunning, "", ev); err != nil {
			t.Fatal(err)
		}
		return r
	}
	end := func(r *dayops.Run) {
		t.Helper()
		if _, err := s.TransitionRun(ctx, r.ID, dayops.RunSucceeded, "", ev); err != nil {
			t.Fatal(err)
		}
	}
	old := started() // ended long ago: 2,500 lines go
	lines(old.ID, 2500, clk.Now())
	end(old)
	running := started() // started as long ago and still running: keeps its lines
	lines(running.ID, 10, clk.Now())
	older := started() // ended long ago too, a later run
	lines(older.ID, 3, clk.Now())
	end(older)
	clk.Advance(100 * 24 * time.Hour)
	cut := clk.Now().Add(-90 * 24 * time.Hour)
	atCut := started() // ended at the cut itself: kept
	lines(atCut.ID, 4, clk.Now())
	recent := started() // ended after the cut
	lines(recent.ID, 5, clk.Now())
	end(recent)
	clk.Advance(-90 * 24 * time.Hour) // back to the cut
	end(atCut)

	WantKind(t, func() error { _, err := s.PruneLogs(ctx, cut, 0); return err }(), dayops.KindInvalid, "positive batch size")
	n, err := s.PruneLogs(ctx, cut, 1000)
	if err != nil || n != 1000 {
		t.Fatalf("first PruneLogs = %d, %v; want 1000", n, err)
	}
	if got, err := s.Logs(ctx, old.ID, 0, 1); err != nil || len(got) != 1 || got[0].Seq != 1001 {
		t.Errorf("after one batch the first line left of run %d = %+v, %v; want line 1001", old.ID, got, err)
	}
	var batches []int64
	for {
		n, err := s.PruneLogs(ctx, cut, 1000)
		if err != nil {
			t.Fatalf("PruneLogs: %v", err)
		}
		batches = append(batches, n)
		if n < 1000 {
			break
		}
	}
	if fmt.Sprint(batches) != "[1000 503]" {
		t.Errorf("batches = %v, want [1000 503]: the rest of one run and all of the next", batches)
	}
	for _, tc := range []struct {
		run  *dayops.Run
		want int
	}{{old, 0}, {older, 0}, {running, 10}, {atCut, 4}, {recent, 5}} {
		got, err := s.Logs(ctx, tc.run.ID, 0, 0)
		if err != nil || len(got) != tc.want {
			t.Errorf("run %d has %d lines (%v), want %d", tc.run.ID, len(got), err, tc.want)
		}
	}
	if n, err := s.PruneLogs(ctx, cut, 1000); n != 0 || err != nil {
		t.Errorf("PruneLogs with nothing due = %d, %v", n, err)
	}
}
