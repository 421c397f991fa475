package executor

import (
	"context"
	"fmt"
	"strings"

	"github.com/dayops/dayops"
)

// Cancel stops a run: a running step's processes get SIGTERM, then SIGKILL
// after the grace period; the remaining steps are skipped and the rollback
// runs; the run ends cancelled. A run that waits (for an approval or its turn)
// just ends cancelled. A run that another live dayops process drives (a
// replica on the same database) is cancelled by that process: the cancel is
// stored for it, and it applies it at its next heartbeat.
func (e *Executor) Cancel(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) error {
	ev := dayops.AuditEvent{Time: e.now(), Actor: who.ID, Where: where.String(), Action: "run.cancel",
		Target: fmt.Sprintf("run %d", runID), RunID: runID, Allowed: true, Reason: "cancel requested"}
	if x := e.local(runID); x != nil && !x.state().Final() {
		if err := e.store.Audit(ctx, ev); err != nil {
			return fmt.Errorf("auditing a cancel of run %d: %w", runID, err)
		}
		if !x.requestCancel(who, "") {
			return dayops.Errorf(dayops.KindConflict, "run %d is already being cancelled", runID)
		}
		return nil
	}
	run, err := e.store.Run(ctx, runID)
	if err != nil {
		return err
	}
	if run.State.Final() {
		return dayops.Errorf(dayops.KindConflict, "run %d has already ended: it %s", runID, strings.ReplaceAll(string(run.State), "_", " "))
	}
	if !e.ownerDead(run) {
		return e.handOnCancel(ctx, run, who, ev)
	}
	reason := "cancelled by " + who.String() + " after its dayops process had stopped"
	if killed := e.killLeftovers(run); killed != "" {
		reason += "; " + killed
	}
	ev.Reason = fmt.Sprintf("%s → %s: %s", run.State, dayops.RunCancelled, reason)
	r, err := e.store.TransitionRun(ctx, runID, dayops.RunCancelled, reason, ev)
	if err != nil {
		return err
	}
	if err := e.store.Dequeue(ctx, runID); err != nil {
		e.logger.Error("releasing the queue of a cancelled run", "run_id", runID, "err", err)
	}
	e.releaseQueue()
	e.emit(dayops.RunEvent{Kind: dayops.EventState, Run: r, Message: reason})
	return nil
}
