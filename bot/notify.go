package bot

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/dayops/dayops"
)

// doorTimeout bounds one Post or Update made on behalf of Notify.
const doorTimeout = 30 * time.Second

// closeTimeout bounds how long Close waits for pending updates.
const closeTimeout = time.Minute

// maxFinished is how many finished runs keep their tracker, so that a late
// event (an approval reply after the end) still finds the run's message.
const maxFinished = 1024

// maxLineRunes bounds one output line kept for a run message.
const maxLineRunes = 300

// tracker is what the bot knows about one run it reports on. The run
// snapshots it holds are never modified once stored (merge copies), so a
// worker may render one without holding the lock.
type tracker struct {
	id         int64
	run        *dayops.Run
	tails      map[int][]string // last output lines per step index
	thread     dayops.Thread    // where the run's message lives
	msgID      string           // "" until posted
	claiming   bool             // Handle is posting the message now
	awaitUntil time.Time        // until then, leave the first post to Handle
	dirty      bool             // run changed since the message was last rendered
	replies    []reply          // thread replies still to post, in order
	lastUpdate time.Time
	working    bool // a worker goroutine owns the tracker
	finished   bool // counted in Bot.finished
	kick       chan struct{}
}

// reply is a thread reply waiting for the worker: a fixed text, or an
// approval whose text needs the store.
type reply struct {
	text     string
	approval *dayops.Approval
}

// Notify receives the executor's run events. It never blocks on a door: it
// records the newest state under a short lock and leaves the talking to the
// run's worker goroutine. Events for threads of unregistered doors are dropped.
func (b *Bot) Notify(ev dayops.RunEvent) {
	if ev.Run == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing || b.doors[ev.Run.Thread.Door] == nil {
		return
	}
	t := b.trackerLocked(ev.Run, ev.Run.Thread)
	switch ev.Kind {
	case dayops.EventState, dayops.EventStep:
		t.merge(ev.Run, ev.Step)
		t.dirty = true
	case dayops.EventLog:
		if ev.Line != nil {
			t.addLine(*ev.Line)
		}
		return // output alone does not update the message
	case dayops.EventApproval:
		// The decision is a reply; the state events that follow it change
		// the message, and make one for a run that has none here.
		t.merge(ev.Run, nil)
		if a := ev.Approval; a != nil {
			if !b.reportAckLocked(ackKey(ev.Run.ID, a.Actor.ID, a.Approved, ev.Run.Thread)) {
				cp := *a
				t.replies = append(t.replies, reply{approval: &cp})
			}
		}
	case dayops.EventInterrupted:
		t.merge(ev.Run, nil)
		if t.msgID != "" { // a message we know of shows the end; no new one for it
			t.dirty = true
		}
		step := "before its first step"
		if ev.Run.CurrentStep != "" {
			step = "during step " + ev.Run.CurrentStep
		}
		t.replies = append(t.replies, reply{text: fmt.Sprintf("run %d %s was interrupted when dayops stopped %s", ev.Run.ID, ev.Run.Definition, step)})
	default:
		return
	}
	b.wakeLocked(t)
}

// trackerLocked returns the run's tracker, creating it. A run started from
// chat leaves its first message to Handle, which posts it right after Start
// returns; the executor may report before that.
func (b *Bot) trackerLocked(r *dayops.Run, where dayops.Thread) *tracker {
	if t, ok := b.trackers[r.ID]; ok {
		return t
	}
	// Seam: the message ID lives in memory only. A run whose Thread.Message
	// was recorded (a door that knows the ID before Start) is found again
	// after a restart; a store method to record it after posting would make
	// every run so.
	t := &tracker{id: r.ID, thread: where, msgID: where.Message, tails: map[int][]string{}, kick: make(chan struct{}, 1)}
	if t.msgID == "" && r.Trigger == dayops.TriggerChat {
		t.awaitUntil = time.Now().Add(b.claim)
	}
	b.trackers[r.ID] = t
	return t
}

// wakeLocked makes sure a worker drains t.
func (b *Bot) wakeLocked(t *tracker) {
	if t.working {
		select {
		case t.kick <- struct{}{}:
		default:
		}
		return
	}
	t.working = true
	if b.busy == 0 {
		b.idleCh = make(chan struct{})
	}
	b.busy++
	go b.work(t)
}

