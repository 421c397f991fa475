package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
	"github.com/dayops/dayops/web"
)

// metricsFigures measures the size of /metrics once cfg.MetricsDefs
// definitions have runs in four states, steps that succeeded and failed,
// lock waits, and Slack and GitHub calls of every outcome, next to its size
// with nothing recorded (the Go runtime's and the process's series only).
func metricsFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	st, err := storage.Open(ctx, filepath.Join(dir, "metrics.db"), storage.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	m := web.NewMetrics(st, nil)
	srv := httptest.NewServer(m.Handler(""))
	defer srv.Close()
	scrape := func() (int64, time.Duration, error) {
		start := time.Now()
		res, err := srv.Client().Get(srv.URL + "/metrics")
		if err != nil {
			return 0, 0, err
		}
		defer res.Body.Close()
		n, err := io.Copy(io.Discard, res.Body)
		if err == nil && res.StatusCode != 200 {
			err = fmt.Errorf("GET /metrics: %s", res.Status)
		}
		return n, time.Since(start), err
	}
	empty, _, err := scrape()
	if err != nil {
		return nil, err
	}

	bus := dayops.NewBus()
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); m.Follow(fctx, bus) }()
	defer func() { stop(); <-done }()
	time.Sleep(20 * time.Millisecond) // subscribed
	ev := dayops.AuditEvent{Actor: "cli:bench", Action: "run.start", Allowed: true}
	now := time.Now()
	for d := range cfg.MetricsDefs {
		def := fmt.Sprintf("deploy-service-%02d", d)
		for _, state := range []dayops.RunState{dayops.RunSucceeded, dayops.RunFailed, dayops.RunRunning, dayops.RunQueued} {
			r := &dayops.Run{Definition: def, Phase: dayops.Day1, State: state, Trigger: dayops.TriggerCLI, Actor: dayops.Actor{ID: "cli:bench"}}
			if err := st.CreateRun(ctx, r, ev); err != nil {
				return nil, err
			}
		}
		run := &dayops.Run{ID: int64(d + 1), Definition: def, State: dayops.RunQueued}
		bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: run, Time: now})
		running := *run
		running.State = dayops.RunRunning
		bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: &running, Time: now.Add(time.Second)})
		for _, s := range []dayops.StepState{dayops.StepSucceeded, dayops.StepFailed, dayops.StepTimedOut} {
			bus.Publish(dayops.RunEvent{Kind: dayops.EventStep, Run: &running, Step: &dayops.StepRun{State: s, StartedAt: now, EndedAt: now.Add(time.Second)}})
		}
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/429":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
		case "/404":
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer api.Close()
	for _, door := range []string{"slack", "github"} {
		c := m.Client(door)
		for _, path := range []string{"/ok", "/429", "/429", "/500", "/404"} {
			if res, err := c.Get(api.URL + path); err == nil {
				res.Body.Close()
			}
		}
	}
	// The step events are counted once Follow has read them.
	deadline := time.Now().Add(10 * time.Second)
	var size int64
	var took time.Duration
	for {
		if size, took, err = scrape(); err != nil {
			return nil, err
		}
		if size > empty+int64(cfg.MetricsDefs)*2000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return []Row{{ID: "metrics-size", Kind: kindBytes,
		Figure:   fmt.Sprintf("size of /metrics, %d definitions with runs in 4 states, 3 step states and lock waits", cfg.MetricsDefs),
		Value:    float64(size),
		Baseline: "the same with nothing recorded (Go runtime and process series)", Base: float64(empty),
		Note: fmt.Sprintf("a scrape took %s", took.Round(10*time.Microsecond))}}, nil
}
