package executor

import (
	"context"
	"fmt"
	"strings"

	"github.com/dayops/dayops"
)

// Run orders: with several `dayops serve` replicas on one database a
// cancel, supersede or withdraw may reach a replica that does not drive the
// run. It stores an order (storage's run_orders) and the replica that owns
// the run applies it at its next heartbeat (applyOrders), with the rules of
// a local call, and marks it done.

// orderLimit bounds how many orders one heartbeat applies.
const orderLimit = 100

// HandedOnError is what Supersede and Withdraw return, with false, for a
// run that another live dayops process drives and that still waits: the
// request is stored for that process, which applies it at its next
// heartbeat if the run still waits then. A caller that must not import
// the executor tells it apart by its HandedOn method.
type HandedOnError struct {
	RunID int64
	Owner string // the process that drives the run
	Kind  dayops.OrderKind
}

// Error says where the request went.
func (e *HandedOnError) Error() string {
	return fmt.Sprintf("run %d is driven by another dayops process (%s): the %s is handed on to it, and it ends the run if it still waits",
		e.RunID, e.Owner, e.Kind)
}

// HandedOn reports that the request was handed on, not refused.
func (e *HandedOnError) HandedOn() bool { return true }

// handOnCancel stores the cancel of run, which another live process
// drives, with ev (the audit row of the request) for that process.
// A cancel already handed on and not applied yet is a conflict, as a
// second cancel of a local run is.
func (e *Executor) handOnCancel(ctx context.Context, run *dayops.Run, who dayops.Actor, ev dayops.AuditEvent) error {
	orders, err := e.store.Orders(ctx, run.ID)
	if err != nil {
		return err
	}
	for _, o := range orders {
		if o.Kind == dayops.OrderCancel && o.DoneAt.IsZero() {
			return dayops.Errorf(dayops.KindConflict, "run %d is already being cancelled: %s asked, and the dayops process that drives it stops it at its next heartbeat",
				run.ID, o.Actor.String())
		}
	}
	ev.Reason = fmt.Sprintf("cancel requested; handed on to the dayops process that drives the run (%s)", run.Owner)
	o := &dayops.RunOrder{RunID: run.ID, Kind: dayops.OrderCancel, Actor: who, RequestedAt: e.now()}
	if err := e.store.AddOrder(ctx, o, ev); err != nil {
		return fmt.Errorf("handing the cancel of run %d on to %s: %w", run.ID, run.Owner, err)
	}
	e.logger.Info("cancel handed on to the process that drives the run", "run_id", run.ID, "owner", run.Owner)
	return nil
}

// handOn is Supersede and Withdraw of a run not driven here: when another
// live process drives it and it still waits, the request is stored for
// that process and a *HandedOnError returned; otherwise nothing is done.
func (e *Executor) handOn(ctx context.Context, id int64, who dayops.Actor, note string, awaiting bool) (bool, error) {
	run, err := e.store.Run(ctx, id)
	if dayops.KindOf(err) == dayops.KindNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if run.Owner == e.owner || e.ownerDead(run) || !stillWaits(run, awaiting) {
		return false, nil
	}
	kind := dayops.OrderSupersede
	if awaiting {
		kind = dayops.OrderWithdraw
	}
	ev := dayops.AuditEvent{Time: e.now(), Actor: who.ID, Where: run.Thread.String(), Action: "run." + string(kind),
		Target: fmt.Sprintf("run %d", id), RunID: id, Allowed: true,
		Reason: fmt.Sprintf("%s requested (%s); handed on to the dayops process that drives the run (%s)", kind, note, run.Owner)}
	o := &dayops.RunOrder{RunID: id, Kind: kind, Actor: who, Note: note, RequestedAt: e.now()}
	if err := e.store.AddOrder(ctx, o, ev); err != nil {
		return false, fmt.Errorf("handing the %s of run %d on to %s: %w", kind, id, run.Owner, err)
	}
	return false, &HandedOnError{RunID: id, Owner: run.Owner, Kind: kind}
}

// stillWaits reports whether a stored run may be superseded (queued), or
// withdrawn (also awaiting its approvals with no step begun).
func stillWaits(run *dayops.Run, awaiting bool) bool {
	if run.ParentID != 0 {
		return false
	}
	if run.State == dayops.RunQueued {
		return true
	}
	if !awaiting || run.State != dayops.RunAwaitingApproval {
		return false
	}
	for _, st := range run.Steps {
		if st.State != dayops.StepPending {
			return false
		}
	}
	return true
}

// applyOrders applies the waiting orders of the runs this executor drives
// (and marks those of runs that have ended done), once a heartbeat.
func (e *Executor) applyOrders() {
	ctx, cancel := storeCtx()
	defer cancel()
	orders, err := e.store.WaitingOrders(ctx, e.owner, orderLimit)
	if err != nil {
		e.logger.Warn("reading the orders handed on to this process", "owner", e.owner, "err", err)
		return
	}
	for _, o := range orders {
		outcome := e.applyOrder(ctx, o)
		if _, err := e.store.FinishOrder(ctx, o.ID, outcome, e.now()); err != nil {
			e.logger.Error("marking a run order done", "run_id", o.RunID, "order", o.ID, "err", err)
			continue
		}
		e.logger.Info("run order handed on", "run_id", o.RunID, "kind", o.Kind, "by", o.Actor.ID, "outcome", outcome)
	}
}

// applyOrder applies o as a local call would and says how it went:
// "applied", or why not.
func (e *Executor) applyOrder(ctx context.Context, o dayops.RunOrder) string {
	x := e.local(o.RunID)
	if x == nil || x.state().Final() {
		run, err := e.store.Run(ctx, o.RunID)
		switch {
		case err != nil:
			return "not applied: " + dayops.UserMessage(err, "")
		case run.State.Final():
			return "not applied: the run had ended: it " + strings.ReplaceAll(string(run.State), "_", " ")
		default:
			return "not applied: this dayops process does not drive the run"
		}
	}
	switch o.Kind {
	case dayops.OrderCancel:
		if !x.requestCancel(o.Actor, "") {
			return "not applied: the run was already being cancelled"
		}
		return "applied"
	case dayops.OrderSupersede, dayops.OrderWithdraw:
		if !e.withdrawLocal(x, o.Actor, o.Note, o.Kind == dayops.OrderWithdraw) {
			return "not applied: the run no longer waited"
		}
		return "applied"
	}
	return fmt.Sprintf("not applied: unknown order %q", o.Kind)
}
