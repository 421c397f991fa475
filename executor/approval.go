package executor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

type decisionKind int

const (
	decApproved  decisionKind = iota
	decDenied                 // a valid denial
	decExpired                // the gate's TTL passed
	decCancelled              // cancel while waiting
	decShutdown               // the executor is closing; the gate survives in the store
	decGone                   // the run ended elsewhere
	decFailed                 // a checklist question was answered no
)

// decision is how a gate was decided.
type decision struct {
	kind   decisionKind
	reason string // who approved, or why it ended
	by     dayops.Actor
}

func (d decision) state() dayops.RunState {
	switch d.kind {
	case decCancelled:
		return dayops.RunCancelled
	case decFailed:
		return dayops.RunFailed
	}
	return dayops.RunDenied
}

// gateRule is the rule of a gate: the environment's, and for approval steps
// of a run without one, one approval from anyone who may run it.
func (x *runExec) gateRule() dayops.ApprovalRule {
	if x.rule != nil {
		return *x.rule
	}
	return dayops.ApprovalRule{Count: 1}
}

func (x *runExec) gateText() string {
	rule := x.gateRule()
	roles := x.e.opts.Policy.ApproverRoles(x.def, x.snapshot().Environment, rule)
	who := "anyone who may run it"
	if len(roles) > 0 {
		who = "role " + strings.Join(roles, ", ")
	}
	return fmt.Sprintf("waiting for %s from %s (not the requester)", approvalsText(rule.Count), who)
}

func (x *runExec) stepGateText(i int) string {
	if c := x.def.Steps[i].Checklist; c != nil {
		return checklistText(x.id, x.def.Steps[i].Name, c)
	}
	text, _ := dayops.Expand(x.def.Steps[i].Approval, x.scope)
	return fmt.Sprintf("step %s: %s — %s", x.def.Steps[i].Name, dayops.Truncate(text, 300), x.gateText())
}

func approvalsText(n int) string {
	if n == 1 {
		return "1 approval"
	}
	return fmt.Sprintf("%d approvals", n)
}

// awaitGate waits until gate is decided: approved, denied, expired, the run
// cancelled, or the executor closing. Decisions are read from the store, so
// an approval given through another process counts too.
func (x *runExec) awaitGate(gate string, opened time.Time) decision {
	if opened.IsZero() {
		opened = x.e.now()
	}
	poll := x.e.opts.HeartbeatInterval
	var parentDone <-chan struct{}
	shutdown := x.e.ctx.Done()
	if x.pctx != nil {
		parentDone = x.pctx.Done()
		shutdown = nil // Close cancels children through their parent
	}
	for {
		if by, why, ok := x.cancelled(); ok {
			if why == "" {
				why = "cancelled by " + by.String() + " while waiting for approval"
			}
			return decision{kind: decCancelled, reason: why, by: by}
		}
		if x.pctx != nil && x.pctx.Err() != nil {
			reason, by := x.cancelReason()
			return decision{kind: decCancelled, reason: reason, by: by}
		}
		d, ok := x.evaluate(gate)
		if ok {
			return d
		}
		left := opened.Add(x.e.opts.ApprovalTTL).Sub(x.e.now())
		if left <= 0 {
			return decision{kind: decExpired, by: systemActor,
				reason: fmt.Sprintf("no decision within %s: the approval expired", x.e.opts.ApprovalTTL)}
		}
		t := time.NewTimer(min(left, poll))
		select {
		case <-x.wake:
		case <-t.C:
		case <-parentDone:
		case <-shutdown:
			t.Stop()
			return decision{kind: decShutdown}
		}
		t.Stop()
	}
}

// evaluate reads the gate's approvals and decides when it can.
func (x *runExec) evaluate(gate string) (decision, bool) {
	ctx, cancel := storeCtx()
	defer cancel()
	r, err := x.e.store.Run(ctx, x.id)
	if err != nil {
		x.e.logger.Error("reading a run at its gate", "run_id", x.id, "err", err)
		return decision{}, false
	}
	if r.State.Final() {
		return decision{kind: decGone}, true
	}
	if i, ok := checklistGate(x.def, gate); ok {
		return x.evaluateChecklist(ctx, i)
	}
	list, err := x.e.store.Approvals(ctx, x.id, gate)
	if err != nil {
		x.e.logger.Error("reading approvals", "run_id", x.id, "err", err)
		return decision{}, false
	}
	var names []string
	for _, a := range list {
		if !a.Valid {
			continue
		}
		if !a.Approved {
			reason := "denied by " + a.Actor.String()
			if a.Reason != "" {
				reason += ": " + a.Reason
			}
			return decision{kind: decDenied, reason: reason, by: a.Actor}, true
		}
		if a.PlanHash == r.PlanHash {
			names = append(names, a.Actor.String())
		}
	}
	if have, need := x.e.opts.Policy.Tally(dayops.Gate{Run: r, Def: x.def, Rule: x.gateRule(), Prior: list}); have >= need {
		return decision{kind: decApproved, reason: strings.Join(names, ", ")}, true
	}
	return decision{}, false
}

