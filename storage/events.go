package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/dayops/dayops"
)

// Events: run events across the replicas of one database. Each process
// publishes its executor's events on a bus of its own (Local: what its bot
// reports from, so that each run is reported by the replica that drives
// it) and, on PostgreSQL, tells the other replicas with a NOTIFY. A
// notification carries the event's kind and IDs only (run, step, the line's
// number), never its text: the receiver reads the run, step or line from
// the database, so that no payload limit applies and nothing is lost that
// was stored. What a process follows (Subscribe: the web's live run pages)
// thus gets the events of every replica. On SQLite, one process per file,
// Events is the local bus alone.

// eventsChannel is the PostgreSQL channel of run events.
const eventsChannel = "dayops_events"

// notesBuffer is how many notifications may wait to be sent; beyond it
// output lines are dropped first (a follower reads them from the store).
const notesBuffer = 4096

// note is a run event as a notification tells it.
type note struct {
	Origin string           `json:"o"`
	Kind   dayops.EventKind `json:"k"`
	Run    int64            `json:"r"`
	Seq    int64            `json:"s,omitempty"` // EventLog: the line's number
	Step   int              `json:"i,omitempty"` // EventStep: the step's index + 1
	Msg    string           `json:"m,omitempty"`
}

// Events is dayops.Events over the database (see Store.Events).
type Events struct {
	s      *Store
	local  *dayops.Bus // this process's events
	all    *dayops.Bus // this process's and the other replicas'
	origin string
	log    *slog.Logger

	notes  chan note
	heard  chan struct{} // closed once the first LISTEN is in place
	hear   sync.Once
	mu     sync.Mutex
	follow map[int64]int // subscriptions by run ID (0: every run)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Events returns the run events of this database for one process. The
// process's own events go to local (nil: a new bus) and, on PostgreSQL, to
// the other processes on the database, whose events this one receives in
// turn until Close. Give the executor the Events, its subscribers that must
// hear only this process's runs (the bot) Local, and those that follow any
// run (the web's live pages, dayops.Follow) the Events.
func (s *Store) Events(ctx context.Context, local *dayops.Bus) *Events {
	if local == nil {
		local = dayops.NewBus()
	}
	e := &Events{s: s, local: local, all: local, log: s.logger, follow: map[int64]int{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if !s.pg {
		return e
	}
	var id [8]byte
	rand.Read(id[:])
	e.origin = hex.EncodeToString(id[:])
	e.all = dayops.NewBus()
	e.notes = make(chan note, notesBuffer)
	e.heard = make(chan struct{})
	e.wg.Add(2)
	go e.send()
	go e.listen()
	return e
}

// Local is the bus of this process's own events.
func (e *Events) Local() *dayops.Bus { return e.local }

// Close stops telling and hearing the other replicas.
func (e *Events) Close() error {
	e.cancel()
	e.wg.Wait()
	return nil
}

// Publish implements dayops.Events: this process's subscribers get ev at
// once, the other replicas' when their database tells them.
func (e *Events) Publish(ev dayops.RunEvent) {
	e.local.Publish(ev)
	if e.notes == nil {
		return
	}
	e.all.Publish(ev)
	n := note{Origin: e.origin, Kind: ev.Kind, Msg: dayops.Truncate(ev.Message, 1000)}
	switch {
	case ev.Run != nil:
		n.Run = ev.Run.ID
	case ev.Line != nil:
		n.Run = ev.Line.RunID
	}
	if ev.Line != nil {
		n.Seq = ev.Line.Seq
	}
	if ev.Step != nil {
		n.Step = ev.Step.Index + 1
	}
	if n.Run == 0 {
		return
	}
	select {
	case e.notes <- n:
	default:
		if ev.Kind != dayops.EventLog {
			e.log.Warn("run events: too many waiting to be told to the other replicas, dropped one", "run_id", n.Run, "kind", n.Kind)
		}
	}
}

// Subscribe implements dayops.Events: the events of every replica.
func (e *Events) Subscribe(runID int64) (<-chan dayops.RunEvent, func()) {
	ch, stop := e.all.Subscribe(runID)
	e.mu.Lock()
	e.follow[runID]++
	e.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			stop()
			e.mu.Lock()
			if e.follow[runID]--; e.follow[runID] <= 0 {
				delete(e.follow, runID)
			}
			e.mu.Unlock()
		})
	}
}

