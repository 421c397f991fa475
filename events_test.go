package dayops_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// memRuns is a RunReader over one run and its lines, as a store keeps them.
type memRuns struct {
	mu    sync.Mutex
	run   dayops.Run
	lines []dayops.LogLine
}

func (m *memRuns) Run(ctx context.Context, id int64) (*dayops.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.run
	return &r, nil
}

func (m *memRuns) Logs(ctx context.Context, runID, afterSeq int64, limit int) ([]dayops.LogLine, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []dayops.LogLine
	for _, l := range m.lines {
		if l.Seq > afterSeq && (limit == 0 || len(out) < limit) {
			out = append(out, l)
		}
	}
	return out, nil
}

// store records lines 1…n of the run, as the executor's log writer does
// before it publishes them.
func (m *memRuns) store(from, to int64) []dayops.LogLine {
	m.mu.Lock()
	defer m.mu.Unlock()
	var added []dayops.LogLine
	for s := from; s <= to; s++ {
		l := dayops.LogLine{RunID: 7, Seq: s, Text: fmt.Sprint("line ", s)}
		m.lines = append(m.lines, l)
		added = append(added, l)
	}
	return added
}

func (m *memRuns) end() *dayops.Run {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.run.State = dayops.RunSucceeded
	r := m.run
	return &r
}

// collect reads a Follow channel to its end.
func collect(t *testing.T, ch <-chan dayops.RunEvent) (seqs []int64, last dayops.RunEvent) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return seqs, last
			}
			if ev.Kind == dayops.EventLog {
				seqs = append(seqs, ev.Line.Seq)
			}
			last = ev
		case <-timeout:
			t.Fatal("Follow did not end")
		}
	}
}

func wantSeqs(t *testing.T, got []int64, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("%d lines, want %d…%d: %v", len(got), from, to, got)
	}
	for i, s := range got {
		if s != from+int64(i) {
			t.Fatalf("line %d is seq %d, want %d (a gap or a line twice): %v", i, s, from+int64(i), got)
		}
	}
}

func TestFollowStoredThenLiveWithoutGapOrRepeat(t *testing.T) {
	m := &memRuns{run: dayops.Run{ID: 7, State: dayops.RunRunning}}
	bus := dayops.NewBus()
	m.store(1, 300) // before anyone follows
	ch := dayops.Follow(context.Background(), m, bus, 7, 0)
	publish := func(lines []dayops.LogLine) {
		for i := range lines {
			bus.Publish(dayops.RunEvent{Kind: dayops.EventLog, Run: &dayops.Run{ID: 7}, Line: &lines[i]})
		}
	}
	// Lines stored while Follow reads the store are also published: some
	// reach it twice.
	publish(m.store(301, 400))
	// A live feed that loses lines (a slow subscriber): 401–450 stored but
	// never published, then 451–500 published.
	m.store(401, 450)
	publish(m.store(451, 500))
	// Lines of another run are not this run's.
	other := dayops.LogLine{RunID: 8, Seq: 1000}
	bus.Publish(dayops.RunEvent{Kind: dayops.EventLog, Run: &dayops.Run{ID: 8}, Line: &other})
	// The last lines are stored, the run ends before they are published.
	m.store(501, 520)
	bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: m.end()})

	seqs, last := collect(t, ch)
	wantSeqs(t, seqs, 1, 520)
	if last.Kind != dayops.EventState || last.Run.State != dayops.RunSucceeded {
		t.Errorf("the last event is %s %v, want the run's end", last.Kind, last.Run)
	}
}

func TestFollowAnEndedRun(t *testing.T) {
	m := &memRuns{run: dayops.Run{ID: 7, State: dayops.RunRunning}}
	m.store(1, 2500)
	m.end()
	seqs, last := collect(t, dayops.Follow(context.Background(), m, dayops.NewBus(), 7, 2000))
	wantSeqs(t, seqs, 2001, 2500)
	if last.Kind != dayops.EventState || last.Run.State != dayops.RunSucceeded {
		t.Errorf("last event %s, want the run's end after its lines", last.Kind)
	}
}

func TestBusKeepsTheEndForASlowSubscriber(t *testing.T) {
	bus := dayops.NewBus()
	slow, stop := bus.Subscribe(0)
	defer stop()
	for i := range 10000 {
		l := dayops.LogLine{RunID: 1, Seq: int64(i + 1)}
		bus.Publish(dayops.RunEvent{Kind: dayops.EventLog, Run: &dayops.Run{ID: 1}, Line: &l})
		bus.Publish(dayops.RunEvent{Kind: dayops.EventStep, Run: &dayops.Run{ID: 1, State: dayops.RunRunning}})
	}
	bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: &dayops.Run{ID: 1, State: dayops.RunFailed}})
	last := drain(slow)
	if last.Run == nil || last.Run.State != dayops.RunFailed {
		t.Errorf("the slow subscriber's last event is %+v, not the run's end", last)
	}
}

// drain reads what a subscription holds until it has been quiet a while and
// returns the last event.
func drain(ch <-chan dayops.RunEvent) (last dayops.RunEvent) {
	for {
		select {
		case ev := <-ch:
			last = ev
		case <-time.After(200 * time.Millisecond):
			return last
		}
	}
}
