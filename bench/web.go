package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
	"github.com/dayops/dayops/web"
)

// smallLog is the size of the baseline run's log: more than the 500 lines
// a run page shows, so that both pages carry the same lines.
const smallLog = 1000

// webWorld is the run pages over a real SQLite store, served on 127.0.0.1.
type webWorld struct {
	store *storage.Store
	bus   *dayops.Bus
	pages *web.Server
	srv   *httptest.Server
}

func newWebWorld(ctx context.Context, dir string) (*webWorld, error) {
	st, err := storage.Open(ctx, filepath.Join(dir, "dayops.db"), storage.Options{})
	if err != nil {
		return nil, err
	}
	w := &webWorld{store: st, bus: dayops.NewBus()}
	w.pages, err = web.New(web.Options{Store: st, Events: w.bus, Redactor: dayops.NewRedactor("bench-secret-value"),
		LinkKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		st.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	w.pages.Routes(mux)
	w.srv = httptest.NewServer(mux)
	return w, nil
}

func (w *webWorld) close() {
	w.srv.Close()
	w.store.Close()
}

// runWithLines records a running run with n log lines of 60 characters.
func (w *webWorld) runWithLines(ctx context.Context, n int) (int64, error) {
	r := &dayops.Run{Definition: "bench-log", Phase: dayops.Day2, State: dayops.RunRunning, Trigger: dayops.TriggerCLI,
		Actor: dayops.Actor{ID: "cli:bench"}, Params: map[string]string{},
		Steps: []dayops.StepRun{{Index: 0, Name: "print", Kind: dayops.StepKindRun, State: dayops.StepRunning, StartedAt: time.Now()}}}
	if err := w.store.CreateRun(ctx, r, dayops.AuditEvent{Actor: "cli:bench", Action: "run.start", Allowed: true}); err != nil {
		return 0, err
	}
	batch := make([]dayops.LogLine, 0, 10_000)
	now := time.Now()
	for i := 1; i <= n; i++ {
		batch = append(batch, dayops.LogLine{RunID: r.ID, Seq: int64(i), Time: now, Stream: dayops.Stdout, Text: fmt.Sprintf("%060d", i)})
		if len(batch) == cap(batch) || i == n {
			if err := w.store.AppendLogs(ctx, batch); err != nil {
				return 0, err
			}
			batch = batch[:0]
		}
	}
	return r.ID, nil
}

// fetch GETs the run page of id and returns the times to its first and
// last byte and its size.
func (w *webWorld) fetch(ctx context.Context, id int64) (first, last time.Duration, size int64, err error) {
	link := w.pages.RunURL(id)
	var start, firstByte time.Time
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { firstByte = time.Now() }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", w.srv.URL+link, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	start = time.Now()
	res, err := w.srv.Client().Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer res.Body.Close()
	size, err = io.Copy(io.Discard, res.Body)
	end := time.Now()
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("GET %s: %s", link, res.Status)
	}
	return firstByte.Sub(start), end.Sub(start), size, err
}

// webFigures: the time to the first and the last byte of a run page whose
// log has cfg.WebLines lines and the heap that serving it takes, each next
// to the same for a run of 100 lines; and the latency of a log line from its
// publication to a browser's live log (server-sent events).
func webFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	w, err := newWebWorld(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer w.close()
	big, err := w.runWithLines(ctx, cfg.WebLines)
	if err != nil {
		return nil, err
	}
	small, err := w.runWithLines(ctx, smallLog)
	if err != nil {
		return nil, err
	}
	type sample struct{ first, last, heap []float64 }
	var bigS, smallS sample
	var size int64
	for range 2 { // warm up: templates, the page cache
		if _, _, _, err := w.fetch(ctx, big); err != nil {
			return nil, err
		}
	}
	for range cfg.Reps {
		for _, c := range []struct {
			id int64
			s  *sample
		}{{big, &bigS}, {small, &smallS}} {
			settle()
			base := heapNow()
			stop := peakHeap()
			first, last, n, err := w.fetch(ctx, c.id)
			peak := stop()
			if err != nil {
				return nil, err
			}
			if c.id == big {
				size = n
			}
			c.s.first = append(c.s.first, float64(first))
			c.s.last = append(c.s.last, float64(last))
			c.s.heap = append(c.s.heap, float64(peak)-float64(base))
		}
	}
	lines := thousands(float64(cfg.WebLines))
	ttfb := Row{ID: "web-ttfb", Kind: kindTime,
		Figure:   fmt.Sprintf("run page, time to first byte, log of %s lines", lines),
		Value:    median(bigS.first),
		Baseline: "the same for a log of 1,000 lines", Base: median(smallS.first),
		Target: "< 50 ms"}
	ttfb.check(ttfb.Value < 50e6)
	lastByte := Row{ID: "web-lastbyte", Kind: kindTime,
		Figure:   fmt.Sprintf("run page, time to last byte, log of %s lines", lines),
		Value:    median(bigS.last),
		Baseline: "the same for a log of 1,000 lines", Base: median(smallS.last),
		Note: fmt.Sprintf("the page is %s: it shows the last 500 lines and pages back; the log is never sent whole", format(kindBytes, float64(size)))}
	heap := Row{ID: "web-heap", Kind: kindBytes,
		Figure:   fmt.Sprintf("peak heap growth serving that page, log of %s lines", lines),
		Value:    median(bigS.heap),
		Baseline: "the same for a log of 1,000 lines", Base: median(smallS.heap),
		Target: "flat in the number of lines (within 2 MiB of the 1,000-line page)"}
	heap.check(heap.Value <= heap.Base+2<<20)

	text, err := downloadFigure(ctx, cfg, w, big)
	if err != nil {
		return nil, err
	}
	p50, p99, err := liveLatency(ctx, w, 1000)
	if err != nil {
		return nil, err
	}
	midFirst, midLast, err := midPage(ctx, cfg, w, smallS.first, smallS.last)
	if err != nil {
		return nil, err
	}
	return []Row{ttfb, lastByte, heap, text, p50, p99, midFirst, midLast}, nil
}

// midPage times the first and the last byte of a run page whose log has
// cfg.WebMidLines lines, next to the 1,000-line page's (small).
func midPage(ctx context.Context, cfg config, w *webWorld, smallFirst, smallLast []float64) (first, last Row, err error) {
	id, err := w.runWithLines(ctx, cfg.WebMidLines)
	if err != nil {
		return first, last, err
	}
	var firsts, lasts []float64
	for range cfg.Reps + 1 {
		f, l, _, err := w.fetch(ctx, id)
		if err != nil {
			return first, last, err
		}
		firsts, lasts = append(firsts, float64(f)), append(lasts, float64(l))
	}
	firsts, lasts = firsts[1:], lasts[1:] // the first fetch warms the page cache
	lines := thousands(float64(cfg.WebMidLines))
	first = Row{ID: "web-ttfb-mid", Kind: kindTime,
		Figure: fmt.Sprintf("run page, time to first byte, log of %s lines", lines), Value: median(firsts),
		Baseline: "the same for a log of 1,000 lines", Base: median(smallFirst), Target: "< 50 ms"}
	first.check(first.Value < 50e6)
	last = Row{ID: "web-lastbyte-mid", Kind: kindTime,
		Figure: fmt.Sprintf("run page, time to last byte, log of %s lines", lines), Value: median(lasts),
		Baseline: "the same for a log of 1,000 lines", Base: median(smallLast)}
	return first, last, nil
}

// downloadFigure times the download of the whole log as text (log.txt),
// next to reading the same lines from the store in pages in-process.
func downloadFigure(ctx context.Context, cfg config, w *webWorld, id int64) (Row, error) {
	link := w.pages.RunURL(id)
	path, query, _ := strings.Cut(link, "?")
	var times, reads, heaps []float64
	var size int64
	for range cfg.SlowReps {
		settle()
		base := heapNow()
		stop := peakHeap()
		t, err := timed(func() error {
			res, err := w.srv.Client().Get(w.srv.URL + path + "/log.txt?" + query)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			size, err = io.Copy(io.Discard, res.Body)
			return err
		})
		heaps = append(heaps, float64(stop())-float64(base))
		if err != nil {
			return Row{}, err
		}
		times = append(times, t)
		t, err = timed(func() error {
			var after int64
			for {
				lines, err := w.store.Logs(ctx, id, after, 5000)
				if err != nil || len(lines) < 5000 {
					return err
				}
				after = lines[len(lines)-1].Seq
			}
		})
		if err != nil {
			return Row{}, err
		}
		reads = append(reads, t)
	}
	return Row{ID: "web-logtxt", Kind: kindTime,
		Figure:   fmt.Sprintf("log.txt download, %s lines", thousands(float64(cfg.WebLines))),
		Value:    median(times),
		Baseline: "reading them from the store in pages of 5,000", Base: median(reads),
		Note: fmt.Sprintf("%s streamed, masked line by line; peak heap growth %s", format(kindBytes, float64(size)), format(kindBytes, median(heaps))),
	}, nil
}

// liveLatency publishes n lines one at a time, as the executor does (stored,
// then published), and measures each one's time from Publish to its arrival
// at a live log client; beside it, the time to a bare Bus subscriber.
func liveLatency(ctx context.Context, w *webWorld, n int) (p50, p99 Row, err error) {
	id, err := w.runWithLines(ctx, 0)
	if err != nil {
		return p50, p99, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	link := w.pages.RunURL(id)
	path, query, _ := strings.Cut(link, "?")
	req, err := http.NewRequestWithContext(ctx, "GET", w.srv.URL+path+"/events?"+query, nil)
	if err != nil {
		return p50, p99, err
	}
	res, err := w.srv.Client().Do(req)
	if err != nil {
		return p50, p99, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return p50, p99, fmt.Errorf("the live log: %s", res.Status)
	}
	got := make(chan int64, n)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				seq, _ := strconv.ParseInt(v, 10, 64)
				got <- seq
			}
		}
		close(got)
	}()
	bare, stop := w.bus.Subscribe(id)
	defer stop()
	var live, direct []float64
	for i := 1; i <= n; i++ {
		l := dayops.LogLine{RunID: id, Seq: int64(i), Time: time.Now(), Stream: dayops.Stdout, Text: fmt.Sprintf("%060d", i)}
		if err := w.store.AppendLogs(ctx, []dayops.LogLine{l}); err != nil {
			return p50, p99, err
		}
		start := time.Now()
		w.bus.Publish(dayops.RunEvent{Kind: dayops.EventLog, Run: &dayops.Run{ID: id}, Line: &l})
		select {
		case <-bare:
			direct = append(direct, float64(time.Since(start)))
		case <-time.After(10 * time.Second):
			return p50, p99, fmt.Errorf("line %d never reached a bus subscriber", i)
		}
		select {
		case seq, ok := <-got:
			if !ok || seq != int64(i) {
				return p50, p99, fmt.Errorf("the live log sent line %d (open %v), want %d", seq, ok, i)
			}
			live = append(live, float64(time.Since(start)))
		case <-time.After(10 * time.Second):
			return p50, p99, fmt.Errorf("line %d never reached the live log", i)
		}
	}
	slices.Sort(live)
	slices.Sort(direct)
	p50 = Row{ID: "web-sse-p50", Kind: kindTime,
		Figure:   fmt.Sprintf("live log line, published to received over SSE, p50 of %d", n),
		Value:    percentile(live, 50),
		Baseline: "a bare Bus subscriber, p50", Base: percentile(direct, 50)}
	p99 = Row{ID: "web-sse-p99", Kind: kindTime,
		Figure:   fmt.Sprintf("live log line, published to received over SSE, p99 of %d", n),
		Value:    percentile(live, 99),
		Baseline: "a bare Bus subscriber, p99", Base: percentile(direct, 99),
		Note: "lines sent one at a time; the client is a Go reader on 127.0.0.1, not a browser"}
	return p50, p99, nil
}