// claimRun posts the message of a run that Handle just started and
// remembers where it is, so that the run's events update it.
func (b *Bot) claimRun(ctx context.Context, r *dayops.Run, where dayops.Thread) {
	b.mu.Lock()
	t := b.trackerLocked(r, where)
	if t.run == nil { // events, when they came first, are newer than Start's answer
		t.merge(r, nil)
	}
	if t.msgID != "" || t.claiming { // posted already: the claim wait ran out
		b.mu.Unlock()
		return
	}
	t.claiming = true
	t.dirty = false
	snap, tails := t.run, cloneTails(t.tails)
	b.mu.Unlock()

	id := b.post(ctx, where, b.runMessage(ctx, snap, tails))

	b.mu.Lock()
	defer b.mu.Unlock()
	t.claiming = false
	t.msgID = id
	t.awaitUntil = time.Time{}
	t.lastUpdate = time.Now()
	if t.working || t.dirty || len(t.replies) > 0 {
		b.wakeLocked(t) // a worker waiting for this claim goes on now
	}
}

// work drains one tracker: thread replies first, then the newest state of
// the run message, at most once per pace interval. It returns when there is
// nothing left to say.
func (b *Bot) work(t *tracker) {
	defer func() {
		b.mu.Lock()
		t.working = false
		b.busy--
		if b.busy == 0 {
			close(b.idleCh)
		}
		b.mu.Unlock()
	}()
	for {
		b.mu.Lock()
		door := b.doors[t.thread.Door]
		now := time.Now()
		switch {
		case door == nil:
			t.dirty, t.replies = false, nil
			b.mu.Unlock()
			return
		case t.msgID == "" && t.claiming:
			b.mu.Unlock()
			b.sleep(t, b.claim)
			continue
		case t.msgID == "" && !b.closing && now.Before(t.awaitUntil):
			wait := t.awaitUntil.Sub(now)
			b.mu.Unlock()
			b.sleep(t, wait)
			continue
		case len(t.replies) > 0 && (t.msgID != "" || !t.dirty):
			// Replies answer the run's message: it goes first when it is
			// still to be posted; after that, replies precede updates, as
			// the decisions they report came before the progress.
			rs := t.replies
			t.replies = nil
			b.mu.Unlock()
			for _, r := range rs {
				b.postReply(t, door, r)
			}
			continue
		case !t.dirty && len(t.replies) == 0:
			b.finishLocked(t)
			b.mu.Unlock()
			return
		}
		if t.msgID != "" && !b.closing {
			if wait := pace(door, b.interval) - now.Sub(t.lastUpdate); wait > 0 {
				b.mu.Unlock()
				b.sleep(t, wait)
				continue
			}
		}
		snap, tails, msgID := t.run, cloneTails(t.tails), t.msgID
		t.dirty = false
		b.mu.Unlock()

		ctx, cancel := context.WithTimeout(b.ctx, doorTimeout)
		m := b.redactMessage(b.runMessage(ctx, snap, tails))
		if msgID == "" {
			id, err := door.Post(ctx, t.thread, m)
			if err != nil {
				b.log.Error("posting run message", "run_id", t.id, "door", door.Name(), "err", err)
			}
			b.mu.Lock()
			t.msgID = id
			b.mu.Unlock()
		} else if err := door.Update(ctx, t.thread, msgID, m); err != nil {
			b.log.Error("updating run message", "run_id", t.id, "door", door.Name(), "err", err)
		}
		cancel()
		b.mu.Lock()
		t.lastUpdate = time.Now()
		b.mu.Unlock()
	}
}

// postReply posts one thread reply of a run.
func (b *Bot) postReply(t *tracker, door Door, r reply) {
	ctx, cancel := context.WithTimeout(b.ctx, doorTimeout)
	defer cancel()
	text := r.text
	if r.approval != nil {
		b.mu.Lock()
		run := t.run
		b.mu.Unlock()
		text = b.approvalText(ctx, run, r.approval)
	}
	if _, err := door.Post(ctx, t.thread, b.redactMessage(Message{Text: text})); err != nil {
		b.log.Error("posting run reply", "run_id", t.id, "door", door.Name(), "err", err)
	}
}

