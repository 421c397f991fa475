package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dayops/dayops"
)

// MetricsStore is what /metrics reads of the database at each scrape; the
// storage package implements it.
type MetricsStore interface {
	Counts(ctx context.Context) (*dayops.StoreCounts, error)
	Syncs(ctx context.Context, limit int) ([]dayops.SyncRecord, error)
}

// Metrics is what `dayops serve` reports on GET /metrics (the list is in
// docs/operations.md). Figures kept in the database (runs, the outbox, the
// last sync, its size) are read at each scrape, so they survive a restart;
// the others are counted in this process: step durations and lock waits
// from the run events, API calls at the doors' HTTP clients, request
// latencies at the HTTP server.
type Metrics struct {
	reg      *prometheus.Registry
	steps    *prometheus.HistogramVec
	lockWait *prometheus.HistogramVec
	api      *prometheus.CounterVec
	retries  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	now      func() time.Time
	log      *slog.Logger
}

// NewMetrics registers every metric, with the database's read from store
// at each scrape.
func NewMetrics(store MetricsStore, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dayops_step_duration_seconds",
			Help:    "How long steps ran, by definition and the state they ended in.",
			Buckets: prometheus.ExponentialBuckets(0.1, 4, 9)}, []string{"definition", "state"}),
		lockWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dayops_lock_wait_seconds",
			Help:    "How long runs waited queued behind another run of their lock (concurrency key) before they ran, by definition.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8)}, []string{"definition"}),
		api: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dayops_api_requests_total",
			Help: "HTTP requests to the Slack and GitHub APIs, every attempt (retries included), by outcome: ok, rate_limited (429), client_error, server_error (5xx), network_error."},
			[]string{"api", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dayops_api_retries_total",
			Help: "Requests to the Slack and GitHub APIs that repeat, within 10 minutes, one answered rate_limited, server_error or network_error (same method, URL and body)."},
			[]string{"api"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dayops_http_request_duration_seconds",
			Help:    "Time to answer requests, by route: the webhooks (POST /github/webhook, POST /hooks/alertmanager) and Slack's acknowledgements (/slack/commands, /slack/events, /slack/interactions).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 3, 5, 10}}, []string{"route", "code"}),
		now: time.Now,
		log: log,
	}
	m.reg.MustRegister(m.steps, m.lockWait, m.api, m.retries, m.latency, &storeCollector{store: store, now: m.now, log: log},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// storeCollector reads the database's figures at each scrape.
type storeCollector struct {
	store MetricsStore
	now   func() time.Time
	log   *slog.Logger
}

var (
	runsDesc        = prometheus.NewDesc("dayops_runs", "Runs recorded, by definition and state.", []string{"definition", "state"}, nil)
	queueDesc       = prometheus.NewDesc("dayops_queue_depth", "Runs queued behind another run of their lock (state queued).", nil, nil)
	outboxDesc      = prometheus.NewDesc("dayops_outbox_undelivered", "Messages to Slack or GitHub not delivered yet: they are retried.", nil, nil)
	dbSizeDesc      = prometheus.NewDesc("dayops_database_size_bytes", "The database's size on disk (pages and write-ahead log).", nil, nil)
	syncAgeDesc     = prometheus.NewDesc("dayops_sync_age_seconds", "Seconds since the last sync of the ops repo ended.", nil, nil)
	syncOutcomeDesc = prometheus.NewDesc("dayops_sync_last_outcome", "The outcome of the last sync of the ops repo: 1 for it, 0 for the others.", []string{"outcome"}, nil)
	syncTookDesc    = prometheus.NewDesc("dayops_sync_last_duration_seconds", "How long the last sync of the ops repo took.", nil, nil)
	scrapeErrDesc   = prometheus.NewDesc("dayops_metrics_store_errors", "1 when the database could not be read for this scrape (the server log says why).", nil, nil)
)

var syncOutcomes = []dayops.SyncOutcome{dayops.SyncUpdated, dayops.SyncUnchanged, dayops.SyncInvalid, dayops.SyncFailed}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{runsDesc, queueDesc, outboxDesc, dbSizeDesc, syncAgeDesc, syncOutcomeDesc, syncTookDesc, scrapeErrDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := 0.0
	if counts, err := c.store.Counts(ctx); err != nil {
		c.log.Error("reading the database for metrics", "err", err)
		failed = 1
	} else {
		queued := 0
		for _, r := range counts.Runs {
			ch <- prometheus.MustNewConstMetric(runsDesc, prometheus.GaugeValue, float64(r.N), r.Definition, string(r.State))
			if r.State == dayops.RunQueued {
				queued += r.N
			}
		}
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(queued))
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(counts.Undelivered))
		ch <- prometheus.MustNewConstMetric(dbSizeDesc, prometheus.GaugeValue, float64(counts.Bytes))
	}
	if recs, err := c.store.Syncs(ctx, 1); err != nil {
		c.log.Error("reading the sync history for metrics", "err", err)
		failed = 1
	} else if len(recs) > 0 {
		last := recs[0]
		ch <- prometheus.MustNewConstMetric(syncAgeDesc, prometheus.GaugeValue, c.now().Sub(last.Time.Add(last.Duration)).Seconds())
		ch <- prometheus.MustNewConstMetric(syncTookDesc, prometheus.GaugeValue, last.Duration.Seconds())
		for _, o := range syncOutcomes {
			v := 0.0
			if last.Outcome == o {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(syncOutcomeDesc, prometheus.GaugeValue, v, string(o))
		}
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, failed)
}

