package bot

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// Hand-written fakes of the interfaces the bot declares. They record what
// they were asked and answer from plain data the tests set.

// fakeEngine records calls and keeps the runs it starts in a fakeStore.
type fakeEngine struct {
	mu       sync.Mutex
	store    *fakeStore
	calls    []string
	requests []dayops.RunRequest
	plan     *dayops.Plan
	planErr  error
	startErr error
	// onStart runs before Start returns, with the new run: tests use it to
	// send events the way an executor may, before the caller hears back.
	onStart    func(r *dayops.Run)
	approveErr error
	approval   *dayops.Approval
	onApprove  func(a *dayops.Approval) // like onStart, before Approve returns
	denyErr    error
	cancelErr  error
	lockErr    error
	// since and diff are what Changes answers.
	since, diff string
}

func (e *fakeEngine) Changes(ctx context.Context, name, env string) (string, string, error) {
	e.record("changes " + name + " " + env)
	return e.since, e.diff, nil
}

func (e *fakeEngine) record(call string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, call)
}

func (e *fakeEngine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

func (e *fakeEngine) Plan(ctx context.Context, req dayops.RunRequest) (*dayops.Plan, error) {
	e.record("plan " + req.Definition + " " + req.Environment)
	if e.planErr != nil {
		return nil, e.planErr
	}
	if e.plan == nil {
		return nil, dayops.Errorf(dayops.KindInvalid, "no plan in this test")
	}
	return e.plan, nil
}

func (e *fakeEngine) Start(ctx context.Context, req dayops.RunRequest) (*dayops.Run, error) {
	e.record("start " + req.Definition + " " + req.Environment)
	e.mu.Lock()
	e.requests = append(e.requests, req)
	e.mu.Unlock()
	if e.startErr != nil {
		return nil, e.startErr
	}
	r := &dayops.Run{
		Definition: req.Definition, Environment: req.Environment, Params: req.Params,
		Actor: req.Actor, Thread: req.Thread, Trigger: req.Trigger, State: dayops.RunPending,
		Revision: "0123456789abcdef0123", Phase: dayops.Day1,
		Steps: []dayops.StepRun{{Index: 0, Name: "Back up", State: dayops.StepPending}, {Index: 1, Name: "Install", State: dayops.StepPending}},
	}
	e.store.add(r)
	if e.onStart != nil {
		e.onStart(r)
	}
	cp := *r
	return &cp, nil
}

func (e *fakeEngine) Approve(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) (*dayops.Approval, error) {
	e.record(fmt.Sprintf("approve %d %s", runID, who.ID))
	if e.approveErr != nil {
		return nil, e.approveErr
	}
	a := &dayops.Approval{RunID: runID, Gate: dayops.GateEnvironment, Actor: who, Approved: true, Valid: true}
	if e.approval != nil {
		a = e.approval
	}
	e.store.addApproval(*a)
	if e.onApprove != nil {
		e.onApprove(a)
	}
	return a, nil
}

func (e *fakeEngine) Deny(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread, reason string) error {
	e.record(fmt.Sprintf("deny %d %s %s", runID, who.ID, reason))
	return e.denyErr
}

func (e *fakeEngine) Cancel(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) error {
	e.record(fmt.Sprintf("cancel %d %s", runID, who.ID))
	return e.cancelErr
}

func (e *fakeEngine) Lock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread, reason string) error {
	e.record(fmt.Sprintf("lock %s %s", env, reason))
	return e.lockErr
}

func (e *fakeEngine) Unlock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread) error {
	e.record("unlock " + env)
	return nil
}

func (e *fakeEngine) Rollback(ctx context.Context, service, env string, who dayops.Actor, where dayops.Thread) (*dayops.Run, error) {
	e.record("rollback " + service + " " + env)
	r := &dayops.Run{Definition: "deploy-web", Environment: env, Actor: who, Thread: where, Trigger: dayops.TriggerChat,
		State: dayops.RunPending, Phase: dayops.Day1, RollbackOf: 1}
	e.store.add(r)
	cp := *r
	return &cp, nil
}

