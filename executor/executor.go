package executor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/dayops/dayops"
)

// Store is the part of storage the executor uses. Every method owns its
// transaction; audit rows are written in the same transaction as the change.
type Store interface {
	CreateRun(ctx context.Context, run *dayops.Run, ev dayops.AuditEvent) error
	TransitionRun(ctx context.Context, id int64, to dayops.RunState, reason string, ev dayops.AuditEvent) (*dayops.Run, error)
	SetRollbackState(ctx context.Context, id int64, st dayops.RollbackState, ev dayops.AuditEvent) error
	SetWaitReason(ctx context.Context, id int64, state dayops.RunState, reason string) (bool, error)
	UpdateStep(ctx context.Context, st dayops.StepRun) error
	SetOwner(ctx context.Context, id int64, owner string, at time.Time) error
	Heartbeat(ctx context.Context, owner string, at time.Time) (int64, error)
	// TakeOver makes to the owner of a run only while its owner and
	// heartbeat are those the caller saw (a compare-and-set).
	TakeOver(ctx context.Context, id int64, from string, seen time.Time, to string, at time.Time) (bool, error)
	Run(ctx context.Context, id int64) (*dayops.Run, error)
	Runs(ctx context.Context, f dayops.RunFilter) ([]*dayops.Run, error)
	LastSucceeded(ctx context.Context, definition, environment string, beforeID int64) (*dayops.Run, error)
	Enqueue(ctx context.Context, key string, runID int64) error
	QueueHead(ctx context.Context, key string) (int64, error)
	Dequeue(ctx context.Context, runID int64) error
	LockEnvironment(ctx context.Context, l dayops.EnvLock, ev dayops.AuditEvent) error
	UnlockEnvironment(ctx context.Context, env string, ev dayops.AuditEvent) error
	EnvironmentLock(ctx context.Context, env string) (*dayops.EnvLock, error)
	AddApproval(ctx context.Context, a *dayops.Approval, ev dayops.AuditEvent) error
	Approvals(ctx context.Context, runID int64, gate string) ([]dayops.Approval, error)
	OpenChecklist(ctx context.Context, runID int64, step int, questions []string) error
	AnswerQuestion(ctx context.Context, a *dayops.Answer, ev dayops.AuditEvent) error
	Checklist(ctx context.Context, runID int64) ([]dayops.Answer, error)
	AppendLogs(ctx context.Context, lines []dayops.LogLine) error
	Logs(ctx context.Context, runID int64, afterSeq int64, limit int) ([]dayops.LogLine, error)
	Audit(ctx context.Context, ev dayops.AuditEvent) error
	// AddOrder, WaitingOrders, FinishOrder and Orders hand a cancel,
	// supersede or withdraw on to the process that drives the run
	// (order.go).
	AddOrder(ctx context.Context, o *dayops.RunOrder, ev dayops.AuditEvent) error
	WaitingOrders(ctx context.Context, owner string, limit int) ([]dayops.RunOrder, error)
	FinishOrder(ctx context.Context, id int64, outcome string, at time.Time) (bool, error)
	Orders(ctx context.Context, runID int64) ([]dayops.RunOrder, error)
}

// Catalogs gives the current catalog and definitions at older revisions.
type Catalogs interface {
	// Catalog is the current catalog (nil before the first valid load).
	Catalog() *dayops.Catalog
	// DefinitionAt returns a definition at revision; KindNotFound when the
	// revision or the definition is unknown.
	DefinitionAt(ctx context.Context, revision, name string) (*dayops.Definition, error)
}

// Workspace gives the ops-repo tree at a revision, read-only for the run.
type Workspace interface {
	Checkout(ctx context.Context, revision string) (dir string, release func(), err error)
}

