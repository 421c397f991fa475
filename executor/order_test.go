package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/internal/testkit/postgres"
	"github.com/dayops/dayops/storage"
	"github.com/dayops/dayops/storage/storagetest"
)

// twoReplicas is a harness whose executor is replica B (host-b) and a
// second executor, replica A (host-a), on the same database (SQLite, or
// PostgreSQL when pg): A drives the runs, requests reach B, as behind a
// load balancer.
func twoReplicas(t *testing.T, files map[string]string, pg bool) (h *harness, a *executor.Executor, beat time.Duration) {
	beat = 100 * time.Millisecond
	h = newHarness(t, files, func(o *executor.Options) {
		o.Owner = "host-b:200:2"
		o.HeartbeatInterval = beat
	})
	if pg {
		st, err := storage.Open(context.Background(), postgres.Database(t), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.close(); st.Close() })
		if err := h.exec.Close(); err != nil { // B on SQLite, unused
			t.Fatal(err)
		}
		h.store, h.opts.Store = st, st
		h.exec = h.newExecutor(h.opts)
	}
	aOpts := h.opts
	aOpts.Owner, aOpts.Events = "host-a:100:1", dayops.NewBus()
	a = h.newExecutor(aOpts)
	t.Cleanup(func() { a.Close() })
	return h, a, beat
}

// startOn starts a run on executor x as alice.
func startOn(t *testing.T, x *executor.Executor, req dayops.RunRequest) *dayops.Run {
	t.Helper()
	req.Actor, req.Thread = actor("alice"), thread
	r, err := x.Start(context.Background(), req)
	if err != nil {
		t.Fatalf("starting %s: %v", req.Definition, err)
	}
	return r
}

