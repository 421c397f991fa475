package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
	"github.com/dayops/dayops/web"
)

// scrape returns the status and body of /metrics served by h to a request
// from addr with the given Authorization.
func scrape(h http.Handler, addr, auth string) (int, string) {
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.RemoteAddr = addr
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestMetrics: the figures of the database (runs by definition and state,
// the queue, the outbox, the last sync, the size), step durations and lock
// waits from the run events, API calls by outcome with their retries, and
// who may read them.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "d.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev := dayops.AuditEvent{Actor: "test", Action: "run", Allowed: true}
	for _, s := range []dayops.RunState{dayops.RunSucceeded, dayops.RunSucceeded, dayops.RunQueued, dayops.RunFailed} {
		if err := st.CreateRun(ctx, &dayops.Run{Definition: "deploy-web", Phase: dayops.Day1, State: s}, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: dayops.Thread{Door: "slack", Channel: "C1"}, Message: `{"Text":"x"}`}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.RecordSync(ctx, &dayops.SyncRecord{Time: now.Add(-time.Minute), Duration: 2 * time.Second, Outcome: dayops.SyncInvalid, Revision: "abc"}); err != nil {
		t.Fatal(err)
	}
	m := web.NewMetrics(st, slog.New(slog.DiscardHandler))

	// Run events: a step of 3 s, a run queued for 90 s.
	bus := dayops.NewBus()
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); m.Follow(fctx, bus) }()
	run := &dayops.Run{ID: 9, Definition: "deploy-web", State: dayops.RunQueued}
	time.Sleep(50 * time.Millisecond) // subscribed
	bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: run, Time: now})
	running := *run
	running.State = dayops.RunRunning
	bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: &running, Time: now.Add(90 * time.Second)})
	bus.Publish(dayops.RunEvent{Kind: dayops.EventStep, Run: &running, Step: &dayops.StepRun{State: dayops.StepSucceeded, StartedAt: now, EndedAt: now.Add(3 * time.Second)}})

	// API calls: 429 once then 200 for the same request; a 404.
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer api.Close()
	client := m.Client("slack")
	req, _ := http.NewRequestWithContext(ctx, "POST", api.URL+"/chat.postMessage", nil)
	for range 2 {
		resp, err := client.Do(req.Clone(ctx))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if resp, err := client.Get(api.URL + "/missing"); err == nil {
		resp.Body.Close()
	}

	h := m.Handler("")
	var body string
	eventuallyScraped := time.Now().Add(5 * time.Second)
	for {
		var code int
		code, body = scrape(h, "127.0.0.1:5000", "")
		if code != 200 {
			t.Fatalf("/metrics from the loopback = %d:\n%s", code, body)
		}
		if strings.Contains(body, "dayops_step_duration_seconds_count") || time.Now().After(eventuallyScraped) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-done
	for _, want := range []string{
		`dayops_runs{definition="deploy-web",state="succeeded"} 2`,
		`dayops_runs{definition="deploy-web",state="queued"} 1`,
		`dayops_runs{definition="deploy-web",state="failed"} 1`,
		"dayops_queue_depth 1",
		"dayops_outbox_undelivered 1",
		`dayops_sync_last_outcome{outcome="invalid"} 1`,
		`dayops_sync_last_outcome{outcome="updated"} 0`,
		"dayops_sync_last_duration_seconds 2",
		`dayops_step_duration_seconds_bucket{definition="deploy-web",state="succeeded",le="6.4"} 1`,
		`dayops_step_duration_seconds_bucket{definition="deploy-web",state="succeeded",le="1.6"} 0`,
		`dayops_lock_wait_seconds_sum{definition="deploy-web"} 90`,
		`dayops_api_requests_total{api="slack",outcome="rate_limited"} 1`,
		`dayops_api_requests_total{api="slack",outcome="ok"} 1`,
		`dayops_api_requests_total{api="slack",outcome="client_error"} 1`,
		`dayops_api_retries_total{api="slack"} 1`,
		"dayops_metrics_store_errors 0",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(?m)^dayops_sync_age_seconds (\S+)$`).FindStringSubmatch(body); m == nil || !strings.HasPrefix(m[1], "5") {
		t.Errorf("sync age: %v, want about 58 s (a minute ago, 2 s long)", m)
	}
	if m := regexp.MustCompile(`(?m)^dayops_database_size_bytes (\S+)$`).FindStringSubmatch(body); m == nil || m[1] == "0" {
		t.Errorf("database size: %v", m)
	}

	// Who may read them.
	if code, body := scrape(h, "10.1.2.3:5000", ""); code != http.StatusForbidden || !strings.Contains(body, "DAYOPS_METRICS_TOKEN") {
		t.Errorf("/metrics from another address without a token = %d %q, want 403 saying what to set", code, body)
	}
	withToken := m.Handler("scrape-token-0123456789")
	for _, tc := range []struct {
		addr, auth string
		want       int
	}{
		{"10.1.2.3:5000", "", http.StatusUnauthorized},
		{"127.0.0.1:5000", "", http.StatusUnauthorized},
		{"10.1.2.3:5000", "Bearer wrong", http.StatusUnauthorized},
		{"10.1.2.3:5000", "Basic scrape-token-0123456789", http.StatusUnauthorized},
		{"10.1.2.3:5000", "Bearer scrape-token-0123456789", http.StatusOK},
	} {
		if code, _ := scrape(withToken, tc.addr, tc.auth); code != tc.want {
			t.Errorf("/metrics with a token configured, from %s with %q = %d, want %d", tc.addr, tc.auth, code, tc.want)
		}
	}
}
