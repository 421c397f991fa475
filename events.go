package dayops

import (
	"context"
	"slices"
	"sync"
)

// Events carries run, step and log events from the executor to whoever
// follows runs: the bot, `dayops run`, the web page's live log. Publish never
// blocks. The in-process Bus implements it; with several replicas a
// database-backed implementation (PostgreSQL LISTEN/NOTIFY) takes its place.
type Events interface {
	// Publish hands ev to the run's subscribers and to those of every run.
	Publish(ev RunEvent)
	// Subscribe returns the live events of one run (runID 0: of every run)
	// and a function that ends the subscription. A subscriber that falls
	// behind loses output lines first (a gap in their Seq tells it to read
	// them from the store: Follow does), other events only when it is far
	// behind, and never an event that ends a run.
	Subscribe(runID int64) (events <-chan RunEvent, stop func())
}

// RunReader reads what is stored of a run; the storage package implements it.
type RunReader interface {
	Run(ctx context.Context, id int64) (*Run, error)
	Logs(ctx context.Context, runID int64, afterSeq int64, limit int) ([]LogLine, error)
}

// subscriberBuffer is how many events a subscriber of one run may be behind;
// subscribers of every run get allBuffer.
const (
	subscriberBuffer = 256
	allBuffer        = 4096
)

// Bus is the in-process Events. The zero value is not usable; use NewBus.
type Bus struct {
	mu     sync.Mutex
	subs   map[int64]map[*subscriber]struct{} // by run ID; 0 = every run
	closed bool
}

// subscriber queues events for one follower; its pump hands them over in
// order. Publish only appends to the queue, so a follower that does not read
// never slows the runs down.
type subscriber struct {
	mu    sync.Mutex
	queue []RunEvent
	size  int
	wake  chan struct{} // a token when the queue has something
	out   chan RunEvent
	done  chan struct{}
}

func newSubscriber(size int) *subscriber {
	s := &subscriber{size: size, wake: make(chan struct{}, 1), out: make(chan RunEvent), done: make(chan struct{})}
	go s.pump()
	return s
}

func (s *subscriber) pump() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		ev := s.queue[0]
		s.queue[0] = RunEvent{}
		s.queue = s.queue[1:]
		s.mu.Unlock()
		select {
		case s.out <- ev:
		case <-s.done:
			return
		}
	}
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{subs: map[int64]map[*subscriber]struct{}{}}
}

// Subscribe implements Events.
func (b *Bus) Subscribe(runID int64) (<-chan RunEvent, func()) {
	size := subscriberBuffer
	if runID == 0 {
		size = allBuffer
	}
	s := newSubscriber(size)
	b.mu.Lock()
	if b.subs[runID] == nil {
		b.subs[runID] = map[*subscriber]struct{}{}
	}
	b.subs[runID][s] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return s.out, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs[runID], s)
			if len(b.subs[runID]) == 0 {
				delete(b.subs, runID)
			}
			b.mu.Unlock()
			close(s.done)
		})
	}
}

// Publish implements Events.
func (b *Bus) Publish(ev RunEvent) {
	var id int64
	if ev.Run != nil {
		id = ev.Run.ID
	} else if ev.Line != nil {
		id = ev.Line.RunID
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if id != 0 {
		for s := range b.subs[id] {
			s.send(ev)
		}
	}
	for s := range b.subs[0] {
		s.send(ev)
	}
}

// send queues ev without waiting. When the queue is full, a log line is
// dropped; any other event takes the place of the oldest queued log line, and
// an event that ends a run, if there is none, the place of the oldest queued
// event; otherwise the follower is far behind and loses ev.
func (s *subscriber) send(ev RunEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) >= s.size {
		if ev.Kind == EventLog {
			return // a slow reader re-reads the store (Follow does)
		}
		drop := slices.IndexFunc(s.queue, func(q RunEvent) bool { return q.Kind == EventLog })
		switch {
		case drop >= 0:
			s.queue = slices.Delete(s.queue, drop, drop+1)
		case ev.Run != nil && ev.Run.State.Final():
			s.queue = s.queue[1:]
		default:
			return
		}
	}
	s.queue = append(s.queue, ev)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// followPage is how many stored lines Follow reads at a time.
const followPage = 1000

// Follow returns the events of one run: first an EventState with the run as
// stored, then its stored output lines after afterSeq, then what happens
// live (for a run that has ended: its lines, then the run again), with no gap and no line twice (a line the live feed lost is read
// from the store). The channel closes after the event that shows the run
// ended (all its lines come before it), when ctx is done, or when the store
// fails (the error is then the last event's Message, Kind "").
func Follow(ctx context.Context, r RunReader, events Events, runID, afterSeq int64) <-chan RunEvent {
	out := make(chan RunEvent, 64)
	live, stop := events.Subscribe(runID) // before reading: nothing falls between
	go func() {
		defer close(out)
		defer stop()
		f := follower{ctx: ctx, r: r, out: out, id: runID, last: afterSeq}
		run, err := r.Run(ctx, runID)
		if err != nil {
			f.fail(err)
			return
		}
		if !f.send(RunEvent{Kind: EventState, Run: run}) || !f.readTo(0) {
			return
		}
		if run.State.Final() {
			// The end comes last, after the lines, as for a run followed live.
			f.send(RunEvent{Kind: EventState, Run: run})
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-live:
				if ev.Kind == EventLog && ev.Line != nil {
					if ev.Line.Seq <= f.last {
						continue
					}
					if ev.Line.Seq > f.last+1 && !f.readTo(ev.Line.Seq-1) {
						return
					}
					f.last = ev.Line.Seq
					if !f.send(ev) {
						return
					}
					continue
				}
				final := ev.Run != nil && ev.Run.State.Final() && (ev.Kind == EventState || ev.Kind == EventInterrupted)
				if final && !f.readTo(0) { // a step's lines are stored before its end is
					return
				}
				if !f.send(ev) || final {
					return
				}
			}
		}
	}()
	return out
}

type follower struct {
	ctx  context.Context
	r    RunReader
	out  chan<- RunEvent
	id   int64
	last int64
}

func (f *follower) send(ev RunEvent) bool {
	select {
	case f.out <- ev:
		return true
	case <-f.ctx.Done():
		return false
	}
}

func (f *follower) fail(err error) {
	f.send(RunEvent{Message: "reading run: " + err.Error()})
}

// readTo sends the stored lines after f.last up to seq (0: all of them).
func (f *follower) readTo(seq int64) bool {
	for {
		limit := followPage
		if seq > 0 {
			limit = int(min(seq-f.last, followPage))
			if limit <= 0 {
				return true
			}
		}
		lines, err := f.r.Logs(f.ctx, f.id, f.last, limit)
		if err != nil {
			f.fail(err)
			return false
		}
		for i := range lines {
			l := lines[i]
			f.last = l.Seq
			if !f.send(RunEvent{Kind: EventLog, Run: &Run{ID: f.id}, Line: &l, Time: l.Time}) {
				return false
			}
		}
		if len(lines) < limit {
			if seq > 0 {
				f.last = max(f.last, seq) // lost for good: do not read them again
			}
			return true
		}
	}
}