// Approve records who's approval of the gate run runID waits at. The
// requester's own approval, a second one by the same person, one from someone
// without an approving role, and one for a plan that no longer matches the
// current definitions do not count: the Approval is then recorded with Valid
// false and its Note, and returned together with an error saying why. When
// the definitions changed, the run is denied as well (a new run must be
// planned and approved). Note says "1 of 2 approvals" when it counts.
func (e *Executor) Approve(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) (*dayops.Approval, error) {
	run, gate, x, err := e.gateOf(ctx, runID)
	if err != nil {
		return nil, err
	}
	def, rule := e.ruleOf(run, x)
	if _, ok := checklistGate(def, gate); ok {
		return nil, dayops.Errorf(dayops.KindConflict, "run %d waits for the answers to its checklist, not for an approval: answer %d QUESTION yes|no [note]", runID, runID)
	}
	a := &dayops.Approval{RunID: runID, Gate: gate, Actor: who, Approved: true, PlanHash: run.PlanHash}
	prior, err := e.store.Approvals(ctx, runID, gate)
	if err != nil {
		return nil, fmt.Errorf("reading approvals of run %d: %w", runID, err)
	}
	var refusal *dayops.Error
	changed := ""
	counted := 0
	if def == nil {
		refusal = dayops.Errorf(dayops.KindConflict, "the definition of run %d at %s is no longer available, so its approvers cannot be checked: start a new run", runID, dayops.ShortRevision(run.Revision))
	} else {
		g := dayops.Gate{Run: run, Def: def, Rule: rule, Prior: prior}
		counted, _ = e.opts.Policy.Tally(g)
		v := e.opts.Policy.MayDecide(who, g, true)
		switch {
		case !v.Allowed:
			refusal = v.Err().(*dayops.Error)
		case gate == dayops.GateEnvironment:
			changed = e.planChanged(run)
			if changed != "" {
				refusal = dayops.Errorf(dayops.KindConflict, "%s", changed)
			}
		}
	}
	a.Have, a.Need = counted, max(rule.Count, 1)
	if refusal != nil {
		a.Note = refusal.Message
	} else {
		a.Valid = true
		a.Have++
		a.Note = fmt.Sprintf("%d of %d approvals", a.Have, a.Need)
	}
	a.Note = e.redactor.Redact(a.Note)
	ev := dayops.AuditEvent{Time: e.now(), Actor: who.ID, Where: where.String(), Action: "approval",
		Target: fmt.Sprintf("run %d %s", runID, gate), RunID: runID, Allowed: a.Valid, Reason: a.Note}
	if err := e.store.AddApproval(ctx, a, ev); err != nil {
		return nil, fmt.Errorf("recording an approval of run %d: %w", runID, err)
	}
	e.emit(dayops.RunEvent{Kind: dayops.EventApproval, Run: run, Approval: a, Message: a.Note})
	if changed != "" {
		// The approver saw a plan that is no longer what would run: deny.
		deny := &dayops.Approval{RunID: runID, Gate: gate, Actor: systemActor, Approved: false, Valid: true,
			PlanHash: run.PlanHash, Reason: changed, Note: "denied: the definitions changed"}
		ev := dayops.AuditEvent{Time: e.now(), Actor: systemActor.ID, Where: where.String(), Action: "approval",
			Target: fmt.Sprintf("run %d %s", runID, gate), RunID: runID, Allowed: true, Reason: "denied: " + changed}
		if err := e.store.AddApproval(ctx, deny, ev); err != nil {
			return a, fmt.Errorf("denying run %d: %w", runID, err)
		}
		e.emit(dayops.RunEvent{Kind: dayops.EventApproval, Run: run, Approval: deny, Message: deny.Note})
	}
	if refusal == nil && a.Have >= a.Need && x != nil {
		// The gate is passed: the run counts as active from now, so that
		// Wait does not return in the moment before its driver sees it.
		e.setActive(x, true)
	}
	e.decided(ctx, run, x)
	if refusal != nil {
		return a, refusal
	}
	return a, nil
}

