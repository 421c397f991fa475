package executor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/gitsync"
	"github.com/dayops/dayops/storage"
)

// catalogs keeps every catalog loaded in a test, by revision.
type catalogs struct {
	mu    sync.Mutex
	cur   *dayops.Catalog
	byRev map[string]*dayops.Catalog
}

func (c *catalogs) Catalog() *dayops.Catalog {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

func (c *catalogs) DefinitionAt(_ context.Context, rev, name string) (*dayops.Definition, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cat, ok := c.byRev[rev]
	if !ok {
		return nil, dayops.Errorf(dayops.KindNotFound, "no revision %s", rev)
	}
	return cat.Get(name)
}

func (c *catalogs) set(cat *dayops.Catalog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur = cat
	if c.byRev == nil {
		c.byRev = map[string]*dayops.Catalog{}
	}
	c.byRev[cat.Revision()] = cat
}

// workspace serves the test's definitions folder for every revision.
type workspace struct{ dir string }

func (w workspace) Checkout(context.Context, string) (string, func(), error) {
	return w.dir, func() {}, nil
}

// recorder keeps every event published on a bus (but output lines).
type recorder struct {
	mu     sync.Mutex
	ch     <-chan dayops.RunEvent
	events []dayops.RunEvent
}

// newRecorder subscribes to every run of bus. Events are published
// synchronously into the subscription, so all sees everything published
// before it is called.
func newRecorder(bus dayops.Events) *recorder {
	ch, _ := bus.Subscribe(0)
	return &recorder{ch: ch}
}

func (r *recorder) all() []dayops.RunEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		select {
		case ev := <-r.ch:
			if ev.Kind != dayops.EventLog {
				r.events = append(r.events, ev)
			}
			continue
		default:
		}
		return append([]dayops.RunEvent(nil), r.events...)
	}
}

var testPolicy = dayops.Policy{Roles: []dayops.Role{
	{Name: "sre", Members: []string{"console:alice", "console:bob", "console:carol"}, Allow: []string{"*"}},
	{Name: "dev", Members: []string{"console:dave"}, Allow: []string{"day1:*:staging", "read"}},
}}

func actor(name string) dayops.Actor { return dayops.Actor{ID: "console:" + name, Name: name} }

var thread = dayops.Thread{Door: "console", Channel: "test"}

// harness is one executor on a real SQLite file and a folder of definitions.
type harness struct {
	t      testing.TB
	dir    string // definitions and scripts
	db     string
	store  *storage.Store
	cats   *catalogs
	notes  *recorder
	exec   *executor.Executor
	opts   executor.Options
	closed bool
}

// newHarness writes files (name -> content) into a folder, loads it and
// starts an executor. tune may change the options.
func newHarness(t testing.TB, files map[string]string, tune func(*executor.Options)) *harness {
	t.Helper()
	bus := dayops.NewBus()
	h := &harness{t: t, dir: t.TempDir(), cats: &catalogs{}, notes: newRecorder(bus)}
	h.db = filepath.Join(t.TempDir(), "dayops.db")
	st, err := storage.Open(context.Background(), h.db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.store = st
	t.Cleanup(func() { st.Close() })
	h.write(files)
	h.opts = executor.Options{
		Store: st, Catalogs: h.cats, Workspace: workspace{h.dir}, Events: bus, Policy: testPolicy,
		Secrets:   map[string]string{"KUBE_TOKEN": "kube-s3cr3t-token-value"},
		KillGrace: 200 * time.Millisecond, HeartbeatInterval: 200 * time.Millisecond,
		DefaultTimeout: 20 * time.Second, MaxParallel: 4,
	}
	if tune != nil {
		tune(&h.opts)
	}
	h.exec = h.newExecutor(h.opts)
	t.Cleanup(h.close)
	return h
}

func (h *harness) newExecutor(opts executor.Options) *executor.Executor {
	h.t.Helper()
	e, err := executor.New(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

func (h *harness) close() {
	if h.closed {
		return
	}
	h.closed = true
	if err := h.exec.Close(); err != nil {
		h.t.Error(err)
	}
}

// write adds or replaces files and reloads the catalog.
func (h *harness) write(files map[string]string) {
	h.t.Helper()
	for name, content := range files {
		p := filepath.Join(h.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	cat, problems, err := gitsync.LoadDir(h.dir)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(problems) > 0 {
		h.t.Fatalf("loading definitions: %v", problems)
	}
	h.cats.set(cat)
}

func (h *harness) start(req dayops.RunRequest) *dayops.Run {
	h.t.Helper()
	if req.Actor.ID == "" {
		req.Actor = actor("alice")
	}
	if req.Thread.Door == "" {
		req.Thread = thread
	}
	r, err := h.exec.Start(context.Background(), req)
	if err != nil {
		h.t.Fatalf("starting %s: %v", req.Definition, err)
	}
	return r
}

// wait waits until run id reaches one of states.
func (h *harness) wait(id int64, states ...dayops.RunState) *dayops.Run {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := h.store.Run(context.Background(), id)
		if dayops.KindOf(err) == dayops.KindNotFound && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // a child run not yet recorded
			continue
		}
		if err != nil {
			h.t.Fatal(err)
		}
		for _, s := range states {
			if r.State == s {
				return r
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %d is %s (reason %q), not %v; logs:\n%s", id, r.State, r.Reason, states, h.logs(id))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStep waits until step index of run id is in state; the run as then.
func (h *harness) waitStep(id int64, index int, state dayops.StepState) *dayops.Run {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := h.wait(id, dayops.RunPending, dayops.RunQueued, dayops.RunRunning, dayops.RunAwaitingApproval,
			dayops.RunSucceeded, dayops.RunFailed, dayops.RunCancelled, dayops.RunTimedOut, dayops.RunDenied, dayops.RunInterrupted)
		if index < len(r.Steps) && r.Steps[index].State == state {
			return r
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("step %d of run %d is not %s: %v", index, id, state, stepStates(r))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitNotes waits until the events the notifier has had satisfy ok (it gets
// them after the store changed, on a goroutine of its own) and returns them.
func (h *harness) waitNotes(ok func([]dayops.RunEvent) bool) []dayops.RunEvent {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		evs := h.notes.all()
		if ok(evs) || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// done waits for the run to end and returns it.
func (h *harness) done(id int64) *dayops.Run {
	h.t.Helper()
	return h.wait(id, dayops.RunSucceeded, dayops.RunFailed, dayops.RunCancelled, dayops.RunTimedOut, dayops.RunDenied, dayops.RunInterrupted)
}

// logs returns the stored output of a run, one "stream: text" line each.
func (h *harness) logs(id int64) string {
	h.t.Helper()
	lines, err := h.store.Logs(context.Background(), id, 0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%d %s: %s\n", l.Step, l.Stream, l.Text)
	}
	return b.String()
}

// stepStates lists "name=state" of a run's steps.
func stepStates(r *dayops.Run) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name+"="+string(s.State))
	}
	return out
}

// waitFile waits for a file to exist and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("file %s did not appear", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// def renders a minimal definition.
func def(name, body string) string {
	return "apiVersion: dayops/v1\nphase: day2\nname: " + name + "\n" + body
}