// followed reports whether someone here follows run id (or every run).
func (e *Events) followed(id int64) (run, any bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.follow[id] > 0, e.follow[id] > 0 || e.follow[0] > 0
}

// followedRuns are the runs someone here follows.
func (e *Events) followedRuns() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []int64
	for id := range e.follow {
		if id != 0 {
			out = append(out, id)
		}
	}
	return out
}

// send tells the other replicas of this process's events, in order. The
// output lines of one run that wait together are told as their last one: a
// follower reads the lines before it from the store.
func (e *Events) send() {
	defer e.wg.Done()
	for {
		var batch []note
		select {
		case <-e.ctx.Done():
			return
		case n := <-e.notes:
			batch = append(batch, n)
		}
	drain:
		for len(batch) < 512 {
			select {
			case n := <-e.notes:
				batch = append(batch, n)
			default:
				break drain
			}
		}
		for i, n := range batch {
			if n.Kind == dayops.EventLog && i+1 < len(batch) && batch[i+1].Kind == dayops.EventLog && batch[i+1].Run == n.Run {
				continue
			}
			payload, err := json.Marshal(n)
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
			_, err = e.s.r.ExecContext(ctx, "SELECT pg_notify(?, ?)", eventsChannel, string(payload))
			cancel()
			if err != nil && e.ctx.Err() == nil {
				e.log.Warn("run events: telling the other replicas", "run_id", n.Run, "kind", n.Kind, "err", pgMessage(err))
			}
		}
	}
}

// receive turns a notification of another replica into events for the
// subscribers here, read from the database.
func (e *Events) receive(payload string) {
	var n note
	if err := json.Unmarshal([]byte(payload), &n); err != nil || n.Origin == e.origin || n.Run == 0 {
		return
	}
	run, any := e.followed(n.Run)
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	if n.Kind == dayops.EventLog {
		if !run || n.Seq <= 0 {
			return
		}
		lines, err := e.s.Logs(ctx, n.Run, n.Seq-1, 1)
		if err != nil || len(lines) == 0 {
			return
		}
		l := lines[0]
		e.all.Publish(dayops.RunEvent{Kind: dayops.EventLog, Run: &dayops.Run{ID: n.Run}, Line: &l, Time: time.Now()})
		return
	}
	if !any {
		return
	}
	r, err := e.s.Run(ctx, n.Run)
	if err != nil {
		e.log.Warn("run events: reading a run another replica told of", "run_id", n.Run, "err", err)
		return
	}
	ev := dayops.RunEvent{Kind: n.Kind, Run: r, Message: n.Msg, Time: time.Now()}
	if n.Step > 0 {
		for i := range r.Steps {
			if r.Steps[i].Index == n.Step-1 {
				st := r.Steps[i]
				ev.Step = &st
			}
		}
	}
	e.all.Publish(ev)
}

// catchUp publishes, for every run followed here, the run and its last
// line as stored: what a (re)connected listener may have missed. A
// follower reads the lines between from the store.
func (e *Events) catchUp() {
	for _, id := range e.followedRuns() {
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		r, err := e.s.Run(ctx, id)
		var last []dayops.LogLine
		if err == nil {
			last, err = e.s.LogsBefore(ctx, id, 1<<62, 1)
		}
		cancel()
		if err != nil {
			continue
		}
		if len(last) == 1 {
			l := last[0]
			e.all.Publish(dayops.RunEvent{Kind: dayops.EventLog, Run: &dayops.Run{ID: id}, Line: &l, Time: time.Now()})
		}
		e.all.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: r, Time: time.Now()})
	}
}
