package bottest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dayops/dayops"
)

// Engine is a bot.Engine that records calls and keeps the runs it starts in
// a Store. Its exported fields are what it answers.
type Engine struct {
	mu         sync.Mutex
	Store      *Store
	calls      []string
	requests   []dayops.RunRequest
	PlanAnswer *dayops.Plan
	PlanErr    error
	StartErr   error
	// OnStart runs before Start returns, with the new run: tests use it to
	// send events the way an executor may, before the caller hears back.
	OnStart    func(r *dayops.Run)
	ApproveErr error
	Approval   *dayops.Approval
	OnApprove  func(a *dayops.Approval) // like OnStart, before Approve returns
	DenyErr    error
	AnswerErr  error
	CancelErr  error
	LockErr    error
	// HandOn makes Supersede and Withdraw hand the request on (false and
	// a *HandedOn error), as the executor does for a run another replica
	// drives.
	HandOn bool
	// since and diff are what Changes answers.
	Since, Diff string
}

func (e *Engine) Changes(ctx context.Context, name, env string) (string, string, error) {
	e.record("changes " + name + " " + env)
	return e.Since, e.Diff, nil
}

func (e *Engine) record(call string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, call)
}

// Requests returns the run requests Start was given.
func (e *Engine) Requests() []dayops.RunRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

// Calls returns the calls made so far, one line each ("start deploy-web staging").
func (e *Engine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

func (e *Engine) Plan(ctx context.Context, req dayops.RunRequest) (*dayops.Plan, error) {
	e.record("plan " + req.Definition + " " + req.Environment)
	if e.PlanErr != nil {
		return nil, e.PlanErr
	}
	if e.PlanAnswer == nil {
		return nil, dayops.Errorf(dayops.KindInvalid, "no plan in this test")
	}
	return e.PlanAnswer, nil
}

func (e *Engine) Start(ctx context.Context, req dayops.RunRequest) (*dayops.Run, error) {
	e.record("start " + req.Definition + " " + req.Environment)
	e.mu.Lock()
	e.requests = append(e.requests, req)
	e.mu.Unlock()
	if e.StartErr != nil {
		return nil, e.StartErr
	}
	r := &dayops.Run{
		Definition: req.Definition, Environment: req.Environment, Params: req.Params,
		Actor: req.Actor, Thread: req.Thread, Trigger: req.Trigger, Context: req.Context, State: dayops.RunPending,
		Revision: "0123456789abcdef0123", Phase: dayops.Day1,
		Steps: []dayops.StepRun{{Index: 0, Name: "Back up", State: dayops.StepPending}, {Index: 1, Name: "Install", State: dayops.StepPending}},
	}
	e.Store.Add(r)
	if e.OnStart != nil {
		e.OnStart(r)
	}
	cp := *r
	return &cp, nil
}

func (e *Engine) Approve(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) (*dayops.Approval, error) {
	e.record(fmt.Sprintf("approve %d %s", runID, who.ID))
	if e.ApproveErr != nil {
		return nil, e.ApproveErr
	}
	a := &dayops.Approval{RunID: runID, Gate: dayops.GateEnvironment, Actor: who, Approved: true, Valid: true, Need: 1}
	if e.Approval != nil {
		a = e.Approval
	}
	if prior, err := e.Store.Approvals(ctx, runID, a.Gate); err == nil && a.Valid && a.Need > 0 {
		a.Have = 1
		for _, p := range prior {
			if p.Valid && p.Approved {
				a.Have++
			}
		}
	}
	e.Store.AddApproval(*a)
	if e.OnApprove != nil {
		e.OnApprove(a)
	}
	return a, nil
}

// Answer records the answer in the store's checklist, as the executor
// would, or fails with AnswerErr.
func (e *Engine) Answer(ctx context.Context, runID int64, question int, yes bool, note string, who dayops.Actor, where dayops.Thread) (*dayops.Answer, error) {
	ans := dayops.AnswerNo
	if yes {
		ans = dayops.AnswerYes
	}
	e.record(fmt.Sprintf("answer %d %d %s %s", runID, question, ans, who.ID))
	if e.AnswerErr != nil {
		return nil, e.AnswerErr
	}
	return e.Store.answer(runID, question, ans, note, who)
}

func (e *Engine) Deny(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread, reason string) error {
	e.record(fmt.Sprintf("deny %d %s %s", runID, who.ID, reason))
	return e.DenyErr
}

func (e *Engine) Cancel(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) error {
	e.record(fmt.Sprintf("cancel %d %s", runID, who.ID))
	return e.CancelErr
}

// Withdraw cancels a stored run that is queued or awaiting approval with no
// step begun, with note as its reason (executor.Withdraw).
func (e *Engine) Withdraw(ctx context.Context, id int64, who dayops.Actor, note string) (bool, error) {
	e.record(fmt.Sprintf("withdraw %d %s %s", id, who.ID, note))
	if e.HandOn {
		return false, &HandedOn{RunID: id}
	}
	r, err := e.Store.Run(ctx, id)
	if err != nil || r.State != dayops.RunQueued && r.State != dayops.RunAwaitingApproval {
		return false, nil
	}
	for _, st := range r.Steps {
		if st.State != dayops.StepPending {
			return false, nil
		}
	}
	e.Store.Update(id, func(r *dayops.Run) { r.State, r.Reason = dayops.RunCancelled, note })
	return true, nil
}

// Supersede cancels a stored run that is queued, with note as its reason.
func (e *Engine) Supersede(ctx context.Context, id int64, who dayops.Actor, note string) (bool, error) {
	e.record(fmt.Sprintf("supersede %d %s %s", id, who.ID, note))
	if e.HandOn {
		return false, &HandedOn{RunID: id}
	}
	r, err := e.Store.Run(ctx, id)
	if err != nil || r.State != dayops.RunQueued {
		return false, nil
	}
	e.Store.Update(id, func(r *dayops.Run) { r.State, r.Reason = dayops.RunCancelled, note })
	return true, nil
}

func (e *Engine) Lock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread, reason string) error {
	e.record(fmt.Sprintf("lock %s %s", env, reason))
	return e.LockErr
}