// Options configure an Executor. Store, Catalogs and Workspace are required.
type Options struct {
	Store     Store
	Catalogs  Catalogs
	Workspace Workspace
	Events    dayops.Events // where run, step and log events go; nil: a Bus of its own (see Events)
	Policy    dayops.Policy
	Secrets   map[string]string // NAME -> value, handed to steps as DAYOPS_SECRET_NAME
	Vars      map[string]string // NAME -> value for ${{ vars.NAME }}
	Runner    Runner            // nil: LocalRunner
	Now       func() time.Time
	Logger    *slog.Logger
	Owner     string // "host:pid:startUnixNano"; empty: this process
	// MaxParallel is how many runs may run at once (default 8). Runs beyond it
	// wait, first come first served.
	MaxParallel       int
	DefaultTimeout    time.Duration // a run without timeout: (default 1h)
	ApprovalTTL       time.Duration // how long a gate waits (default 24h)
	KillGrace         time.Duration // SIGTERM to SIGKILL (default 5s)
	HeartbeatInterval time.Duration // default 5s; a run's owner is dead after 3 missed beats
	// RefuseWhenLocked makes runs in a locked environment fail at once
	// instead of queueing until it is unlocked.
	RefuseWhenLocked bool
	// RunAs, when set, is the OS user ("name" or "uid", optionally with
	// ":group") that run: steps run as; dayops must run as root. A step
	// running as dayops's own user can read whatever dayops can.
	RunAs string
	// StepOutputBudget and RunOutputBudget bound the output stored per step
	// and per run (defaults 10 MiB and 50 MiB). Beyond a budget the head
	// and the tail are kept and a line says how much was dropped.
	StepOutputBudget int64
	RunOutputBudget  int64
	// HTTPClient is used by http steps; nil: a client of its own. Redirects
	// are always restricted to http and https.
	HTTPClient *http.Client

	// Targets are the SSH targets run: steps with on: run on; nil: none.
	// RemoteRunner runs those steps (nil: an SSHRunner for Targets).
	Targets      *Targets
	RemoteRunner Runner
}

// Executor runs definitions. It is safe for concurrent use.
type Executor struct {
	opts      Options
	store     Store
	catalogs  Catalogs
	workspace Workspace
	runner    Runner
	remote    Runner // steps with on:; nil when there are no targets
	now       func() time.Time
	logger    *slog.Logger
	owner     string
	runAs     *stepUser        // nil: steps run as dayops's own user
	redactor  *dayops.Redactor // every configured secret
	forms     []string         // what redactor masks, for the line splitter
	http      *http.Client

	ctx      context.Context // the executor's own: runs live on it, not on a request's
	cancel   context.CancelFunc
	bg       conc.WaitGroup // heartbeat
	drivers  conc.WaitGroup // one per run driven here
	logs     *logWriter
	events   dayops.Events
	slots    *slots       // MaxParallel, first come first served
	fenced   sync.Map     // run ID -> true: runs this process lost to another
	lostAny  atomic.Bool  // fenced holds a run
	lastBeat atomic.Int64 // unix nanos of the last heartbeat stored

	mu        sync.Mutex
	closed    bool
	runs      map[int64]*runExec // runs driven here that have not ended
	active    int                // of them, the ones not waiting for an approval
	idle      chan struct{}      // closed and replaced when active drops to 0
	queueWake chan struct{}      // closed and replaced when a key or lock is released
}