// fakeStore keeps runs, logs, approvals and audit rows in memory.
type fakeStore struct {
	mu        sync.Mutex
	syncs     []dayops.SyncRecord
	runs      []*dayops.Run
	logs      []dayops.LogLine
	approvals []dayops.Approval
	audits    []dayops.AuditEvent
	locks     []dayops.EnvLock
	auditErr  error
}

func (s *fakeStore) add(r *dayops.Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.ID = int64(len(s.runs) + 1)
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	}
	cp := *r
	s.runs = append(s.runs, &cp)
}

func (s *fakeStore) addApproval(a dayops.Approval) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approvals = append(s.approvals, a)
}

func (s *fakeStore) Run(ctx context.Context, id int64) (*dayops.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.runs) {
		return nil, dayops.Errorf(dayops.KindNotFound, "no run %d", id)
	}
	cp := *s.runs[id-1]
	return &cp, nil
}

func (s *fakeStore) Runs(ctx context.Context, f dayops.RunFilter) ([]*dayops.Run, error) {
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

func (s *fakeStore) Logs(ctx context.Context, runID int64, afterSeq int64, limit int) ([]dayops.LogLine, error) {
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

func (s *fakeStore) Approvals(ctx context.Context, runID int64, gate string) ([]dayops.Approval, error) {
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

func (s *fakeStore) Audit(ctx context.Context, ev dayops.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auditErr != nil {
		return s.auditErr
	}
	s.audits = append(s.audits, ev)
	return nil
}

func (s *fakeStore) Audits() []dayops.AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audits)
}

func (s *fakeStore) Syncs(ctx context.Context, limit int) ([]dayops.SyncRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.syncs), nil
}

func (s *fakeStore) EnvironmentLocks(ctx context.Context) ([]dayops.EnvLock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.locks), nil
}

// fakeCatalogs serves one catalog and a fixed sync answer.
type fakeCatalogs struct {
	cat     *dayops.Catalog
	rec     dayops.SyncRecord
	syncErr error
}

func (c *fakeCatalogs) Catalog() *dayops.Catalog { return c.cat }
func (c *fakeCatalogs) Sync(ctx context.Context) (dayops.SyncRecord, error) {
	return c.rec, c.syncErr
}

// fakeDoor records what the bot posts. With gate set, every call waits for
// the gate to open (a slow platform).
type fakeDoor struct {
	name     string
	interval time.Duration
	gate     chan struct{}

	mu      sync.Mutex
	seq     int
	posts   []posted
	updates []posted
}

type posted struct {
	Thread dayops.Thread
	ID     string
	Msg    Message
}

func (d *fakeDoor) Name() string                     { return d.name }
func (d *fakeDoor) MinUpdateInterval() time.Duration { return d.interval }

func (d *fakeDoor) Post(ctx context.Context, t dayops.Thread, m Message) (string, error) {
	if d.gate != nil {
		<-d.gate
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	id := fmt.Sprintf("m%d", d.seq)
	d.posts = append(d.posts, posted{t, id, m})
	return id, nil
}

func (d *fakeDoor) Update(ctx context.Context, t dayops.Thread, id string, m Message) error {
	if d.gate != nil {
		<-d.gate
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.updates = append(d.updates, posted{t, id, m})
	return nil
}

func (d *fakeDoor) Posts() []posted {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.posts)
}

func (d *fakeDoor) Updates() []posted {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.updates)
}

// transcript is every posted text, in order, for substring checks.
func (d *fakeDoor) transcript() string {
	var b strings.Builder
	for _, p := range d.Posts() {
		b.WriteString(p.Msg.Plain() + "\n")
	}
	return b.String()
}

// The test world: a catalog, roles and actors.