func (e *Engine) Unlock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread) error {
	e.record("unlock " + env)
	return nil
}

func (e *Engine) Rollback(ctx context.Context, service, env string, who dayops.Actor, where dayops.Thread) (*dayops.Run, error) {
	e.record("rollback " + service + " " + env)
	r := &dayops.Run{Definition: "deploy-web", Environment: env, Actor: who, Thread: where, Trigger: dayops.TriggerChat,
		State: dayops.RunPending, Phase: dayops.Day1, RollbackOf: 1}
	e.Store.Add(r)
	cp := *r
	return &cp, nil
}

// Store is a bot.Store that keeps runs, logs, approvals, audit rows,
// reports and the outbox in memory.
type Store struct {
	mu        sync.Mutex
	reports   []dayops.Report
	outbox    []dayops.Outgoing
	claims    map[int64]outboxClaim // outbox message ID -> its claim
	SyncList  []dayops.SyncRecord
	runs      []*dayops.Run
	logs      []dayops.LogLine
	approvals []dayops.Approval
	answers   []dayops.Answer
	audits    []dayops.AuditEvent
	LockList  []dayops.EnvLock
	AuditErr  error
}

// Add records a run, numbering it.
func (s *Store) Add(r *dayops.Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.ID = int64(len(s.runs) + 1)
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	}
	cp := *r
	cp.Steps = slices.Clone(r.Steps)
	s.runs = append(s.runs, &cp)
}

// AddApproval records a decision.
func (s *Store) AddApproval(a dayops.Approval) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approvals = append(s.approvals, a)
}

