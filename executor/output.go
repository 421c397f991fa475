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
}

func newLogWriter(store Store, logger *slog.Logger, publish func([]dayops.LogLine)) *logWriter {
	w := &logWriter{store: store, logger: logger, publish: publish,
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

// runLog is the output of one run: it redacts, numbers and queues lines, and
// keeps each step's last lines for failure messages.
type runLog struct {
	w      *logWriter
	runID  int64
	now    func() time.Time
	redact *dayops.Redactor
	forms  []string

	mu    sync.Mutex
	seq   int64
	steps map[int][]dayops.LogLine
}

func newRunLog(w *logWriter, runID, seq int64, now func() time.Time, redact *dayops.Redactor, forms []string) *runLog {
	return &runLog{w: w, runID: runID, seq: seq, now: now, redact: redact, forms: forms, steps: map[int][]dayops.LogLine{}}
}

// add queues one line of step's output. It blocks while the store is behind.
func (l *runLog) add(step int, stream dayops.Stream, text string) {
	text = cleanText(l.redact.Redact(text))
	l.mu.Lock()
	defer l.mu.Unlock()
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