// New returns an executor. It starts heartbeating its runs at once; Close
// stops it.
func New(opts Options) (*Executor, error) {
	if opts.Store == nil || opts.Catalogs == nil || opts.Workspace == nil {
		return nil, errors.New("executor: Store, Catalogs and Workspace are required")
	}
	if opts.Runner == nil {
		opts.Runner = LocalRunner{}
	}
	if opts.Events == nil {
		opts.Events = dayops.NewBus()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Owner == "" {
		opts.Owner = ProcessOwner()
	}
	if opts.MaxParallel <= 0 {
		opts.MaxParallel = 8
	}
	if opts.DefaultTimeout <= 0 {
		opts.DefaultTimeout = time.Hour
	}
	if opts.ApprovalTTL <= 0 {
		opts.ApprovalTTL = 24 * time.Hour
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = 5 * time.Second
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if opts.StepOutputBudget <= 0 {
		opts.StepOutputBudget = DefaultStepOutputBudget
	}
	if opts.RunOutputBudget <= 0 {
		opts.RunOutputBudget = DefaultRunOutputBudget
	}
	runAs, err := resolveRunAs(opts.RunAs)
	if err != nil {
		return nil, err
	}
	if opts.RemoteRunner == nil && opts.Targets != nil && len(opts.Targets.Hosts) > 0 {
		r, err := NewSSHRunner(opts.Targets)
		if err != nil {
			return nil, err
		}
		opts.RemoteRunner = r
	}
	opts.Secrets = maps.Clone(opts.Secrets)
	opts.Vars = maps.Clone(opts.Vars)
	values := slices.Sorted(maps.Values(opts.Secrets))
	e := &Executor{
		opts: opts, store: opts.Store, catalogs: opts.Catalogs, workspace: opts.Workspace,
		runner: opts.Runner, remote: opts.RemoteRunner, now: opts.Now, logger: opts.Logger, owner: opts.Owner, runAs: runAs,
		redactor: dayops.NewRedactor(values...),
		http:     opts.HTTPClient,
		events:   opts.Events,
		slots:    newSlots(opts.MaxParallel),
		runs:     map[int64]*runExec{}, idle: make(chan struct{}), queueWake: make(chan struct{}),
	}
	e.forms = e.redactor.Forms()
	e.store = fencedStore{Store: opts.Store, e: e}
	close(e.idle)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.logs = newLogWriter(e.store, e.logger, e.publishLines)
	e.logs.stepBudget, e.logs.runBudget = opts.StepOutputBudget, opts.RunOutputBudget
	e.bg.Go(e.heartbeatLoop)
	return e, nil
}

// Events is where the executor publishes run, step and log events: follow a
// run with dayops.Follow(ctx, store, e.Events(), id, 0).
func (e *Executor) Events() dayops.Events { return e.events }

// Owner is the identity this executor records on its runs.
func (e *Executor) Owner() string { return e.owner }

// inSlot runs job, a segment of top-level run x, once x has one of the
// MaxParallel slots; runs get them in the order they came.
func (e *Executor) inSlot(x *runExec, job func()) {
	e.slots.take(x.arrival)
	defer e.slots.give()
	job()
}

// Wait returns when no run is active (runs waiting for an approval do not
// count) or ctx is done.
func (e *Executor) Wait(ctx context.Context) error {
	for {
		e.mu.Lock()
		idle, n := e.idle, e.active
		e.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setActive moves a run in or out of the active count.
func (e *Executor) setActive(x *runExec, active bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x.active == active {
		return
	}
	x.active = active
	if active {
		if e.active == 0 {
			e.idle = make(chan struct{})
		}
		e.active++
		return
	}
	e.active--
	if e.active == 0 {
		close(e.idle)
	}
}

// Serve does the executor's periodic work — approval expiry against the
// injected clock, queue wake-ups for changes made by other processes — until
// ctx is done. Heartbeats run from New to Close whether or not Serve runs.
func (e *Executor) Serve(ctx context.Context) error {
	t := time.NewTicker(min(e.opts.HeartbeatInterval, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.ctx.Done():
			return nil
		case <-t.C:
			e.wakeAll()
		}
	}
}

// wakeAll makes every waiting run look again at its gate, queue and lock.
func (e *Executor) wakeAll() {
	e.mu.Lock()
	runs := slices.Collect(maps.Values(e.runs))
	e.mu.Unlock()
	for _, x := range runs {
		x.poke()
	}
	e.releaseQueue()
}

// releaseQueue wakes the runs waiting for a concurrency key or a lock.
func (e *Executor) releaseQueue() {
	e.mu.Lock()
	close(e.queueWake)
	e.queueWake = make(chan struct{})
	e.mu.Unlock()
}

func (e *Executor) queueSignal() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queueWake
}

// Close cancels the active runs (their rollbacks run), ends the queued ones,
// waits for all of them and stops. Runs waiting for an approval stay waiting
// in the store with no owner; the next executor takes them over in Recover.
func (e *Executor) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	runs := slices.Collect(maps.Values(e.runs))
	e.mu.Unlock()
	for _, x := range runs {
		if x.state() != dayops.RunAwaitingApproval {
			x.requestCancel(systemActor, "cancelled: dayops is shutting down")
		}
	}
	e.cancel()
	e.drivers.Wait()
	e.logs.close()
	e.bg.Wait()
	// The runs left waiting are let go, so that the next executor — in this
	// process or another — takes them over at once.
	for _, x := range runs {
		if x.state() != dayops.RunAwaitingApproval {
			continue
		}
		ctx, cancel := storeCtx()
		if err := e.store.SetOwner(ctx, x.id, "", e.now()); err != nil {
			e.logger.Warn("letting go of a run waiting for approval", "run_id", x.id, "err", err)
		}
		cancel()
	}
	return nil
}

// goDriver starts a run's driver unless the executor is closing.
func (e *Executor) goDriver(x *runExec) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.runs[x.id] = x
	x.arrival = e.slots.arrive(x.state() != dayops.RunAwaitingApproval)
	if x.state() != dayops.RunAwaitingApproval && !x.active {
		// Counted before Start returns, so that Wait waits for it.
		x.active = true
		if e.active == 0 {
			e.idle = make(chan struct{})
		}
		e.active++
	}
	e.drivers.Go(x.drive)
	return true
}

// emit publishes ev. It never blocks.
func (e *Executor) emit(ev dayops.RunEvent) {
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	e.events.Publish(ev)
}

// publishLines publishes output lines once they are stored.
func (e *Executor) publishLines(lines []dayops.LogLine) {
	now := e.now()
	for i := range lines {
		l := lines[i]
		e.events.Publish(dayops.RunEvent{Kind: dayops.EventLog, Run: &dayops.Run{ID: l.RunID}, Line: &l, Time: now})
	}
}
