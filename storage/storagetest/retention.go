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

// testPruneDone: delivered outbox messages, processed inbox deliveries and
// seen delivery keys older than the cut go, a batch at a time; what waits,
// what is not processed and anything newer stays.
func testPruneDone(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	old := clk.Now()
	th := dayops.Thread{Door: "slack", Channel: "C1"}
	for i := range 3 {
		id, err := s.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: th, Message: `{"Text":"x"}`})
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if err := s.MarkDelivered(ctx, id, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 3 {
		if _, err := s.AddInbound(ctx, dayops.Inbound{Source: "github", Delivery: fmt.Sprint("old-", i), Kind: "push", Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	due, err := s.DueInbound(ctx, "github", old, 0)
	if err != nil || len(due) != 3 {
		t.Fatalf("due %+v, %v", due, err)
	}
	for _, d := range due[:2] {
		if err := s.MarkInboundDone(ctx, d.ID, old); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if _, err := s.FirstDelivery(ctx, "slack", fmt.Sprint("ev-old-", i)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(48 * time.Hour)
	if _, err := s.FirstDelivery(ctx, "slack", "ev-new"); err != nil {
		t.Fatal(err)
	}
	cut := old.Add(24 * time.Hour)

	var total int64
	for {
		n, err := s.PruneDone(ctx, cut, 1)
		if err != nil {
			t.Fatal(err)
		}
		if n > 3 {
			t.Fatalf("a batch of 1 deleted %d rows: at most one of each kind", n)
		}
		total += n
		if n == 0 {
			break
		}
	}
	if total != 6 {
		t.Errorf("pruned %d rows, want 6 (2 delivered messages, 2 processed deliveries, 2 old keys)", total)
	}
	// What waits is still there; the old keys are gone, the new one stays.
	if chans, err := s.OutgoingChannels(ctx, "slack"); err != nil || len(chans) != 1 {
		t.Errorf("channels with waiting messages: %v, %v", chans, err)
	}
	if due, err := s.DueInbound(ctx, "github", clk.Now(), 0); err != nil || len(due) != 1 || due[0].Delivery != "old-2" {
		t.Errorf("unprocessed deliveries after pruning: %+v, %v", due, err)
	}
	if first, err := s.FirstDelivery(ctx, "slack", "ev-old-0"); err != nil || !first {
		t.Errorf("an old key pruned is new again: %v, %v", first, err)
	}
	if first, err := s.FirstDelivery(ctx, "slack", "ev-new"); err != nil || first {
		t.Errorf("a recent key was pruned: first %v, %v", first, err)
	}
	WantKind(t, func() error { _, err := s.PruneDone(ctx, cut, 0); return err }(), dayops.KindInvalid, "positive batch")
}
