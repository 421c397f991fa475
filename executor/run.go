package executor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/dayops/dayops"
)

// Causes of a run's context ending, to tell cancel from timeouts.
var (
	errCancelled   = errors.New("run cancelled")
	errRunTimeout  = errors.New("run timed out")
	errStepTimeout = errors.New("step timed out")
)

// systemActor is dayops itself in audit rows and denials it makes.
var systemActor = dayops.Actor{ID: "system:dayops", Name: "dayops"}

const storeTimeout = 30 * time.Second

// runExec is one run driven by this executor.
type runExec struct {
	e       *Executor
	id      int64
	def     *dayops.Definition
	cat     *dayops.Catalog // where def came from; nil for a run taken over
	parent  *runExec        // the run whose uses: step started this one
	pctx    context.Context // the parent's step context (children only)
	rule    *dayops.ApprovalRule
	log     *runLog
	wake    chan struct{}
	active  bool  // guarded by e.mu
	arrival int64 // its place in line for a slot (top-level runs only)

	// Touched only by the goroutine that drives the run.
	scope    dayops.Scope
	defEnv   []dayops.EnvVar
	budget   time.Duration
	failed   bool
	first    *stepResult // the first failure that failed the run
	started  bool        // a main step other than an approval began
	enqueued bool        // its concurrency queue row is written
	tmpDir   string

	mu        sync.Mutex
	run       *dayops.Run // the last snapshot from the store
	steps     []dayops.StepRun
	leftQueue bool // acquire let it go: it runs, and Supersede leaves it alone
	cancelBy  *dayops.Actor
	cancelRe  string
	stop      context.CancelCauseFunc // ends the running segment
}

// Start validates req (definition, environment, parameters, secrets),
// records the run and returns at once; the run goes on in the background on
// the executor's own context. A run whose environment declares approvals
// waits for them first.
func (e *Executor) Start(ctx context.Context, req dayops.RunRequest) (*dayops.Run, error) {
	if e.isClosed() {
		return nil, dayops.Errorf(dayops.KindUnavailable, "dayops is shutting down: try again in a minute")
	}
	p, err := e.prepare(e.catalogs.Catalog(), req, false)
	if err != nil {
		return nil, err
	}
	if err := e.checkGates(ctx, p); err != nil {
		return nil, err
	}
	if err := e.refuseLocked(ctx, p.req.Environment); err != nil {
		return nil, err
	}
	x, err := e.record(ctx, p, nil)
	if err != nil {
		return nil, err
	}
	if x.rule != nil {
		if err := x.transition(dayops.RunAwaitingApproval, x.gateText(), systemActor); err != nil {
			x.end(dayops.RunFailed, fmt.Sprintf("internal error (run %d)", x.id), systemActor)
			return nil, err
		}
	} else if opened, err := x.openFirstChecklist(); opened || err != nil {
		// A run that starts with its review waits for it from the start,
		// as it would for approvals: answers may come at once.
		if err != nil {
			x.end(dayops.RunFailed, fmt.Sprintf("internal error (run %d)", x.id), systemActor)
			return nil, err
		}
	} else if x.snapshot().ConcurrencyKey != "" {
		// Queued now, so that runs started one after the other run in
		// that order.
		if err := x.enqueue(); err != nil {
			x.end(dayops.RunFailed, fmt.Sprintf("internal error (run %d)", x.id), systemActor)
			return nil, err
		}
	}
	if !e.goDriver(x) {
		x.end(dayops.RunCancelled, "dayops shut down before the run started", systemActor)
		return nil, dayops.Errorf(dayops.KindUnavailable, "dayops is shutting down: try again in a minute")
	}
	return x.snapshot(), nil
}

