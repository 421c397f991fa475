package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

func testInbox(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	body := []byte(`{"action":"created","zero":"\u0000"}` + "\x00\xff")

	// A delivery sent 50 times at once is stored once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.AddInbound(ctx, dayops.Inbound{Source: "github", Delivery: "d-1", Kind: "issue_comment", Body: body})
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				added++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if added != 1 {
		t.Fatalf("a delivery sent 50 times was added %d times", added)
	}
	// The same ID from another source is another delivery.
	if ok, err := s.AddInbound(ctx, dayops.Inbound{Source: "other", Delivery: "d-1", Kind: "x", Body: []byte("{}")}); err != nil || !ok {
		t.Fatalf("another source's d-1: %v, %v", ok, err)
	}
	clk.Advance(time.Second)
	if _, err := s.AddInbound(ctx, dayops.Inbound{Source: "github", Delivery: "d-2", Kind: "push", Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	_, err := s.AddInbound(ctx, dayops.Inbound{Delivery: "d-3"})
	WantKind(t, err, dayops.KindInvalid, "needs a source")

	due, err := s.DueInbound(ctx, "github", clk.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	first := clk.Now().Add(-time.Second)
	want := []dayops.Inbound{
		{Source: "github", Delivery: "d-1", Kind: "issue_comment", Body: body, ReceivedAt: first, NextAt: first},
		{Source: "github", Delivery: "d-2", Kind: "push", Body: []byte("{}"), ReceivedAt: clk.Now(), NextAt: clk.Now()},
	}
	opts := cmp.Options{cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })}
	if diff := cmp.Diff(want, clearIDs(due), opts); diff != "" {
		t.Fatalf("due (-want +got):\n%s", diff)
	}

	// A failure waits until its next time; the others stay due in order.
	next := clk.Now().Add(10 * time.Second)
	if err := s.MarkInboundFailed(ctx, due[0].ID, next, "reading the pull request: 502"); err != nil {
		t.Fatal(err)
	}
	later, err := s.DueInbound(ctx, "github", clk.Now(), 0)
	if err != nil || len(later) != 1 || later[0].Delivery != "d-2" {
		t.Fatalf("due after a failure: %+v, %v", later, err)
	}
	again, err := s.DueInbound(ctx, "github", next, 0)
	if err != nil || len(again) != 2 || again[0].Attempts != 1 || again[0].LastError != "reading the pull request: 502" {
		t.Fatalf("due once the failure's time came: %+v, %v", again, err)
	}
	if err := s.MarkInboundDone(ctx, due[0].ID, next); err != nil {
		t.Fatal(err)
	}
	WantKind(t, s.MarkInboundDone(ctx, due[0].ID, next), dayops.KindNotFound, "processed already")
	WantKind(t, s.MarkInboundFailed(ctx, due[0].ID, next, "late"), dayops.KindNotFound, "processed already")
	// A processed delivery is still known: sent again, it is not stored.
	if ok, err := s.AddInbound(ctx, dayops.Inbound{Source: "github", Delivery: "d-1", Kind: "issue_comment", Body: body}); err != nil || ok {
		t.Errorf("redelivery after processing: added %v, %v", ok, err)
	}
	rest, err := s.DueInbound(ctx, "github", next, 0)
	if err != nil || len(rest) != 1 || rest[0].Delivery != "d-2" {
		t.Errorf("due at the end: %+v, %v", rest, err)
	}
}

func clearIDs(in []dayops.Inbound) []dayops.Inbound {
	out := make([]dayops.Inbound, len(in))
	for i, x := range in {
		x.ID = 0
		out[i] = x
	}
	return out
}
