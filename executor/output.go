package executor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dayops/dayops"
)

// Output batching: lines go to the store in one transaction per batch, at
// least every flushInterval or every flushLines lines. The queue in front of
// the store is bounded; when it is full the step readers wait (and so the step
// waits on its pipe) instead of lines being dropped.
const (
	flushInterval  = 100 * time.Millisecond
	flushLines     = 500
	flushBytes     = 1 << 20
	logQueue       = 1024
	stepTailLines  = 10 // last lines kept per step for failure messages
	appendDeadline = 30 * time.Second
)

type logItem struct {
	line    dayops.LogLine
	barrier chan struct{} // flush everything before it, then close
}

// logWriter stores the output lines of every run of an executor.
type logWriter struct {
	store   Store
	logger  *slog.Logger
	publish func([]dayops.LogLine)
	in      chan logItem
	stop    chan struct{}
	done    chan struct{}

	// The output budgets of each run's log (Options).
	stepBudget, runBudget int64
}

func newLogWriter(store Store, logger *slog.Logger, publish func([]dayops.LogLine)) *logWriter {
	w := &logWriter{store: store, logger: logger, publish: publish,
		stepBudget: DefaultStepOutputBudget, runBudget: DefaultRunOutputBudget,
		in: make(chan logItem, logQueue), stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

func (w *logWriter) loop() {
	defer close(w.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	var batch []dayops.LogLine
	size := 0
	flush := func() {
		if len(batch) > 0 {
			w.write(batch)
			batch, size = nil, 0
		}
	}
	take := func(it logItem) {
		if it.barrier != nil {
			flush()
			close(it.barrier)
			return
		}
		batch = append(batch, it.line)
		size += len(it.line.Text)
		if len(batch) >= flushLines || size >= flushBytes {
			flush()
		}
	}
	for {
		select {
		case it := <-w.in:
			take(it)
		case <-t.C:
			flush()
		case <-w.stop:
			for {
				select {
				case it := <-w.in:
					take(it)
				default:
					flush()
					return
				}
			}
		}
	}
}

// write stores one batch, retrying a failing store for a while: lines are
// evidence of what ran in production and are not given up lightly.
func (w *logWriter) write(batch []dayops.LogLine) {
	ctx, cancel := context.WithTimeout(context.Background(), appendDeadline)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		err := w.store.AppendLogs(ctx, batch)
		if err == nil {
			break
		}
		if ctx.Err() != nil || dayops.KindOf(err) == dayops.KindConflict {
			w.logger.Error("storing output lines", "run_id", batch[0].RunID, "lines", len(batch), "err", err)
			return
		}
		w.logger.Warn("storing output lines, retrying", "run_id", batch[0].RunID, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay = min(2*delay, 2*time.Second)
	}
	w.publish(batch)
}

func (w *logWriter) close() {
	close(w.stop)
	<-w.done
}

// Output budgets: what is stored of a step's and a run's output. A line is
// charged its bytes and lineCost more for its row. When a step goes over
// (its budget less the tail's share, or what the run has left), its further
// lines are held in a ring of the last tailShare of the budget; when it ends
// a system line says how many lines and bytes were dropped, and the held tail
// is stored after it. Every step keeps at least minTail of its tail, even in
// a run whose budget is spent.
const (
	// DefaultStepOutputBudget is the output stored per step by default.
	DefaultStepOutputBudget = 10 << 20
	// DefaultRunOutputBudget is the output stored per run by default.
	DefaultRunOutputBudget = 50 << 20

	lineCost  = 64
	tailShare = 4 // a quarter of the step budget is the tail
	minTail   = 64 << 10
)

// stepOut is what a step has stored and holds back.
type stepOut struct {
	stored       int64 // bytes charged for the lines stored
	tailing      bool  // over budget: lines go to the tail ring
	tail         []heldLine
	first        int   // index of the oldest held line in tail
	tailBytes    int64 // charged bytes of tail[first:]
	tailCap      int64
	dropped      int64 // lines dropped
	droppedBytes int64 // their bytes (without lineCost)
	droppedByRun bool  // the run's budget, not the step's, was the limit
}

type heldLine struct {
	stream dayops.Stream
	text   string
}

// runLog is the output of one run: it redacts, numbers and queues lines,
// keeps each step within the output budgets, and keeps each step's last lines
// for failure messages.
type runLog struct {
	w          *logWriter
	runID      int64
	now        func() time.Time
	redact     *dayops.Redactor
	forms      []string
	stepBudget int64
	runBudget  int64
	runStored  int64 // bytes charged for every step's stored lines
	outs       map[int]*stepOut

	mu    sync.Mutex
	seq   int64
	steps map[int][]dayops.LogLine
}

func newRunLog(w *logWriter, runID, seq int64, now func() time.Time, redact *dayops.Redactor, forms []string) *runLog {
	return &runLog{w: w, runID: runID, seq: seq, now: now, redact: redact, forms: forms,
		stepBudget: w.stepBudget, runBudget: w.runBudget,
		steps: map[int][]dayops.LogLine{}, outs: map[int]*stepOut{}}
}

// add queues one line of step's output, or holds it back when the step is
// over its budget. It blocks while the store is behind.
func (l *runLog) add(step int, stream dayops.Stream, text string) {
	if stream == dayops.System {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.storeLocked(step, stream, text)
		return
	}
	cost := int64(len(text)) + lineCost
	l.mu.Lock()
	defer l.mu.Unlock()
	o := l.outs[step]
	if o == nil {
		o = &stepOut{}
		l.outs[step] = o
	}
	if !o.tailing {
		tail := l.stepBudget / tailShare
		switch {
		case o.stored+cost <= l.stepBudget-tail && l.runStored+cost <= l.runBudget-tail:
			o.stored += cost
			l.runStored += cost
			l.storeLocked(step, stream, text)
			return
		default:
			o.tailing = true
			o.droppedByRun = o.stored+cost <= l.stepBudget-tail
			o.tailCap = max(min(tail, l.runBudget-l.runStored), minTail)
		}
	}
	o.tail = append(o.tail, heldLine{stream: stream, text: text})
	o.tailBytes += cost
	for o.tailBytes > o.tailCap && o.first < len(o.tail) {
		h := o.tail[o.first]
		o.tail[o.first] = heldLine{}
		o.first++
		o.tailBytes -= int64(len(h.text)) + lineCost
		o.dropped++
		o.droppedBytes += int64(len(h.text))
	}
	if o.first > 1024 && o.first > len(o.tail)/2 {
		o.tail = append(o.tail[:0], o.tail[o.first:]...)
		o.first = 0
	}
}

// endStep stores what a step over its budget held back: a line saying what
// was dropped, then the tail of its output.
func (l *runLog) endStep(step int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o := l.outs[step]
	if o == nil || !o.tailing {
		return
	}
	held := o.tail[o.first:]
	if o.dropped > 0 {
		limit := fmt.Sprintf("its budget of %s per step", sizeText(l.stepBudget))
		if o.droppedByRun {
			limit = fmt.Sprintf("the run's budget of %s", sizeText(l.runBudget))
		}
		l.storeLocked(step, dayops.System, fmt.Sprintf("output over %s: %d %s (%s) dropped here; the last %d %s follow",
			limit, o.dropped, plural(int(o.dropped), "line", "lines"), sizeText(o.droppedBytes), len(held), plural(len(held), "line", "lines")))
	}
	for _, h := range held {
		l.storeLocked(step, h.stream, h.text)
	}
	o.stored += o.tailBytes
	l.runStored += o.tailBytes
	o.tail, o.first, o.tailBytes, o.dropped, o.droppedBytes, o.tailing = nil, 0, 0, 0, 0, false
}

// sizeText is n bytes for people: "12 B", "3.4 KiB", "10 MiB".
func sizeText(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<10)), ".0") + " KiB"
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/(1<<20)), ".0") + " MiB"
	}
}

// storeLocked numbers, redacts and queues one line; l.mu is held.
func (l *runLog) storeLocked(step int, stream dayops.Stream, text string) {
	text = cleanText(l.redact.Redact(text))
	l.seq++
	line := dayops.LogLine{RunID: l.runID, Step: step, Seq: l.seq, Time: l.now(), Stream: stream, Text: text}
	st := append(l.steps[step], line)
	if len(st) > stepTailLines {
		st = st[len(st)-stepTailLines:]
	}
	l.steps[step] = st
	l.w.in <- logItem{line: line}
}

// system adds a line of dayops's own (retries, timeouts, kills).
func (l *runLog) system(step int, format string, args ...any) {
	l.add(step, dayops.System, fmt.Sprintf(format, args...))
}

// flush returns once every line added so far is stored.
func (l *runLog) flush() {
	b := make(chan struct{})
	l.w.in <- logItem{barrier: b}
	<-b
}

// lastLines returns up to n of the last stdout and stderr lines of step,
// joined for a message.
func (l *runLog) lastLines(step, n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.steps[step] {
		if line.Stream != dayops.System {
			out = append(out, dayops.Truncate(line.Text, 200))
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, " | ")
}
