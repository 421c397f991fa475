package executor

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/dayops/dayops"
)

// drive takes a top-level run from where it is (pending, awaiting an
// approval, or taken over at a mid-run gate) to its end.
func (x *runExec) drive() {
	defer x.e.finished(x)
	x.run0(func(job func()) { x.e.inSlot(x, job) })
}

// run0 is the life of a run; exec runs a segment of steps (in one of the
// executor's slots for top-level runs, in place for child runs).
func (x *runExec) run0(exec func(func())) {
	from, atGate, early := 0, false, false
	if x.state() == dayops.RunAwaitingApproval {
		if gate := x.stepGate(); gate >= 0 {
			// Waiting at a step: a mid-run approval (taken over), or a
			// first-step checklist, before the run was queued (early).
			from, atGate = gate, true
			early = gate == 0 && x.snapshot().StartedAt.IsZero()
		} else {
			switch d := x.awaitGate(dayops.GateEnvironment, x.snapshot().CreatedAt); d.kind {
			case decApproved:
			case decShutdown, decGone:
				return
			default:
				x.end(d.state(), d.reason, d.by)
				return
			}
		}
	}
	if !atGate {
		x.e.setActive(x, true)
		if !x.acquire() {
			return
		}
	}
	for {
		if !atGate {
			gate := -1
			exec(func() { gate = x.segment(from) })
			if gate < 0 {
				return
			}
			from = gate
		}
		atGate = false
		x.e.setActive(x, false)
		st := x.step(from)
		d := x.awaitGate(gateName(from), st.StartedAt)
		switch d.kind {
		case decShutdown, decGone:
			return
		case decApproved:
			x.e.setActive(x, true)
			st.State, st.EndedAt = dayops.StepSucceeded, x.e.now()
			x.updateStep(st)
			if x.def.Steps[from].Kind == dayops.StepKindChecklist {
				x.log.system(from, "%s", d.reason)
			} else {
				x.log.system(from, "approved by %s", d.reason)
			}
			from++
			if early {
				early = false
				if !x.acquire() {
					return
				}
			}
			continue
		}
		x.e.setActive(x, true)
		st.State, st.EndedAt, st.Error = dayops.StepFailed, x.e.now(), d.reason
		x.updateStep(st)
		exec(func() { x.abortAtGate(d) })
		return
	}
}

func gateName(step int) string { return fmt.Sprintf("step:%d", step) }

// isGate reports whether steps of kind k wait for people (an approval, a
// checklist) instead of running.
func isGate(k dayops.StepKind) bool {
	return k == dayops.StepKindApproval || k == dayops.StepKindChecklist
}

// stepGate is the index of the approval step the run waits at, or -1.
func (x *runExec) stepGate() int {
	for _, st := range x.snapshot().Steps {
		if st.State == dayops.StepAwaitingApproval {
			return st.Index
		}
	}
	return -1
}

// segment runs main steps from index from until the run ends or reaches an
// approval step; it returns that step's index, or -1 when the run ended.
func (x *runExec) segment(from int) int {
	if x.state() != dayops.RunRunning {
		if err := x.transition(dayops.RunRunning, "", systemActor); err != nil {
			x.abandon(err)
			return -1
		}
	}
	dir, release, err := x.checkout()
	if err != nil {
		x.finishWith(outcome{state: dayops.RunFailed, reason: err.Error()})
		return -1
	}
	defer release()

	ctx, stop := x.runContext()
	defer stop(nil)
	began := time.Now()
	gate, out := x.mainSteps(ctx, dir, from)
	x.budget -= time.Since(began)
	x.mu.Lock()
	x.stop = nil
	x.mu.Unlock()
	if gate >= 0 {
		if c := x.def.Steps[gate].Checklist; c != nil {
			if err := x.openChecklist(gate, c); err != nil {
				x.abandon(err)
				return -1
			}
		}
		st := x.step(gate)
		st.State, st.StartedAt = dayops.StepAwaitingApproval, x.e.now()
		x.updateStep(st)
		if err := x.transition(dayops.RunAwaitingApproval, x.stepGateText(gate), systemActor); err != nil {
			x.abandon(err)
			return -1
		}
		return gate
	}
	x.finishWith(out, dir)
	return -1
}

