package storagetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

// testCounts: Counts gives the runs by definition and state, the outbox
// messages not delivered yet, and a size that grows with what is stored.
func testCounts(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	empty, err := s.Counts(ctx)
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	if len(empty.Runs) != 0 || empty.Undelivered != 0 || empty.Bytes <= 0 {
		t.Errorf("Counts of an empty store = %+v, want no runs, nothing undelivered and a size", empty)
	}
	for _, r := range []struct {
		def   string
		state dayops.RunState
	}{{"deploy-web", dayops.RunSucceeded}, {"deploy-web", dayops.RunQueued}, {"deploy-web", dayops.RunSucceeded}, {"backup-db", dayops.RunFailed}} {
		MustCreate(t, s, NewRun(r.def, "staging", r.state))
	}
	th := dayops.Thread{Door: "slack", Channel: "C01"}
	var ids []int64
	for range 3 {
		id, err := s.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: th, Message: `{"Text":"x"}`})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.MarkDelivered(ctx, ids[0], clk.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := s.Counts(ctx)
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	want := []dayops.RunCount{{Definition: "backup-db", State: dayops.RunFailed, N: 1}, {Definition: "deploy-web", State: dayops.RunQueued, N: 1}, {Definition: "deploy-web", State: dayops.RunSucceeded, N: 2}}
	if diff := cmp.Diff(want, got.Runs); diff != "" {
		t.Errorf("runs by definition and state (-want +got):\n%s", diff)
	}
	if got.Undelivered != 2 {
		t.Errorf("%d undelivered, want 2", got.Undelivered)
	}
	if got.Bytes < empty.Bytes {
		t.Errorf("size %d after writing, less than %d empty", got.Bytes, empty.Bytes)
	}
}
