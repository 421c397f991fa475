package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
	"github.com/dayops/dayops/web"
)

// secret is a value the redactor masks; tests put it in logs and texts.
const secret = "hunter2-secret-value"

var linkKey = []byte("0123456789abcdef0123456789abcdef-test-key")

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// world is the pages over a real SQLite store and an in-process bus.
type world struct {
	t     *testing.T
	store *storage.Store
	bus   *dayops.Bus
	clock *clock
	web   *web.Server
	mux   *http.ServeMux
	seq   map[int64]int64 // the last log line of each run
}

func newWorld(t *testing.T, change ...func(*web.Options)) *world {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	st, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "dayops.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{t: t, store: st, bus: dayops.NewBus(), clock: clk, mux: http.NewServeMux(), seq: map[int64]int64{}}
	opts := web.Options{
		Store: st, Events: w.bus, Redactor: dayops.NewRedactor(secret), BaseURL: "https://dayops.example.com/",
		LinkKey: linkKey, Password: "correct horse battery", Now: clk.Now,
		Changes: func(ctx context.Context, r *dayops.Run) (string, string, error) {
			return "aaaabbbbccccdddd", "--- ops/deploy-web.yaml@aaaabbbbcccc\n+++ ops/deploy-web.yaml@0123456789ab\n@@ -1 +1 @@\n-  retries: 1\n+  retries: 2 # token " + secret + "\n", nil
		},
	}
	for _, c := range change {
		c(&opts)
	}
	w.web, err = web.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	w.web.Routes(w.mux)
	return w
}

// run records a run of deploy-web in state with two steps.
func (w *world) run(state dayops.RunState, change ...func(*dayops.Run)) *dayops.Run {
	w.t.Helper()
	r := &dayops.Run{
		Definition: "deploy-web", Phase: dayops.Day1, Service: "web", Environment: "production",
		Params: map[string]string{"version": "v1.2.3", "token": secret}, Revision: "0123456789abcdef0123456789abcdef01234567",
		State: state, Trigger: dayops.TriggerChat, Actor: dayops.Actor{ID: "slack:U0ALICE", Name: "alice"},
		Thread: dayops.Thread{Door: "slack", Channel: "C01", Name: "deploys"},
		Steps: []dayops.StepRun{
			{Index: 0, Name: "Build", Kind: dayops.StepKindRun, State: dayops.StepSucceeded, StartedAt: w.clock.Now(), EndedAt: w.clock.Now().Add(1500 * time.Millisecond)},
			{Index: 1, Name: "Install", Kind: dayops.StepKindRun, State: dayops.StepRunning, StartedAt: w.clock.Now()},
		},
	}
	if state.Final() {
		r.Steps[1].State, r.Steps[1].EndedAt = dayops.StepFailed, w.clock.Now().Add(time.Second)
		r.Reason = "step Install failed: exit status 3"
	}
	for _, c := range change {
		c(r)
	}
	if err := w.store.CreateRun(context.Background(), r, dayops.AuditEvent{Actor: r.Actor.ID, Action: "run.start", Allowed: true}); err != nil {
		w.t.Fatal(err)
	}
	return r
}

// lines stores n lines of run id on step 1 ("line N" with N its Seq) and
// publishes them, as the executor does.
func (w *world) lines(id int64, n int, text func(seq int64) string) {
	w.t.Helper()
	batch := make([]dayops.LogLine, 0, min(n, 10000))
	flush := func() {
		if err := w.store.AppendLogs(context.Background(), batch); err != nil {
			w.t.Fatal(err)
		}
		for i := range batch {
			l := batch[i]
			w.bus.Publish(dayops.RunEvent{Kind: dayops.EventLog, Run: &dayops.Run{ID: id}, Line: &l})
		}
		batch = batch[:0]
	}
	for range n {
		w.seq[id]++
		s := w.seq[id]
		t := fmt.Sprintf("line %d", s)
		if text != nil {
			t = text(s)
		}
		batch = append(batch, dayops.LogLine{RunID: id, Step: 1, Seq: s, Time: w.clock.Now(), Stream: dayops.Stdout, Text: t})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
}

// end moves run id to state and publishes it.
func (w *world) end(id int64, state dayops.RunState) {
	w.t.Helper()
	r, err := w.store.TransitionRun(context.Background(), id, state, "ended by the test", dayops.AuditEvent{Actor: "test", Action: "run.end", Allowed: true})
	if err != nil {
		w.t.Fatal(err)
	}
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: r})
}

// get serves one request from addr with the given headers.
func (w *world) get(path, addr string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if addr != "" {
		req.RemoteAddr = addr
	}
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	w.mux.ServeHTTP(rec, req)
	return rec
}

// link is the path and query of run id's signed link.
func (w *world) link(id int64) string {
	u := w.web.RunURL(id)
	const base = "https://dayops.example.com"
	if len(u) < len(base) || u[:len(base)] != base {
		w.t.Fatalf("RunURL(%d) = %q, want it under %s", id, u, base)
	}
	return u[len(base):]
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// login signs in with the password and returns the header that carries
// the login cookie.
func (w *world) login() http.Header {
	w.t.Helper()
	req := httptest.NewRequest("POST", "/login", strings.NewReader("password=correct+horse+battery&next=%2Fruns"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	w.mux.ServeHTTP(rec, req)
	cs := rec.Result().Cookies()
	if rec.Code != 303 || len(cs) != 1 {
		w.t.Fatalf("login = %d with %d cookies", rec.Code, len(cs))
	}
	return http.Header{"Cookie": {cs[0].Name + "=" + cs[0].Value}}
}