// runContext is the context of a running segment: it ends on cancel and when
// the run's time budget is spent. Children inherit their parent's.
func (x *runExec) runContext() (context.Context, context.CancelCauseFunc) {
	parent := context.Background()
	if x.pctx != nil {
		parent = x.pctx
	}
	ctx, cancelTimeout := context.WithTimeoutCause(parent, max(x.budget, time.Millisecond), errRunTimeout)
	ctx, stop := context.WithCancelCause(ctx)
	x.mu.Lock()
	x.stop = stop
	cancelled := x.cancelBy != nil
	x.mu.Unlock()
	if cancelled {
		stop(errCancelled)
	}
	return ctx, func(cause error) {
		stop(cause)
		cancelTimeout()
	}
}

func (x *runExec) checkout() (string, func(), error) {
	ctx, cancel := storeCtx()
	defer cancel()
	rev := x.snapshot().Revision
	dir, release, err := x.e.workspace.Checkout(ctx, rev)
	if err != nil {
		x.e.logger.Error("checking out the ops repo", "run_id", x.id, "revision", rev, "err", err)
		return "", nil, fmt.Errorf("the ops repo at %s could not be checked out (%s)", dayops.ShortRevision(rev), dayops.UserMessage(err, fmt.Sprintf("run %d", x.id)))
	}
	if x.tmpDir == "" {
		if x.tmpDir, err = os.MkdirTemp("", fmt.Sprintf("dayops-run-%d-", x.id)); err != nil {
			release()
			return "", nil, fmt.Errorf("creating a temporary folder: %w", err)
		}
	}
	return dir, release, nil
}

// abandon stops driving a run that could not be moved: most often another
// process ended it (a recovery that took it for dead).
func (x *runExec) abandon(err error) {
	ctx, cancel := storeCtx()
	defer cancel()
	if r, rerr := x.e.store.Run(ctx, x.id); rerr == nil && r.State.Final() {
		x.e.logger.Warn("run ended elsewhere; no longer driving it", "run_id", x.id, "state", r.State)
		x.release()
		return
	}
	x.log.flush()
	x.e.logger.Error("driving a run", "run_id", x.id, "err", err)
}

// outcome is how the main steps ended.
type outcome struct {
	state  dayops.RunState
	reason string
	by     dayops.Actor
}

// mainSteps runs the main steps from index from. It stops at an approval step
// (returning its index) or when the steps are done, failed beyond repair,
// cancelled or out of time.
func (x *runExec) mainSteps(ctx context.Context, dir string, from int) (int, outcome) {
	steps := x.def.Steps
	for i := from; i < len(steps); i++ {
		if ctx.Err() != nil {
			break
		}
		st := steps[i]
		if !runsMain(st.If, x.failed) {
			x.skip(i, fmt.Sprintf("skipped: if %s", st.If))
			continue
		}
		if isGate(st.Kind) {
			return i, outcome{}
		}
		x.started = true
		res := x.runStep(ctx, dir, i, st)
		if res.state != dayops.StepSucceeded && !st.ContinueOnError && !x.failed {
			x.failed = true
			x.first = &res
		}
	}
	return -1, x.outcome(ctx)
}

// runsMain applies a main step's if: condition.
func runsMain(c dayops.Condition, failed bool) bool {
	switch c {
	case dayops.IfAlways:
		return true
	case dayops.IfFailure:
		return failed
	}
	return !failed
}

// runsRollback applies a rollback step's if: inside the rollback, which only
// ever runs after something went wrong: failure() means after an earlier
// rollback step failed; anything else runs always (the loader fills
// success() in when if: is left out).
func runsRollback(c dayops.Condition, rollbackFailed bool) bool {
	if c == dayops.IfFailure {
		return rollbackFailed
	}
	return true
}

func (x *runExec) skip(i int, why string) {
	st := x.step(i)
	st.State, st.Error = dayops.StepSkipped, why
	x.updateStep(st)
}