// Follow measures steps and lock waits from the run events until ctx ends.
func (m *Metrics) Follow(ctx context.Context, events dayops.Events) {
	ch, stop := events.Subscribe(0)
	defer stop()
	queuedAt := map[int64]time.Time{}
	for {
		var ev dayops.RunEvent
		select {
		case <-ctx.Done():
			return
		case ev = <-ch:
		}
		switch {
		case ev.Kind == dayops.EventStep && ev.Step != nil && ev.Run != nil:
			st := ev.Step
			if st.State.Final() && !st.StartedAt.IsZero() && !st.EndedAt.IsZero() {
				m.steps.WithLabelValues(ev.Run.Definition, string(st.State)).Observe(st.EndedAt.Sub(st.StartedAt).Seconds())
			}
		case ev.Kind == dayops.EventState && ev.Run != nil:
			r := ev.Run
			switch {
			case r.State == dayops.RunQueued:
				if _, ok := queuedAt[r.ID]; !ok {
					queuedAt[r.ID] = eventTime(ev)
				}
			case r.State == dayops.RunRunning:
				if at, ok := queuedAt[r.ID]; ok {
					m.lockWait.WithLabelValues(r.Definition).Observe(eventTime(ev).Sub(at).Seconds())
					delete(queuedAt, r.ID)
				}
			case r.State.Final():
				delete(queuedAt, r.ID)
			}
		}
	}
}

func eventTime(ev dayops.RunEvent) time.Time {
	if ev.Time.IsZero() {
		return time.Now()
	}
	return ev.Time
}

// Client returns an HTTP client for api ("slack", "github") whose every
// request is counted by outcome.
func (m *Metrics) Client(api string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &countingTransport{base: http.DefaultTransport, api: api, m: m, failed: map[[32]byte]time.Time{}}}
}

// countingTransport counts each request it makes by outcome, and a request
// that repeats one that failed in a way worth retrying as a retry.
type countingTransport struct {
	base http.RoundTripper
	api  string
	m    *Metrics

	mu     sync.Mutex
	failed map[[32]byte]time.Time // the requests whose last answer asked for a retry, and when
}

// maxRemembered bounds the failed requests kept to recognise retries, and
// retryWithin is how long after its failure a repeat counts as a retry.
const (
	maxRemembered = 1000
	retryWithin   = 10 * time.Minute
)

// requestKey identifies a request by its method, URL and body: a retry
// sends the same again. A body that cannot be read twice is left out.
func requestKey(req *http.Request) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", req.Method, req.URL.String())
	if req.GetBody != nil {
		if body, err := req.GetBody(); err == nil {
			io.Copy(h, io.LimitReader(body, 1<<20))
			body.Close()
		}
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// RoundTrip implements http.RoundTripper.
func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := requestKey(req)
	start := t.m.now()
	t.mu.Lock()
	if at, ok := t.failed[key]; ok && start.Sub(at) < retryWithin {
		t.m.retries.WithLabelValues(t.api).Inc()
	}
	t.mu.Unlock()
	resp, err := t.base.RoundTrip(req)
	outcome := "ok"
	switch {
	case err != nil:
		outcome = "network_error"
	case resp.StatusCode == http.StatusTooManyRequests:
		outcome = "rate_limited"
	case resp.StatusCode >= 500:
		outcome = "server_error"
	case resp.StatusCode >= 400:
		outcome = "client_error"
	}
	t.m.api.WithLabelValues(t.api, outcome).Inc()
	t.mu.Lock()
	if outcome == "rate_limited" || outcome == "server_error" || outcome == "network_error" {
		if len(t.failed) >= maxRemembered {
			clear(t.failed)
		}
		t.failed[key] = start
	} else {
		delete(t.failed, key)
	}
	t.mu.Unlock()
	return resp, err
}

// unmeasured are the routes whose time to answer says nothing: a live log
// stays open as long as its reader, a scrape measures itself.
var unmeasured = map[string]bool{"": true, "GET /metrics": true, "GET /runs/{id}/events": true}

// Instrument measures the time next (a ServeMux, or a handler that calls
// one with the same request) takes to answer each request, by the route
// pattern the mux chose.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := m.now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		if unmeasured[r.Pattern] {
			return
		}
		m.latency.WithLabelValues(r.Pattern, strconv.Itoa(rec.code)).Observe(m.now().Sub(start).Seconds())
	})
}

// statusRecorder remembers the status code of an answer.
type statusRecorder struct {
	http.ResponseWriter
	code int
	sent bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.sent {
		s.code, s.sent = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.sent = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer's Flush.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Handler serves the metrics to a scraper with the bearer token, or,
// without a token configured, to the loopback address only (a Prometheus
// agent on the same host); anyone else gets 401 or 403 saying how.
func (m *Metrics) Handler(token string) http.Handler {
	prom := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="dayops metrics"`)
				http.Error(w, "/metrics needs the bearer token of DAYOPS_METRICS_TOKEN: send Authorization: Bearer TOKEN (Prometheus: authorization.credentials_file)", http.StatusUnauthorized)
				return
			}
			prom.ServeHTTP(w, r)
			return
		}
		addr, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !addr.Addr().Unmap().IsLoopback() {
			http.Error(w, "/metrics answers only the loopback address while DAYOPS_METRICS_TOKEN is unset: set it and scrape with Authorization: Bearer TOKEN", http.StatusForbidden)
			return
		}
		prom.ServeHTTP(w, r)
	})
}