// orderDone waits until the only order of run id is done and returns it.
func orderDone(t *testing.T, h *harness, id int64) dayops.RunOrder {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		orders, err := h.store.Orders(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(orders) == 1 && !orders[0].DoneAt.IsZero() {
			return orders[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("orders of run %d: %+v; want one, done", id, orders)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCancelThroughAnotherReplica: a run driven by replica A is cancelled
// through replica B. B stores the request (audited) and answers success;
// A stops the step within a few heartbeats, skips the rest and rolls back,
// as a cancel on A itself would; the order ends applied. A run waiting in
// A's queue is cancelled the same way.
func TestCancelThroughAnotherReplica(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) { testCancelThroughAnotherReplica(t, db == "postgres") })
	}
}

func testCancelThroughAnotherReplica(t *testing.T, pg bool) {
	body := `
concurrency: one-at-a-time
steps:
  - name: Sleep
    run: |
      sleep 300 &
      echo $! > sleep.pid
      wait
  - name: Never
    run: echo never >> never.txt
rollback:
  - name: Undo
    run: echo undone >> undone.txt
`
	h, a, beat := twoReplicas(t, map[string]string{"c.yaml": def("sleepy", body)}, pg)
	ctx := context.Background()
	running := startOn(t, a, dayops.RunRequest{Definition: "sleepy"})
	waiting := startOn(t, a, dayops.RunRequest{Definition: "sleepy"})
	pid := readPid(t, filepath.Join(h.dir, "sleep.pid"))
	h.wait(waiting.ID, dayops.RunQueued)

	if err := h.exec.Cancel(ctx, waiting.ID, actor("bob"), thread); err != nil {
		t.Fatalf("cancelling A's queued run through B: %v", err)
	}
	if got := h.done(waiting.ID); got.State != dayops.RunCancelled || got.Rollback != dayops.RollbackNone || got.Reason != "cancelled by bob" {
		t.Errorf("queued run: %s %s %q", got.State, got.Rollback, got.Reason)
	}

	start := time.Now()
	if err := h.exec.Cancel(ctx, running.ID, actor("bob"), thread); err != nil {
		t.Fatalf("cancelling A's running run through B: %v", err)
	}
	got := h.done(running.ID)
	took := time.Since(start)
	if got.State != dayops.RunCancelled || got.Rollback != dayops.RolledBack || got.Reason != "cancelled by bob during step Sleep; rolled back" {
		t.Errorf("running run: %s %s %q", got.State, got.Rollback, got.Reason)
	}
	if s := stepStates(got); strings.Join(s, " ") != "Sleep=cancelled Never=skipped Undo=succeeded" {
		t.Errorf("steps %v", s)
	}
	waitGone(t, pid, time.Second)
	if got := waitFile(t, filepath.Join(h.dir, "undone.txt")); got != "undone" {
		t.Errorf("rollback output %q", got)
	}
	// Picked up at A's next beat; stopping the step takes up to KillGrace.
	if limit := 3*beat + h.opts.KillGrace + time.Second; took > limit {
		t.Errorf("cancelled through B %s after the request, want within %s", took, limit)
	}
	t.Logf("cancelled through the other replica in %s (heartbeat %s)", took, beat)
	for _, id := range []int64{waiting.ID, running.ID} {
		o := orderDone(t, h, id)
		if o.Kind != dayops.OrderCancel || o.Outcome != "applied" || o.Actor.ID != "console:bob" {
			t.Errorf("order of run %d: %+v; want bob's cancel, applied", id, o)
		}
		audits, err := h.store.AuditEvents(ctx, dayops.AuditFilter{RunID: id})
		if err != nil {
			t.Fatal(err)
		}
		var handed bool
		for _, ev := range audits {
			handed = handed || ev.Action == "run.cancel" && ev.Actor == "console:bob" && strings.Contains(ev.Reason, "handed on to the dayops process that drives the run (host-a:100:1)")
		}
		if !handed {
			t.Errorf("no audit row of bob's cancel of run %d handed on to A: %+v", id, audits)
		}
	}
	if err := h.exec.Cancel(ctx, running.ID, actor("bob"), thread); dayops.KindOf(err) != dayops.KindConflict {
		t.Errorf("cancelling an ended run through B: %v", err)
	}
}

// TestSupersedeAndWithdrawThroughAnotherReplica: runs queued (and one
// awaiting its approval) on replica A are superseded and withdrawn through
// replica B, which hands the requests on (HandedOnError) and A applies
// them at its next heartbeat. B refuses at once to supersede a run that
// runs, storing nothing; a supersede that reaches A only after its run
// started is not applied, and the run goes on.
func TestSupersedeAndWithdrawThroughAnotherReplica(t *testing.T) {
	gated := `
environments:
  production:
    approvals: {count: 1, from: [sre]}
steps:
  - name: Step
    run: echo ran >> gated.txt
`
	h, a, _ := twoReplicas(t, map[string]string{"d.yaml": def("deploy", supersedable), "g.yaml": def("gated", gated)}, false)
	ctx := context.Background()
	pr := dayops.TriggerActor(dayops.TriggerPullRequest)
	start := func(tag string) *dayops.Run {
		return startOn(t, a, dayops.RunRequest{Definition: "deploy", Environment: "staging", Params: map[string]string{"tag": tag},
			Trigger: dayops.TriggerPullRequest})
	}
	running, old, older := start("a"), start("b"), start("c")
	waitFile(t, filepath.Join(h.dir, "started.txt"))
	h.wait(old.ID, dayops.RunQueued)
	h.wait(older.ID, dayops.RunQueued)
	awaiting := startOn(t, a, dayops.RunRequest{Definition: "gated", Environment: "production"})
	h.wait(awaiting.ID, dayops.RunAwaitingApproval)

	for _, tc := range []struct {
		name     string
		id       int64
		withdraw bool
		kind     dayops.OrderKind
		state    dayops.RunState
	}{
		{"supersede a queued run", old.ID, false, dayops.OrderSupersede, dayops.RunQueued},
		{"withdraw a queued run", older.ID, true, dayops.OrderWithdraw, dayops.RunQueued},
		{"withdraw a run awaiting its approval", awaiting.ID, true, dayops.OrderWithdraw, dayops.RunAwaitingApproval},
	} {
		note := fmt.Sprintf("%s: superseded by run 99 (PR org/web#13)", tc.name)
		var ok bool
		var err error
		if tc.withdraw {
			ok, err = h.exec.Withdraw(ctx, tc.id, pr, note)
		} else {
			ok, err = h.exec.Supersede(ctx, tc.id, pr, note)
		}
		var handed *executor.HandedOnError
		if ok || !errors.As(err, &handed) || !handed.HandedOn() || handed.Owner != "host-a:100:1" || handed.Kind != tc.kind {
			t.Fatalf("%s through B = %v, %v; want false and a *HandedOnError of a %s to host-a", tc.name, ok, err, tc.kind)
		}
		got := h.done(tc.id)
		if got.State != dayops.RunCancelled || got.Reason != note || got.Steps[0].State == dayops.StepSucceeded {
			t.Errorf("%s: %s %q %v", tc.name, got.State, got.Reason, stepStates(got))
		}
		if o := orderDone(t, h, tc.id); o.Kind != tc.kind || o.Outcome != "applied" || o.Note != note {
			t.Errorf("%s: order %+v", tc.name, o)
		}
	}

	// A running run: B refuses at once and stores nothing.
	if ok, err := h.exec.Supersede(ctx, running.ID, pr, "superseded by run 99"); ok || err != nil {
		t.Errorf("superseding a running run through B = %v, %v; want false, nil", ok, err)
	}
	if orders, err := h.store.Orders(ctx, running.ID); err != nil || len(orders) != 0 {
		t.Errorf("orders of the running run: %+v, %v; want none", orders, err)
	}
	// A supersede stored while the run was queued reaches A after it
	// started: A does not apply it, and the run goes on.
	late := &dayops.RunOrder{RunID: running.ID, Kind: dayops.OrderSupersede, Actor: pr, Note: "superseded by run 99"}
	if err := h.store.AddOrder(ctx, late, dayops.AuditEvent{Actor: pr.ID}); err != nil {
		t.Fatal(err)
	}
	if o := orderDone(t, h, running.ID); o.Outcome != "not applied: the run no longer waited" {
		t.Errorf("a supersede of a running run: outcome %q", o.Outcome)
	}
	if got, err := h.store.Run(ctx, running.ID); err != nil || got.State != dayops.RunRunning {
		t.Fatalf("the running run after a late supersede: %+v, %v; want it running", got, err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, "go-a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := h.done(running.ID); got.State != dayops.RunSucceeded {
		t.Errorf("the running run ended %s: %s", got.State, got.Reason)
	}
}

// TestOrdersOfEndedRunsAreMarkedDone: an order of a run that ended before
// its replica applied it (the replica died and the run was interrupted by
// the take-over) is marked done by a live replica, and changes nothing.
func TestOrdersOfEndedRunsAreMarkedDone(t *testing.T) {
	h := newHarness(t, nil, func(o *executor.Options) { o.HeartbeatInterval = 100 * time.Millisecond })
	ctx := context.Background()
	run := storagetest.NewRun("deploy-web", "production", dayops.RunInterrupted)
	run.Owner = "host-a:100:1"
	storagetest.MustCreate(t, h.store, run)
	o := &dayops.RunOrder{RunID: run.ID, Kind: dayops.OrderCancel, Actor: actor("bob")}
	if err := h.store.AddOrder(ctx, o, dayops.AuditEvent{Actor: "console:bob"}); err != nil {
		t.Fatal(err)
	}
	if got := orderDone(t, h, run.ID); got.Outcome != "not applied: the run had ended: it interrupted" {
		t.Errorf("outcome %q", got.Outcome)
	}
	if got, err := h.store.Run(ctx, run.ID); err != nil || got.State != dayops.RunInterrupted {
		t.Errorf("the ended run: %+v, %v; want it interrupted still", got, err)
	}
}

// TestASecondCancelThroughAnotherReplicaConflicts: while a cancel handed
// on to the replica that drives the run waits for its next heartbeat, a
// second cancel is a conflict saying who asked, as a second cancel of a
// local run is; the run then ends cancelled once.
func TestASecondCancelThroughAnotherReplicaConflicts(t *testing.T) {
	body := `
steps:
  - name: Sleep
    run: sleep 300
`
	// Beats far apart, so that the second cancel comes before A's next.
	h := newHarness(t, map[string]string{"c.yaml": def("sleepy", body)}, func(o *executor.Options) {
		o.Owner = "host-b:200:2"
		o.HeartbeatInterval = 2 * time.Second
	})
	aOpts := h.opts
	aOpts.Owner, aOpts.Events = "host-a:100:1", dayops.NewBus()
	a := h.newExecutor(aOpts)
	t.Cleanup(func() { a.Close() })
	ctx := context.Background()
	r := startOn(t, a, dayops.RunRequest{Definition: "sleepy"})
	h.waitStep(r.ID, 0, dayops.StepRunning)
	if err := h.exec.Cancel(ctx, r.ID, actor("bob"), thread); err != nil {
		t.Fatalf("first cancel through B: %v", err)
	}
	err := h.exec.Cancel(ctx, r.ID, actor("carol"), thread)
	if dayops.KindOf(err) != dayops.KindConflict || !strings.Contains(dayops.UserMessage(err, ""), fmt.Sprintf("run %d is already being cancelled: bob asked", r.ID)) {
		t.Errorf("second cancel through B: %v", err)
	}
	if got := h.done(r.ID); got.State != dayops.RunCancelled || !strings.HasPrefix(got.Reason, "cancelled by bob") {
		t.Errorf("run: %s %q", got.State, got.Reason)
	}
	if o := orderDone(t, h, r.ID); o.Outcome != "applied" {
		t.Errorf("order: %+v", o)
	}
}