// finishLocked forgets the oldest finished runs beyond maxFinished.
func (b *Bot) finishLocked(t *tracker) {
	if t.finished || t.run == nil || !t.run.State.Final() {
		return
	}
	t.finished = true
	b.finished = append(b.finished, t.id)
	for len(b.finished) > maxFinished {
		id := b.finished[0]
		b.finished = b.finished[1:]
		if old := b.trackers[id]; old != nil && !old.working {
			delete(b.trackers, id)
		}
	}
}

// sleep waits d or until the tracker is kicked.
func (b *Bot) sleep(t *tracker, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.kick:
	case <-timer.C:
	}
}

func pace(d Door, def time.Duration) time.Duration {
	if p, ok := d.(Paced); ok {
		return p.MinUpdateInterval()
	}
	return def
}

// merge takes in a newer snapshot of the run and a changed step. A final
// state or step never goes back to an earlier one, whatever order events
// arrive in.
func (t *tracker) merge(r *dayops.Run, st *dayops.StepRun) {
	if r != nil && (t.run == nil || !t.run.State.Final() || r.State.Final()) {
		n := *r
		n.Steps = slices.Clone(r.Steps)
		if t.run != nil {
			if len(n.Steps) == 0 {
				n.Steps = slices.Clone(t.run.Steps)
			}
			for _, old := range t.run.Steps {
				if old.State.Final() {
					n.Steps = keepFinal(n.Steps, old)
				}
			}
		}
		t.run = &n
	}
	if st != nil && t.run != nil {
		n := *t.run
		n.Steps = upsertStep(slices.Clone(n.Steps), *st)
		t.run = &n
	}
}

// upsertStep puts st into steps by Index, unless it would take a final step
// back to a running one.
func upsertStep(steps []dayops.StepRun, st dayops.StepRun) []dayops.StepRun {
	for i := range steps {
		if steps[i].Index == st.Index {
			if steps[i].State.Final() && !st.State.Final() {
				return steps
			}
			steps[i] = st
			return steps
		}
	}
	steps = append(steps, st)
	slices.SortFunc(steps, func(a, b dayops.StepRun) int { return a.Index - b.Index })
	return steps
}

// keepFinal puts a step that had ended back into steps, where an older
// snapshot still shows it unfinished or lacks it.
func keepFinal(steps []dayops.StepRun, old dayops.StepRun) []dayops.StepRun {
	for i := range steps {
		if steps[i].Index == old.Index {
			if !steps[i].State.Final() {
				steps[i] = old
			}
			return steps
		}
	}
	return upsertStep(steps, old)
}

// addLine keeps the last output lines of each step.
func (t *tracker) addLine(l dayops.LogLine) {
	lines := append(t.tails[l.Step], dayops.Truncate(l.Text, maxLineRunes))
	if len(lines) > MaxOutputLines {
		lines = slices.Clone(lines[len(lines)-MaxOutputLines:])
	}
	t.tails[l.Step] = lines
}

func cloneTails(m map[int][]string) map[int][]string {
	out := make(map[int][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// Wait returns when no run message or reply is waiting to be posted. It
// waits for pacing and claims, which are short, and for doors, whose calls
// time out after 30 seconds; Close posts without pacing.
func (b *Bot) Wait() {
	_ = b.wait(context.Background())
}

// wait is Wait that gives up when ctx is done.
func (b *Bot) wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		if b.busy == 0 {
			b.mu.Unlock()
			return nil
		}
		ch := b.idleCh
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close posts what is pending at once (no pacing, no waiting for Handle),
// then stops: later events are dropped. It waits at most a minute.
func (b *Bot) Close() error {
	b.mu.Lock()
	b.closing = true
	for _, t := range b.trackers {
		if t.working {
			select {
			case t.kick <- struct{}{}:
			default:
			}
		}
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := b.wait(ctx)
	b.cancel()
	if err != nil {
		return fmt.Errorf("flushing run messages: %w", err)
	}
	return nil
}