// outcome decides the run's end from the context and the first failure.
func (x *runExec) outcome(ctx context.Context) outcome {
	during := ""
	if cur := x.snapshot().CurrentStep; cur != "" {
		during = " during step " + cur
	}
	switch context.Cause(ctx) {
	case errCancelled:
		reason, by := x.cancelReason()
		return outcome{state: dayops.RunCancelled, reason: reason + during, by: by}
	case errRunTimeout:
		return outcome{state: dayops.RunTimedOut, reason: fmt.Sprintf("the run timed out after %s%s", x.e.planTimeout(x.def), during), by: systemActor}
	}
	if x.first != nil {
		if x.first.state == dayops.StepTimedOut {
			return outcome{state: dayops.RunTimedOut, reason: x.first.message, by: systemActor}
		}
		return outcome{state: dayops.RunFailed, reason: x.first.message, by: systemActor}
	}
	return outcome{state: dayops.RunSucceeded, by: systemActor}
}

// finishWith runs the rollback when it is due and ends the run.
func (x *runExec) finishWith(out outcome, dir ...string) {
	x.skipPending(false)
	if out.state != dayops.RunSucceeded && len(x.def.Rollback) > 0 && x.started && len(dir) > 0 {
		out.reason += x.rollback(dir[0])
	}
	x.end(out.state, out.reason, out.by)
}

// abortAtGate ends a run whose mid-run approval was denied, expired or
// cancelled: what already ran is rolled back.
func (x *runExec) abortAtGate(d decision) {
	out := outcome{state: d.state(), reason: d.reason, by: d.by}
	if len(x.def.Rollback) == 0 || !x.started {
		x.end(out.state, out.reason, out.by)
		return
	}
	if err := x.transition(dayops.RunRunning, "rolling back: "+d.reason, d.by); err != nil {
		x.abandon(err)
		return
	}
	dir, release, err := x.checkout()
	if err != nil {
		x.end(out.state, out.reason+"; the rollback could not run: "+err.Error(), out.by)
		return
	}
	defer release()
	x.finishWith(out, dir)
}

// rollback runs the rollback steps and returns what to add to the reason.
// It has its own time budget and ignores cancellation: a half-done rollback
// is worse than a finished one.
func (x *runExec) rollback(dir string) string {
	x.setRollback(dayops.RollbackRunning)
	ctx, cancel := context.WithTimeoutCause(context.Background(), x.e.planTimeout(x.def), errRunTimeout)
	defer cancel()
	n := len(x.def.Steps)
	failed := false
	var first *stepResult
	for i, st := range x.def.Rollback {
		if !runsRollback(st.If, failed) {
			x.skip(n+i, fmt.Sprintf("skipped: if %s", st.If))
			continue
		}
		if isGate(st.Kind) {
			x.skip(n+i, fmt.Sprintf("skipped: %s steps do not run in a rollback", st.Kind))
			continue
		}
		res := x.runStep(ctx, dir, n+i, st)
		if res.state != dayops.StepSucceeded && !st.ContinueOnError && !failed {
			failed, first = true, &res
		}
	}
	if failed {
		x.setRollback(dayops.RollbackFailed)
		return "; the rollback failed: " + first.message
	}
	x.setRollback(dayops.RolledBack)
	return "; rolled back"
}

func (x *runExec) setRollback(st dayops.RollbackState) {
	ctx, cancel := storeCtx()
	defer cancel()
	ev := dayops.AuditEvent{Time: x.e.now(), Actor: systemActor.ID, Where: x.snapshot().Thread.String(), Action: "run.rollback",
		Target: fmt.Sprintf("run %d", x.id), RunID: x.id, Allowed: true, Reason: string(st)}
	if err := x.e.store.SetRollbackState(ctx, x.id, st, ev); err != nil {
		x.e.logger.Error("storing a rollback state", "run_id", x.id, "err", err)
	}
	x.mu.Lock()
	r := *x.run
	r.Rollback = st
	x.run = &r
	x.mu.Unlock()
	x.emit(dayops.RunEvent{Kind: dayops.EventState, Message: "rollback: " + string(st)})
}
