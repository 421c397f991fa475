package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/google/go-cmp/cmp"
)

// testOrders: an order of a run is stored with its audit row, waits for
// the process that owns the run (and for anyone once the run has ended,
// never for another live owner), is finished once, and keeps its outcome.
func testOrders(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	mine := NewRun("deploy-web", "production", dayops.RunRunning)
	mine.Owner = "host-a:1:1"
	MustCreate(t, s, mine)
	theirs := NewRun("deploy-web", "staging", dayops.RunQueued)
	theirs.Owner = "host-b:2:2"
	MustCreate(t, s, theirs)
	ended := NewRun("deploy-api", "staging", dayops.RunSucceeded)
	ended.Owner = "host-b:2:2"
	MustCreate(t, s, ended)

	bob := dayops.Actor{ID: "slack:U2", Name: "bob", Groups: []string{"slack-group:S1"}}
	audits := auditCount(t, s, mine.ID)
	cancel := &dayops.RunOrder{RunID: mine.ID, Kind: dayops.OrderCancel, Actor: bob}
	if err := s.AddOrder(ctx, cancel, dayops.AuditEvent{Actor: bob.ID, Action: "run.cancel", Allowed: true, Reason: "handed on"}); err != nil {
		t.Fatalf("AddOrder: %v", err)
	}
	if cancel.ID == 0 || !cancel.RequestedAt.Equal(clk.Now()) {
		t.Errorf("AddOrder set ID %d and RequestedAt %s, want an ID and %s", cancel.ID, cancel.RequestedAt, clk.Now())
	}
	if got := auditCount(t, s, mine.ID); got != audits+1 {
		t.Errorf("audit rows of the run: %d, want %d (the order's)", got, audits+1)
	}
	clk.Advance(time.Second)
	supersede := &dayops.RunOrder{RunID: theirs.ID, Kind: dayops.OrderSupersede, Actor: bob, Note: "superseded by run 9"}
	withdraw := &dayops.RunOrder{RunID: ended.ID, Kind: dayops.OrderWithdraw, Actor: bob, Note: "the alert resolved"}
	for _, o := range []*dayops.RunOrder{supersede, withdraw} {
		if err := s.AddOrder(ctx, o, dayops.AuditEvent{Actor: bob.ID}); err != nil {
			t.Fatalf("AddOrder %s: %v", o.Kind, err)
		}
	}
	err := s.AddOrder(ctx, &dayops.RunOrder{RunID: 9999, Kind: dayops.OrderCancel, Actor: bob}, dayops.AuditEvent{Actor: bob.ID})
	WantKind(t, err, dayops.KindNotFound, "no run 9999")
	err = s.AddOrder(ctx, &dayops.RunOrder{RunID: mine.ID, Kind: "pause", Actor: bob}, dayops.AuditEvent{Actor: bob.ID})
	WantKind(t, err, dayops.KindInvalid, `unknown run order "pause"`, `"cancel"`)

	kept := dayops.Actor{ID: bob.ID, Name: bob.Name} // groups are not kept
	wantCancel := dayops.RunOrder{ID: cancel.ID, RunID: mine.ID, Kind: dayops.OrderCancel, Actor: kept, RequestedAt: cancel.RequestedAt}
	wantWithdraw := dayops.RunOrder{ID: withdraw.ID, RunID: ended.ID, Kind: dayops.OrderWithdraw, Actor: kept, Note: "the alert resolved", RequestedAt: withdraw.RequestedAt}
	wantSupersede := dayops.RunOrder{ID: supersede.ID, RunID: theirs.ID, Kind: dayops.OrderSupersede, Actor: kept, Note: "superseded by run 9", RequestedAt: supersede.RequestedAt}
	for _, tc := range []struct {
		owner string
		want  []dayops.RunOrder
	}{
		{"host-a:1:1", []dayops.RunOrder{wantCancel, wantWithdraw}},
		{"host-b:2:2", []dayops.RunOrder{wantSupersede, wantWithdraw}},
		{"host-c:3:3", []dayops.RunOrder{wantWithdraw}},
	} {
		got, err := s.WaitingOrders(ctx, tc.owner, 0)
		if err != nil {
			t.Fatalf("WaitingOrders %s: %v", tc.owner, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("WaitingOrders of %s (-want +got):\n%s", tc.owner, diff)
		}
	}
	if got, err := s.WaitingOrders(ctx, "host-a:1:1", 1); err != nil || len(got) != 1 || got[0].ID != cancel.ID {
		t.Errorf("WaitingOrders limited to 1: %+v, %v; want the oldest", got, err)
	}

	clk.Advance(time.Second)
	if done, err := s.FinishOrder(ctx, cancel.ID, "applied", clk.Now()); err != nil || !done {
		t.Fatalf("FinishOrder: %v, %v; want it done", done, err)
	}
	if done, err := s.FinishOrder(ctx, cancel.ID, "again", clk.Now().Add(time.Second)); err != nil || done {
		t.Errorf("FinishOrder a second time: %v, %v; want false and no error", done, err)
	}
	_, err = s.FinishOrder(ctx, 9999, "applied", clk.Now())
	WantKind(t, err, dayops.KindNotFound, "no run order 9999")
	got, err := s.WaitingOrders(ctx, "host-a:1:1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]dayops.RunOrder{wantWithdraw}, got); diff != "" {
		t.Errorf("WaitingOrders after the cancel is done (-want +got):\n%s", diff)
	}
	all, err := s.Orders(ctx, mine.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCancel.DoneAt, wantCancel.Outcome = clk.Now(), "applied"
	if diff := cmp.Diff([]dayops.RunOrder{wantCancel}, all); diff != "" {
		t.Errorf("Orders of the run (-want +got):\n%s", diff)
	}
}