func (s *Store) Run(ctx context.Context, id int64) (*dayops.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.runs) {
		return nil, dayops.Errorf(dayops.KindNotFound, "no run %d", id)
	}
	cp := *s.runs[id-1]
	cp.Steps = slices.Clone(cp.Steps)
	return &cp, nil
}

func (s *Store) Runs(ctx context.Context, f dayops.RunFilter) ([]*dayops.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := f.Limit
	if limit == 0 {
		limit = 50
	}
	var out []*dayops.Run
	for i := len(s.runs) - 1; i >= 0 && len(out) < limit; i-- {
		r := s.runs[i]
		switch {
		case f.Definition != "" && r.Definition != f.Definition,
			f.Service != "" && r.Service != f.Service,
			f.Environment != "" && r.Environment != f.Environment,
			len(f.States) > 0 && !slices.Contains(f.States, r.State),
			f.BeforeID != 0 && r.ID >= f.BeforeID:
			continue
		}
		cp := *r
		cp.Steps = nil
		out = append(out, &cp)
	}
	return out, nil
}

func (s *Store) Logs(ctx context.Context, runID int64, afterSeq int64, limit int) ([]dayops.LogLine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dayops.LogLine
	for _, l := range s.logs {
		if l.RunID == runID && l.Seq > afterSeq && (limit == 0 || len(out) < limit) {
			out = append(out, l)
		}
	}
	return out, nil
}

func (s *Store) Approvals(ctx context.Context, runID int64, gate string) ([]dayops.Approval, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dayops.Approval
	for _, a := range s.approvals {
		if a.RunID == runID && (gate == "" || a.Gate == gate) {
			out = append(out, a)
		}
	}
	return out, nil
}

// OpenChecklist records unanswered questions of a checklist step of a run.
func (s *Store) OpenChecklist(runID int64, step int, questions ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range questions {
		s.answers = append(s.answers, dayops.Answer{RunID: runID, Step: step, Question: i + 1, Text: q})
	}
}

func (s *Store) answer(runID int64, question int, ans, note string, who dayops.Actor) (*dayops.Answer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.answers {
		if a := &s.answers[i]; a.RunID == runID && a.Question == question {
			if a.Answer != "" {
				return nil, dayops.Errorf(dayops.KindConflict, "question %d of run %d was answered %s by %s already", question, runID, a.Answer, a.Actor)
			}
			a.Answer, a.Note, a.Actor = ans, note, who
			cp := *a
			return &cp, nil
		}
	}
	return nil, dayops.Errorf(dayops.KindNotFound, "run %d has no question %d", runID, question)
}

// Checklist returns the questions of a run's checklists with their answers.
func (s *Store) Checklist(ctx context.Context, runID int64) ([]dayops.Answer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dayops.Answer
	for _, a := range s.answers {
		if a.RunID == runID {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *Store) Audit(ctx context.Context, ev dayops.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.AuditErr != nil {
		return s.AuditErr
	}
	s.audits = append(s.audits, ev)
	return nil
}

// Audits returns the audit rows written so far.
func (s *Store) Audits() []dayops.AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audits)
}

func (s *Store) Syncs(ctx context.Context, limit int) ([]dayops.SyncRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.SyncList), nil
}

func (s *Store) EnvironmentLocks(ctx context.Context) ([]dayops.EnvLock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.LockList), nil
}

// Catalogs is a bot.Catalogs that serves one catalog and a fixed sync answer.
type Catalogs struct {
	Cat     *dayops.Catalog
	Record  dayops.SyncRecord
	SyncErr error
}

func (c *Catalogs) Catalog() *dayops.Catalog { return c.Cat }
func (c *Catalogs) Sync(ctx context.Context) (dayops.SyncRecord, error) {
	return c.Record, c.SyncErr
}

// AddLogs records output lines.
func (s *Store) AddLogs(lines ...dayops.LogLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, lines...)
}

// Update changes a stored run.
func (s *Store) Update(id int64, f func(r *dayops.Run)) *dayops.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.runs[id-1])
	cp := *s.runs[id-1]
	cp.Steps = slices.Clone(cp.Steps)
	cp.Steps = slices.Clone(cp.Steps)
	return &cp
}