// record writes the run and its planned steps with an audit row.
func (e *Executor) record(ctx context.Context, p *prepared, parent *runExec) (*runExec, error) {
	def, plan, now := p.def, p.plan, e.now()
	run := &dayops.Run{
		Definition: def.Name, Phase: def.Phase, Service: def.Service, Environment: plan.Environment,
		Params: plan.Params, Revision: plan.Revision, PlanHash: plan.Hash, ConcurrencyKey: plan.ConcurrencyKey,
		State: dayops.RunPending, RollbackOf: p.req.RollbackOf, ParentID: p.req.ParentID,
		Trigger: p.req.Trigger, Context: p.req.Context, Actor: p.req.Actor, Thread: p.req.Thread,
		Owner: e.owner, Heartbeat: now, CreatedAt: now,
	}
	for i, st := range def.Steps {
		run.Steps = append(run.Steps, dayops.StepRun{Index: i, StepID: st.ID, Name: st.Name, Kind: st.Kind, State: dayops.StepPending})
	}
	for i, st := range def.Rollback {
		run.Steps = append(run.Steps, dayops.StepRun{Index: len(def.Steps) + i, StepID: st.ID, Name: st.Name, Kind: st.Kind, Rollback: true, State: dayops.StepPending})
	}
	target := def.Name
	if plan.Environment != "" {
		target += ":" + plan.Environment
	}
	why := fmt.Sprintf("start %s at %s", target, dayops.ShortRevision(plan.Revision))
	if len(plan.Params) > 0 {
		why += " with " + dayops.FormatParams(plan.Params)
	}
	if p.req.RollbackOf != 0 {
		why += fmt.Sprintf(", rolling back run %d", p.req.RollbackOf)
	}
	if p.req.ParentID != 0 {
		why += fmt.Sprintf(", as a step of run %d", p.req.ParentID)
	}
	if reason, gates := (&dayops.Run{Context: p.req.Context}).GateOverride(); reason != "" {
		why += fmt.Sprintf(", overriding the phase gates %s: %s", gates, reason)
	}
	ev := dayops.AuditEvent{Time: now, Actor: p.req.Actor.ID, Where: p.req.Thread.String(), Action: "run.start",
		Target: target, Allowed: true, Reason: e.redactor.Redact(why)}
	if err := e.store.CreateRun(ctx, run, ev); err != nil {
		return nil, fmt.Errorf("recording a run of %s: %w", def.Name, err)
	}
	x := e.newRunExec(run, def, p.cat, parent)
	x.scope = dayops.Scope{Params: plan.Params, Environment: plan.Environment, Vars: e.opts.Vars, PR: dayops.PRContext(p.req.Context),
		Run: x.runFields(), Steps: map[string]map[string]string{}}
	for _, v := range def.Env {
		val, _ := dayops.Expand(v.Value, x.scope)
		x.defEnv = append(x.defEnv, dayops.EnvVar{Name: v.Name, Value: val})
	}
	x.emit(dayops.RunEvent{Kind: dayops.EventState, Message: e.redactor.Redact(why)})
	return x, nil
}

func (e *Executor) newRunExec(run *dayops.Run, def *dayops.Definition, cat *dayops.Catalog, parent *runExec) *runExec {
	x := &runExec{e: e, id: run.ID, def: def, cat: cat, parent: parent, run: run,
		steps: slices.Clone(run.Steps), wake: make(chan struct{}, 1), budget: e.planTimeout(def)}
	if env, ok := def.Environment(run.Environment); ok && env.Approvals != nil {
		x.rule = env.Approvals
	}
	x.log = newRunLog(e.logs, run.ID, 0, e.now, e.redactor, e.forms)
	return x
}

func (x *runExec) runFields() map[string]string {
	r := x.snapshot()
	return map[string]string{"id": fmt.Sprint(r.ID), "actor": r.Actor.ID, "revision": r.Revision, "definition": r.Definition}
}

func (e *Executor) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// snapshot is the run as last stored, with the steps as they are now.
func (x *runExec) snapshot() *dayops.Run {
	x.mu.Lock()
	defer x.mu.Unlock()
	r := *x.run
	r.Steps = slices.Clone(x.steps)
	r.Params = maps.Clone(x.run.Params)
	return &r
}

func (x *runExec) state() dayops.RunState {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.run.State
}

// poke wakes the run's driver to look again at its gate or queue.
func (x *runExec) poke() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

// transition moves the run to state to, with its audit row, and publishes it.
func (x *runExec) transition(to dayops.RunState, reason string, by dayops.Actor) error {
	reason = cleanText(x.e.redactor.Redact(reason))
	from := x.state()
	ctx, cancel := storeCtx()
	defer cancel()
	ev := dayops.AuditEvent{Time: x.e.now(), Actor: by.ID, Where: x.snapshot().Thread.String(), Action: "run.state",
		Target: fmt.Sprintf("run %d", x.id), RunID: x.id, Allowed: true, Reason: fmt.Sprintf("%s → %s", from, to)}
	if reason != "" {
		ev.Reason += ": " + reason
	}
	r, err := x.e.store.TransitionRun(ctx, x.id, to, reason, ev)
	if err != nil {
		x.e.logger.Error("moving a run", "run_id", x.id, "from", from, "to", to, "err", err)
		return fmt.Errorf("moving run %d to %s: %w", x.id, to, err)
	}
	x.mu.Lock()
	steps := x.steps
	x.run = r
	x.steps = steps
	x.mu.Unlock()
	x.emit(dayops.RunEvent{Kind: dayops.EventState, Message: reason})
	return nil
}