var (
	alice = dayops.Actor{ID: "console:alice", Name: "alice"} // sre
	bob   = dayops.Actor{ID: "console:bob", Name: "bob"}     // sre
	carol = dayops.Actor{ID: "console:carol", Name: "carol"} // dev: day1 staging, read
	dave  = dayops.Actor{ID: "console:dave", Name: "dave"}   // no role

	here = dayops.Thread{Door: "test", Channel: "terminal", ID: "1"}
)

func testPolicy() dayops.Policy {
	return dayops.Policy{Roles: []dayops.Role{
		{Name: "sre", Members: []string{"console:alice", "console:bob"}, Allow: []string{"*"}},
		{Name: "dev", Members: []string{"console:carol"}, Allow: []string{"day1:*:staging", "read"}},
	}}
}

func testCatalog(t *testing.T) *dayops.Catalog {
	t.Helper()
	src := func(file string) dayops.Source {
		return dayops.Source{File: file, Revision: "0123456789abcdef0123", Content: []byte(file)}
	}
	defs := []*dayops.Definition{
		{Phase: dayops.Day0, Name: "preflight", Description: "Check tools and disk space",
			Steps: []dayops.Step{{Name: "Check tools", Kind: dayops.StepKindRun, Run: "./scripts/preflight.sh"}}, Source: src("ops/day0/preflight.yaml")},
		{Phase: dayops.Day1, Name: "deploy-web", Description: "Deploy the web service", Service: "web",
			Environments: []dayops.Environment{{Name: "staging"}, {Name: "production", Approvals: &dayops.ApprovalRule{Count: 1, From: []string{"sre"}}}},
			Params: []dayops.Param{{Name: "version", Description: "Image tag", Type: dayops.ParamString,
				Pattern: regexp.MustCompile(`^v\d+\.\d+\.\d+$`), Required: true}},
			Concurrency: "deploy-web-${{ env }}", Timeout: 30 * time.Minute, Secrets: []string{"KUBE_TOKEN"},
			Steps: []dayops.Step{
				{Name: "Back up the database", Kind: dayops.StepKindRun, Run: "./scripts/backup-db.sh", Timeout: 10 * time.Minute, Retries: 2},
				{Name: "Verify", Kind: dayops.StepKindHTTP, HTTP: &dayops.HTTPCheck{URL: "http://127.0.0.1/healthz"}},
			},
			Rollback: []dayops.Step{{Name: "Roll back", Kind: dayops.StepKindRun, Run: "./scripts/rollback.sh"}},
			Triggers: dayops.Triggers{Schedule: []string{"0 3 * * *"}},
			Source:   src("ops/day1/deploy-web.yaml")},
		{Phase: dayops.Day2, Name: "restart-web", Description: "Restart the web service",
			Environments: []dayops.Environment{{Name: "staging"}, {Name: "production"}},
			Steps:        []dayops.Step{{Name: "Restart", Kind: dayops.StepKindRun, Run: "./scripts/restart.sh"}}, Source: src("ops/day2/restart-web.yaml")},
	}
	cat, err := dayops.NewCatalog("0123456789abcdef0123", defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// world is a bot wired to fakes.
type world struct {
	bot    *Bot
	engine *fakeEngine
	store  *fakeStore
	cats   *fakeCatalogs
	door   *fakeDoor
}

var testNow = time.Date(2025, 3, 1, 12, 5, 0, 0, time.UTC)

func newWorld(t *testing.T) *world {
	t.Helper()
	store := &fakeStore{}
	w := &world{
		engine: &fakeEngine{store: store},
		store:  store,
		cats:   &fakeCatalogs{cat: testCatalog(t)},
		door:   &fakeDoor{name: "test"},
	}
	b, err := New(Options{
		Engine: w.engine, Store: store, Catalogs: w.cats, Policy: testPolicy(),
		Redactor: dayops.NewRedactor("hunter2-secret"), BaseURL: "https://dayops.example.com/",
		ClaimWait: 200 * time.Millisecond, Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Register(w.door)
	w.bot = b
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return w
}

func (w *world) say(who dayops.Actor, text string) {
	w.bot.Handle(context.Background(), Request{Actor: who, Thread: here, Text: text})
}
