package executor

import (
	"context"

	"github.com/dayops/dayops"
)

// Supersede ends run id as cancelled, with note as its reason, if it is
// still queued: waiting for its turn, nothing of it run. A run that has
// left its queue (it runs, or is about to), waits for an approval, or has
// ended is left alone. It reports whether the run was superseded. who (the
// trigger identity that starts the newer run) is audited as the one who
// cancelled it, in the audit row of the run's move to cancelled. For a
// queued run that another live dayops process drives it stores the request
// for that process, which supersedes the run at its next heartbeat if it
// is still queued then, and returns false with a *HandedOnError.
func (e *Executor) Supersede(ctx context.Context, id int64, who dayops.Actor, note string) (bool, error) {
	return e.withdraw(ctx, id, who, note, false)
}

// Withdraw is Supersede that also ends a run waiting for the approvals it
// needs before it starts (never one waiting at an approval step, which has
// run steps already): the run of an alert that resolved before anyone
// approved it. Approving and withdrawing exclude each other like leaving
// the queue and superseding.
func (e *Executor) Withdraw(ctx context.Context, id int64, who dayops.Actor, note string) (bool, error) {
	return e.withdraw(ctx, id, who, note, true)
}

func (e *Executor) withdraw(ctx context.Context, id int64, who dayops.Actor, note string, awaiting bool) (bool, error) {
	note = cleanText(e.redactor.Redact(note))
	x := e.local(id)
	if x == nil {
		return e.handOn(ctx, id, who, note, awaiting)
	}
	return e.withdrawLocal(x, who, note, awaiting), nil
}

// withdrawLocal is withdraw of a run driven here.
func (e *Executor) withdrawLocal(x *runExec, who dayops.Actor, note string, awaiting bool) bool {
	x.mu.Lock()
	waits := x.run.State == dayops.RunQueued
	if awaiting && x.run.State == dayops.RunAwaitingApproval {
		waits = true
		for _, st := range x.steps {
			waits = waits && st.State == dayops.StepPending
		}
	}
	ok := waits && !x.leftQueue && x.cancelBy == nil && x.parent == nil
	if ok {
		// Claimed under the lock acquire takes to leave the queue: the
		// run cannot start running after this.
		x.cancelBy, x.cancelRe = &who, note
	}
	x.mu.Unlock()
	if !ok {
		return false
	}
	x.poke()
	return true
}