// AddReport implements bot.Store.
func (s *Store) AddReport(ctx context.Context, r dayops.Report) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.reports {
		if sameReport(x, r) {
			return false, nil
		}
	}
	s.reports = append(s.reports, r)
	return true, nil
}

// UpdateReport implements bot.Store.
func (s *Store) UpdateReport(ctx context.Context, r dayops.Report) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.reports {
		if sameReport(x, r) {
			s.reports[i] = r
			return nil
		}
	}
	return dayops.Errorf(dayops.KindNotFound, "run %d is not reported in %s", r.RunID, r.Thread)
}

// Reports implements bot.Store.
func (s *Store) Reports(ctx context.Context, runID int64) ([]dayops.Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dayops.Report
	for _, x := range s.reports {
		if x.RunID == runID {
			out = append(out, x)
		}
	}
	return out, nil
}

// UnfinishedReports implements bot.Store.
func (s *Store) UnfinishedReports(ctx context.Context, limit int) ([]dayops.Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dayops.Report
	for _, x := range s.reports {
		if !x.Shown.Final() {
			out = append(out, x)
		}
	}
	return out, nil
}

func sameReport(a, b dayops.Report) bool {
	return a.RunID == b.RunID && a.Thread.Door == b.Thread.Door && a.Thread.Channel == b.Thread.Channel && a.Thread.ID == b.Thread.ID
}

// EnqueueOutgoing implements bot.Store.
func (s *Store) EnqueueOutgoing(ctx context.Context, o dayops.Outgoing) (int64, error) {
	if o.Thread.Door == "" {
		return 0, dayops.Errorf(dayops.KindInvalid, "an outgoing message needs a door: set Thread.Door")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o.ID = int64(len(s.outbox) + 1)
	if o.NextAt.IsZero() {
		o.NextAt = o.CreatedAt
	}
	s.outbox = append(s.outbox, o)
	return o.ID, nil
}

// OutgoingChannels implements bot.Store.
func (s *Store) OutgoingChannels(ctx context.Context, door string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, o := range s.outbox {
		if o.Thread.Door == door && o.DeliveredAt.IsZero() && !slices.Contains(out, o.Thread.Channel) {
			out = append(out, o.Thread.Channel)
		}
	}
	slices.Sort(out)
	return out, nil
}

// MarkDelivered implements bot.Store.
func (s *Store) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	return s.markOutgoing(id, func(o *dayops.Outgoing) { o.DeliveredAt, o.LastError = at, "" })
}

// MarkFailed implements bot.Store.
func (s *Store) MarkFailed(ctx context.Context, id int64, next time.Time, lastError string) error {
	return s.markOutgoing(id, func(o *dayops.Outgoing) {
		o.Attempts, o.NextAt, o.LastError = o.Attempts+1, next, lastError
		delete(s.claims, o.ID)
	})
}

func (s *Store) markOutgoing(id int64, f func(o *dayops.Outgoing)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id > int64(len(s.outbox)) || !s.outbox[id-1].DeliveredAt.IsZero() {
		return dayops.Errorf(dayops.KindNotFound, "outgoing message %d is not waiting: it is unknown or delivered already", id)
	}
	f(&s.outbox[id-1])
	return nil
}

// Outbox returns the messages written to the outbox, delivered or not.
func (s *Store) Outbox() []dayops.Outgoing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.outbox)
}

// HandedOn is the error of a supersede or withdraw handed on to the
// replica that drives the run (Engine.HandOn), like executor.HandedOnError.
type HandedOn struct{ RunID int64 }

func (h *HandedOn) Error() string {
	return fmt.Sprintf("run %d is driven by another dayops process: the request is handed on to it", h.RunID)
}

// HandedOn reports that the request was handed on.
func (h *HandedOn) HandedOn() bool { return true }