// Deny records a denial of the gate run runID waits at, which ends the run
// (a run denied at a mid-run approval step is rolled back). The requester may
// deny their own run; anyone else needs an approving role.
func (e *Executor) Deny(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread, reason string) error {
	run, gate, x, err := e.gateOf(ctx, runID)
	if err != nil {
		return err
	}
	def, rule := e.ruleOf(run, x)
	reason = dayops.Truncate(cleanText(e.redactor.Redact(reason)), 500)
	a := &dayops.Approval{RunID: runID, Gate: gate, Actor: who, Approved: false, PlanHash: run.PlanHash, Reason: reason, Valid: true, Note: "denied"}
	var refusal *dayops.Error
	if def != nil {
		if v := e.opts.Policy.MayDecide(who, dayops.Gate{Run: run, Def: def, Rule: rule}, false); !v.Allowed {
			refusal = v.Err().(*dayops.Error)
			a.Valid, a.Note = false, refusal.Message
		}
	}
	ev := dayops.AuditEvent{Time: e.now(), Actor: who.ID, Where: where.String(), Action: "denial",
		Target: fmt.Sprintf("run %d %s", runID, gate), RunID: runID, Allowed: a.Valid, Reason: a.Note}
	if reason != "" {
		ev.Reason += ": " + reason
	}
	if err := e.store.AddApproval(ctx, a, ev); err != nil {
		return fmt.Errorf("recording a denial of run %d: %w", runID, err)
	}
	e.emit(dayops.RunEvent{Kind: dayops.EventApproval, Run: run, Approval: a, Message: ev.Reason})
	if refusal != nil {
		return refusal
	}
	e.decided(ctx, run, x)
	return nil
}

// gateOf finds the gate a run waits at.
func (e *Executor) gateOf(ctx context.Context, runID int64) (*dayops.Run, string, *runExec, error) {
	run, err := e.store.Run(ctx, runID)
	if err != nil {
		return nil, "", nil, err
	}
	if run.State != dayops.RunAwaitingApproval {
		return nil, "", nil, dayops.Errorf(dayops.KindConflict, "run %d is not waiting for an approval: it is %s", runID, strings.ReplaceAll(string(run.State), "_", " "))
	}
	gate := dayops.GateEnvironment
	for _, st := range run.Steps {
		if st.State == dayops.StepAwaitingApproval {
			gate = gateName(st.Index)
		}
	}
	return run, gate, e.local(runID), nil
}

// ruleOf returns the run's definition (as it runs, or nil when unknown) and
// its gate rule.
func (e *Executor) ruleOf(run *dayops.Run, x *runExec) (*dayops.Definition, dayops.ApprovalRule) {
	if x != nil {
		return x.def, x.gateRule()
	}
	def := e.definitionFor(run)
	if def == nil {
		return nil, dayops.ApprovalRule{Count: 1}
	}
	if env, ok := def.Environment(run.Environment); ok && env.Approvals != nil {
		return def, *env.Approvals
	}
	return def, dayops.ApprovalRule{Count: 1}
}

// definitionFor is the definition a stored run runs: at its revision, or the
// current one when that is the same revision.
func (e *Executor) definitionFor(run *dayops.Run) *dayops.Definition {
	if cat := e.catalogs.Catalog(); cat.Revision() == run.Revision {
		if d, ok := cat.Lookup(run.Definition); ok {
			return d
		}
	}
	ctx, cancel := storeCtx()
	defer cancel()
	d, err := e.catalogs.DefinitionAt(ctx, run.Revision, run.Definition)
	if err != nil {
		return nil
	}
	return d
}

// decided makes the run's driver look at its gate now; a run nobody drives
// any more is taken over.
func (e *Executor) decided(ctx context.Context, run *dayops.Run, x *runExec) {
	if x != nil {
		x.poke()
		return
	}
	if run.Owner != e.owner && e.ownerDead(run) {
		if err := e.adopt(ctx, run); err != nil && dayops.KindOf(err) != dayops.KindConflict {
			e.logger.Error("taking over a run", "run_id", run.ID, "err", err)
		}
	}
}

// planChanged says how the current definitions differ from the plan the run
// was approved for, or "" when they would produce the same plan.
func (e *Executor) planChanged(run *dayops.Run) string {
	cat := e.catalogs.Catalog()
	short := dayops.ShortRevision(run.Revision)
	def, ok := cat.Lookup(run.Definition)
	if !ok {
		return fmt.Sprintf("definition %s was removed since run %d was planned at %s; start a new run", run.Definition, run.ID, short)
	}
	if dayops.PlanHash(cat.Revision(), def, run.Environment, run.Params) == run.PlanHash {
		return ""
	}
	if old := e.definitionFor(run); old != nil && string(old.Source.Content) == string(def.Source.Content) {
		return fmt.Sprintf("the ops repo changed (now at %s) since run %d was planned at %s; start a new run to approve what would run now",
			dayops.ShortRevision(cat.Revision()), run.ID, short)
	}
	return fmt.Sprintf("the definition changed since this run was planned at %s; start a new run", short)
}