func (x *runExec) emit(ev dayops.RunEvent) {
	if ev.Run == nil {
		ev.Run = x.snapshot()
	}
	x.e.emit(ev)
}

// end ends the run in a final state without running anything more: the
// rollback, if due, has run already. It releases the run's queue position.
func (x *runExec) end(to dayops.RunState, reason string, by dayops.Actor) {
	x.skipPending(true)
	x.log.flush()
	if err := x.transition(to, reason, by); err != nil && !x.state().Final() {
		x.e.logger.Error("ending a run", "run_id", x.id, "state", to, "err", err)
	}
	x.release()
}

// release gives up the run's concurrency key.
func (x *runExec) release() {
	if x.snapshot().ConcurrencyKey == "" {
		return
	}
	ctx, cancel := storeCtx()
	defer cancel()
	if err := x.e.store.Dequeue(ctx, x.id); err != nil {
		x.e.logger.Error("releasing a concurrency key", "run_id", x.id, "err", err)
	}
	x.e.releaseQueue()
}

// skipPending marks the steps that never ran as skipped.
func (x *runExec) skipPending(rollbackToo bool) {
	for _, st := range x.snapshot().Steps {
		if st.State == dayops.StepPending && (rollbackToo || !st.Rollback) {
			st.State = dayops.StepSkipped
			x.updateStep(st)
		}
	}
}

// updateStep stores and publishes a step's state.
func (x *runExec) updateStep(st dayops.StepRun) {
	st.RunID = x.id
	st.Error = cleanText(x.e.redactor.Redact(st.Error))
	x.mu.Lock()
	if st.Index >= 0 && st.Index < len(x.steps) {
		x.steps[st.Index] = st
	}
	if st.State == dayops.StepRunning {
		x.run.CurrentStep = st.Name
	}
	x.mu.Unlock()
	if st.State.Final() && st.State != dayops.StepSkipped {
		// A reader of the store (the CLI, a run page) that sees the step
		// ended then also finds every line it wrote.
		x.log.flush()
	}
	ctx, cancel := storeCtx()
	defer cancel()
	if err := x.e.store.UpdateStep(ctx, st); err != nil {
		x.e.logger.Error("storing a step", "run_id", x.id, "step", st.Index, "err", err)
	}
	x.emit(dayops.RunEvent{Kind: dayops.EventStep, Step: &st, Message: stepMessage(st)})
}

func stepMessage(st dayops.StepRun) string {
	return fmt.Sprintf("step %s %s%s", st.Name, st.State, st.Details())
}

func (x *runExec) step(i int) dayops.StepRun {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.steps[i]
}

// requestCancel asks the run to stop: a running step is terminated, the rest
// skipped, the rollback run. It reports whether this was the first request.
func (x *runExec) requestCancel(by dayops.Actor, why string) bool {
	x.mu.Lock()
	first := x.cancelBy == nil
	if first {
		x.cancelBy, x.cancelRe = &by, why
	}
	stop := x.stop
	x.mu.Unlock()
	if stop != nil {
		stop(errCancelled)
	}
	x.poke()
	return first
}

func (x *runExec) cancelled() (dayops.Actor, string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cancelBy == nil {
		return dayops.Actor{}, "", false
	}
	return *x.cancelBy, x.cancelRe, true
}

// cancelReason says who cancelled, for the run's Reason.
func (x *runExec) cancelReason() (string, dayops.Actor) {
	by, why, ok := x.cancelled()
	if !ok {
		if x.parent != nil {
			return fmt.Sprintf("cancelled with run %d, which used it", x.parent.id), systemActor
		}
		return "cancelled", systemActor
	}
	if why != "" {
		return why, by
	}
	return "cancelled by " + by.String(), by
}

// finished forgets the run once its driver is done.
func (e *Executor) finished(x *runExec) {
	e.slots.settle(x.arrival)
	e.setActive(x, false)
	e.mu.Lock()
	delete(e.runs, x.id)
	e.mu.Unlock()
	if x.tmpDir != "" {
		removeAll(x.tmpDir)
	}
}

// register makes a run reachable for Approve and Cancel (child runs have no
// driver of their own).
func (e *Executor) register(x *runExec) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runs[x.id] = x
}

func (e *Executor) local(id int64) *runExec {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runs[id]
}

// sortedRuns orders runs by ID, oldest first.
func sortedRuns(runs []*dayops.Run) []*dayops.Run {
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
	return runs
}
