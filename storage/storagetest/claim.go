package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

// inboundIDs are the IDs of in.
func inboundIDs(in []dayops.Inbound) []int64 {
	var out []int64
	for _, d := range in {
		out = append(out, d.ID)
	}
	return out
}

// outgoingIDs are the IDs of os.
func outgoingIDs(os []dayops.Outgoing) []int64 {
	var out []int64
	for _, o := range os {
		out = append(out, o.ID)
	}
	return out
}

func testInboxClaims(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	const lease = time.Minute
	for i := 1; i <= 4; i++ {
		if _, err := s.AddInbound(ctx, dayops.Inbound{Source: "github", Delivery: fmt.Sprintf("d-%d", i), Kind: "push", Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(owner string, limit int) []int64 {
		t.Helper()
		got, err := s.ClaimInbound(ctx, "github", owner, clk.Now(), lease, limit)
		if err != nil {
			t.Fatalf("ClaimInbound(%s): %v", owner, err)
		}
		return inboundIDs(got)
	}
	a := claim("replica-a", 2)
	if len(a) != 2 {
		t.Fatalf("replica-a claimed %v, want 2 deliveries", a)
	}
	b := claim("replica-b", 0)
	if diff := cmp.Diff([]int64{a[1] + 1, a[1] + 2}, b); diff != "" {
		t.Errorf("replica-b claims what replica-a does not hold (-want +got):\n%s", diff)
	}
	if got := claim("replica-c", 0); len(got) != 0 {
		t.Errorf("replica-c claimed %v while the others hold every delivery", got)
	}
	// A holder claims its own deliveries again (renewing the lease).
	if diff := cmp.Diff(a, claim("replica-a", 0)); diff != "" {
		t.Errorf("replica-a claiming again (-want +got):\n%s", diff)
	}
	// Processed, failed (released until it is due), and one left to expire.
	if err := s.MarkInboundDone(ctx, a[0], clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkInboundFailed(ctx, b[0], clk.Now().Add(10*time.Second), "502"); err != nil {
		t.Fatal(err)
	}
	if got := claim("replica-c", 0); len(got) != 0 {
		t.Errorf("replica-c claimed %v: a failed delivery before it is due, or held ones", got)
	}
	clk.Advance(10 * time.Second)
	if diff := cmp.Diff([]int64{b[0]}, claim("replica-c", 0)); diff != "" {
		t.Errorf("a failed delivery once due goes to any replica (-want +got):\n%s", diff)
	}
	// replica-a died: its claim expires and another replica takes it over;
	// a processed delivery is never claimed again.
	clk.Advance(lease)
	if diff := cmp.Diff([]int64{a[1], b[0], b[1]}, claim("replica-d", 0)); diff != "" {
		t.Errorf("expired claims taken over (-want +got):\n%s", diff)
	}
	// A replica that stops cleanly (or is found gone) lets go at once.
	owners, err := s.ClaimOwners(ctx, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"replica-d"}, owners); diff != "" {
		t.Errorf("owners of live claims (-want +got):\n%s", diff)
	}
	if err := s.ReleaseClaims(ctx, "replica-d"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{a[1], b[0], b[1]}, claim("replica-e", 0)); diff != "" {
		t.Errorf("released claims taken at once (-want +got):\n%s", diff)
	}
	for _, bad := range []struct {
		owner string
		lease time.Duration
		want  string
	}{
		{"", lease, "needs an owner"},
		{"replica-a", 0, "needs a lease"},
	} {
		_, err := s.ClaimInbound(ctx, "github", bad.owner, clk.Now(), bad.lease, 0)
		WantKind(t, err, dayops.KindInvalid, bad.want)
		_, _, err = s.ClaimOutgoing(ctx, "slack", "C01", bad.owner, clk.Now(), bad.lease, 0)
		WantKind(t, err, dayops.KindInvalid, bad.want)
	}
}

// testConcurrentInboxClaims: replicas claiming at once each get their own
// deliveries; together they get every one exactly once.
func testConcurrentInboxClaims(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	const n, claimers = 60, 6
	for i := 0; i < n; i++ {
		if _, err := s.AddInbound(ctx, dayops.Inbound{Source: "github", Delivery: fmt.Sprintf("d-%d", i), Kind: "push", Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[int64][]string{}
	var wg sync.WaitGroup
	for c := 0; c < claimers; c++ {
		owner := fmt.Sprintf("replica-%d", c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimInbound(ctx, "github", owner, clk.Now(), time.Minute, 3)
				if err != nil {
					t.Errorf("ClaimInbound(%s): %v", owner, err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, d := range got {
					mu.Lock()
					seen[d.ID] = append(seen[d.ID], owner)
					mu.Unlock()
					if err := s.MarkInboundDone(ctx, d.ID, clk.Now()); err != nil {
						t.Errorf("MarkInboundDone(%d) by %s: %v", d.ID, owner, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d deliveries claimed, want %d", len(seen), n)
	}
	for id, owners := range seen {
		if len(owners) != 1 {
			t.Errorf("delivery %d claimed by %v, want one replica", id, owners)
		}
	}
}

func testOutboxClaims(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	const lease = time.Minute
	th := dayops.Thread{Door: "slack", Channel: "C01", ID: "1.2"}
	var ids []int64
	for i := 0; i < 4; i++ {
		id, err := s.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: th, Message: fmt.Sprintf(`{"Text":"m%d"}`, i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	other, err := s.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: dayops.Thread{Door: "slack", Channel: "C09"}, Message: `{}`})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		IDs  []int64
		Held time.Time
	}
	claim := func(channel, owner string, limit int) result {
		t.Helper()
		got, held, err := s.ClaimOutgoing(ctx, "slack", channel, owner, clk.Now(), lease, limit)
		if err != nil {
			t.Fatalf("ClaimOutgoing(%s, %s): %v", channel, owner, err)
		}
		return result{outgoingIDs(got), held}
	}
	until := clk.Now().Add(lease).UTC()
	if diff := cmp.Diff(result{IDs: ids[:2]}, claim("C01", "replica-a", 2)); diff != "" {
		t.Errorf("replica-a claims the head of C01 (-want +got):\n%s", diff)
	}
	if owners, err := s.ClaimOwners(ctx, clk.Now()); err != nil || !cmp.Equal(owners, []string{"replica-a"}) {
		t.Errorf("owners of live claims: %v, %v; want replica-a", owners, err)
	}
	// The channel is replica-a's while it holds any of its messages: the
	// rest wait for it, in order.
	if diff := cmp.Diff(result{Held: until}, claim("C01", "replica-b", 0)); diff != "" {
		t.Errorf("replica-b on a held channel (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(result{IDs: []int64{other}}, claim("C09", "replica-b", 0)); diff != "" {
		t.Errorf("replica-b on another channel (-want +got):\n%s", diff)
	}
	if err := s.MarkDelivered(ctx, ids[0], clk.Now()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(result{IDs: ids[1:]}, claim("C01", "replica-a", 0)); diff != "" {
		t.Errorf("replica-a goes on with C01 (-want +got):\n%s", diff)
	}
	// A failed delivery lets go of that message, but the channel stays
	// held while replica-a holds the messages after it.
	if err := s.MarkFailed(ctx, ids[1], clk.Now().Add(time.Second), "503"); err != nil {
		t.Fatal(err)
	}
	if got := claim("C01", "replica-b", 0); len(got.IDs) != 0 {
		t.Errorf("replica-b claimed %v of a channel replica-a holds", got.IDs)
	}
	// replica-a died: once its claims expire replica-b takes the channel,
	// from its first waiting message.
	clk.Advance(lease + time.Nanosecond)
	if diff := cmp.Diff(result{IDs: ids[1:]}, claim("C01", "replica-b", 0)); diff != "" {
		t.Errorf("replica-b takes over C01 (-want +got):\n%s", diff)
	}
	for _, id := range ids[1:] {
		if err := s.MarkDelivered(ctx, id, clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(result{}, claim("C01", "replica-a", 0)); diff != "" {
		t.Errorf("an empty channel (-want +got):\n%s", diff)
	}
}

// testConcurrentOutboxClaims: replicas claiming one channel at once: one of
// them gets it, the others are told it is held.
func testConcurrentOutboxClaims(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	for i := 0; i < 5; i++ {
		if _, err := s.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: dayops.Thread{Door: "slack", Channel: "C01"}, Message: `{}`}); err != nil {
			t.Fatal(err)
		}
	}
	const claimers = 8
	var mu sync.Mutex
	var winners []string
	held := 0
	var wg sync.WaitGroup
	for c := 0; c < claimers; c++ {
		owner := fmt.Sprintf("replica-%d", c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, until, err := s.ClaimOutgoing(ctx, "slack", "C01", owner, clk.Now(), time.Minute, 0)
			if err != nil {
				t.Errorf("ClaimOutgoing(%s): %v", owner, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) > 0 {
				winners = append(winners, owner)
				if len(got) != 5 {
					t.Errorf("%s claimed %d messages, want all 5", owner, len(got))
				}
			}
			if !until.IsZero() {
				held++
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 || held != claimers-1 {
		t.Errorf("winners %v and %d told it is held, want one winner and %d told", winners, held, claimers-1)
	}
}

// testTakeOver: a run is taken over only from the owner and heartbeat the
// taker saw; of replicas taking it at once one gets it.
func testTakeOver(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	run := MustCreate(t, s, NewRun("deploy", "prod", dayops.RunRunning))
	beat := clk.Now()
	if err := s.SetOwner(ctx, run.ID, "host-a:1:1", beat); err != nil {
		t.Fatal(err)
	}
	later := beat.Add(20 * time.Second)
	// The owner heartbeat after the taker looked: it keeps its run.
	if _, err := s.Heartbeat(ctx, "host-a:1:1", beat.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if took, err := s.TakeOver(ctx, run.ID, "host-a:1:1", beat, "host-b:2:2", later); err != nil || took {
		t.Fatalf("TakeOver from a stale heartbeat = %v, %v; want false", took, err)
	}
	seen := beat.Add(5 * time.Second)
	const takers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := 0; i < takers; i++ {
		to := fmt.Sprintf("host-%d:%d:1", i+10, i+10)
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, err := s.TakeOver(ctx, run.ID, "host-a:1:1", seen, to, later)
			if err != nil {
				t.Errorf("TakeOver(%s): %v", to, err)
			}
			if took {
				mu.Lock()
				winners = append(winners, to)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("winners %v, want exactly one", winners)
	}
	got, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Owner != winners[0] || !got.Heartbeat.Equal(later) {
		t.Errorf("run owned by %q beating %v, want %q %v", got.Owner, got.Heartbeat, winners[0], later)
	}
	// An ended run is nobody's to take; nor is a run without a new owner.
	if _, err := s.TransitionRun(ctx, run.ID, dayops.RunInterrupted, "gone", dayops.AuditEvent{Actor: "system", Action: "run.state", Allowed: true}); err != nil {
		t.Fatal(err)
	}
	if took, err := s.TakeOver(ctx, run.ID, winners[0], later, "host-z:9:9", later); err != nil || took {
		t.Errorf("TakeOver of an ended run = %v, %v; want false", took, err)
	}
	_, err = s.TakeOver(ctx, run.ID, winners[0], later, "", later)
	WantKind(t, err, dayops.KindInvalid, "needs the new owner")
}
