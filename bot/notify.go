package bot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/dayops/dayops"
)

// Run reporting. Where a run is reported is stored (dayops.Report): a row
// written when the run is first reported, its message ID once posted, and the
// state the message shows each time it is brought up to date. The reporter
// renders from the stored run and these rows, so a restarted bot (or, later,
// another replica) goes on updating the same message until it shows the run's
// final state. Run events only say "look again": nothing about a run's
// message lives only in memory.

// doorTimeout bounds one Post or Update.
const doorTimeout = 30 * time.Second

// closeTimeout bounds how long Close waits for pending updates.
const closeTimeout = time.Minute

// maxLineRunes bounds one output line kept for a run message.
const maxLineRunes = 300

// Retries of a door that fails: backoff doubles from retryBase to retryMax,
// or follows what the door asks (RetryAfter).
const (
	retryBase = time.Second
	retryMax  = time.Minute
)

// resumeLimit bounds how many unfinished reports a start picks up again.
const resumeLimit = 1000

// RetryAfter is implemented by door errors that say when to try again, such
// as an answer 429 with a Retry-After header.
type RetryAfter interface {
	RetryAfter() time.Duration
}

// tracker is the reporter's work on one run: whether its messages need a
// look, the thread replies waiting, and when the doors may be called again.
type tracker struct {
	id      int64
	dirty   bool             // the run changed since its messages were last brought up to date
	replies []reply          // thread replies still to post, in order
	hold    <-chan time.Time // no door call before it fires: pace, or backoff after a failure
	failed  bool             // the last delivery failed
	working bool             // a worker goroutine owns the tracker
	pinned  int              // report calls using the tracker: keep it
	kick    chan struct{}
	deliver sync.Mutex // held while the run's messages are brought up to date: one at a time
}

// reply is a thread reply waiting for the worker: a fixed text, or an
// approval whose text needs the run.
type reply struct {
	text     string
	approval *dayops.Approval
}

// listen feeds the reporter from the events of every run until Close, after
// picking up the reports a previous process left unfinished.
func (b *Bot) listen(events <-chan dayops.RunEvent) {
	defer close(b.listening)
	b.resume()
	for {
		select {
		case ev := <-events:
			b.Notify(ev)
		case <-b.ctx.Done():
			return
		}
	}
}

// resume brings up to date the messages of runs whose reports do not show a
// final state yet: runs that went on, or ended, while no bot was listening.
func (b *Bot) resume() { b.catchUp(false) }

// catchUp marks for a look the runs whose reports do not show their end; with
// changedOnly, only those whose stored state differs from the one shown.
func (b *Bot) catchUp(changedOnly bool) {
	ctx, cancel := context.WithTimeout(b.ctx, doorTimeout)
	defer cancel()
	reports, err := b.store.UnfinishedReports(ctx, resumeLimit)
	if err != nil {
		b.log.Error("reading unfinished run reports", "err", err)
		return
	}
	var ids []int64
	for _, r := range reports {
		if b.door(r.Thread.Door) == nil {
			continue
		}
		if changedOnly {
			run, err := b.store.Run(ctx, r.RunID)
			if err != nil || run.State == r.Shown {
				continue
			}
		}
		ids = append(ids, r.RunID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return
	}
	for _, id := range ids {
		t := b.trackerLocked(id)
		t.dirty = true
		b.wakeLocked(t)
	}
}

// Notify receives a run event. It never blocks on a door or the store: it
// marks the run for a look and leaves the talking to the run's worker.
func (b *Bot) Notify(ev dayops.RunEvent) {
	if ev.Run == nil || ev.Run.ID == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return
	}
	switch ev.Kind {
	case dayops.EventState, dayops.EventStep:
	case dayops.EventApproval:
		a := ev.Approval
		if a == nil || b.reportAckLocked(ackKey(ev.Run.ID, a.Actor.ID, a.Approved, ev.Run.Thread)) {
			break
		}
		cp := *a
		t := b.trackerLocked(ev.Run.ID)
		t.replies = append(t.replies, reply{approval: &cp})
	case dayops.EventInterrupted:
		step := "before its first step"
		if ev.Run.CurrentStep != "" {
			step = "during step " + ev.Run.CurrentStep
		}
		t := b.trackerLocked(ev.Run.ID)
		t.replies = append(t.replies, reply{text: fmt.Sprintf("run %d %s was interrupted when dayops stopped %s", ev.Run.ID, ev.Run.Definition, step)})
	default:
		return // output alone does not change a run's message
	}
	t := b.trackerLocked(ev.Run.ID)
	t.dirty = true
	b.wakeLocked(t)
}

// report posts the message of run r, just started, in its thread before it
// returns, so that the answer to a command is there when the next command
// comes; the run's events update it from then on.
func (b *Bot) report(r *dayops.Run) {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return
	}
	t := b.trackerLocked(r.ID)
	t.pinned++
	b.mu.Unlock()

	t.deliver.Lock()
	ok, wait := b.bringUpToDate(r.ID)
	t.deliver.Unlock()

	b.mu.Lock()
	defer b.mu.Unlock()
	t.pinned--
	if !ok {
		t.dirty, t.failed = true, true
	}
	if wait > 0 && t.hold == nil {
		t.hold = time.After(wait)
	}
	if t.dirty || t.hold != nil {
		b.wakeLocked(t)
	} else if !t.working {
		delete(b.trackers, t.id)
	}
}

// trackerLocked returns the run's tracker, creating it.
func (b *Bot) trackerLocked(id int64) *tracker {
	t, ok := b.trackers[id]
	if !ok {
		t = &tracker{id: id, kick: make(chan struct{}, 1)}
		b.trackers[id] = t
	}
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

// work drains one tracker: replies first, then the run's messages, at most
// once per pace interval and later after a failure. It returns, forgetting
// the tracker, when there is nothing left to do.
func (b *Bot) work(t *tracker) {
	defer func() {
		b.mu.Lock()
		t.working = false
		b.busy--
		if !t.dirty && len(t.replies) == 0 && t.pinned == 0 {
			delete(b.trackers, t.id)
		}
		if b.busy == 0 {
			close(b.idleCh)
		}
		b.mu.Unlock()
	}()
	for {
		b.mu.Lock()
		if !t.dirty && len(t.replies) == 0 && (t.hold == nil || b.closing) {
			b.mu.Unlock()
			return
		}
		if t.hold != nil && b.closing && t.failed {
			// A door that failed at the end gets the next start to bring
			// the message up to date: where it is reported is stored.
			t.dirty, t.replies = false, nil
			b.mu.Unlock()
			return
		}
		if hold := t.hold; hold != nil && !b.closing {
			b.mu.Unlock()
			select {
			case <-hold:
				b.mu.Lock()
				if t.hold == hold {
					t.hold = nil
				}
				b.mu.Unlock()
			case <-t.kick: // closing, or new work: look again
			case <-b.ctx.Done():
			}
			continue
		}
		if !t.dirty && len(t.replies) == 0 {
			b.mu.Unlock()
			continue // the pace ran out with nothing new
		}
		if b.ctx.Err() != nil {
			t.dirty, t.replies = false, nil
			b.mu.Unlock()
			return
		}
		dirty, replies := t.dirty, t.replies
		t.dirty, t.replies = false, nil
		b.mu.Unlock()

		// Replies answer the run's message: it goes first while it is still
		// to be posted; after that, replies precede updates, as the
		// decisions they report came before the progress.
		if len(replies) > 0 && b.posted(t.id) {
			for _, r := range replies {
				b.postReply(t.id, r)
			}
			replies = nil
		}
		ok, wait := true, time.Duration(0)
		if dirty {
			t.deliver.Lock()
			ok, wait = b.bringUpToDate(t.id)
			t.deliver.Unlock()
		}
		for _, r := range replies {
			b.postReply(t.id, r)
		}
		b.mu.Lock()
		t.dirty = t.dirty || !ok
		t.failed = !ok
		t.hold = nil
		if wait > 0 {
			t.hold = time.After(wait)
		}
		b.mu.Unlock()
	}
}

// paceOf is the least time between two updates of one message of door d (a
// terminal wants every change; Slack allows about one a second).
func paceOf(d Door, def time.Duration) time.Duration {
	if p, ok := d.(Paced); ok {
		return p.MinUpdateInterval()
	}
	return def
}

// bringUpToDate renders the stored run into each of its reports that does
// not show it yet: the run's own thread is reported from its first look on.
// It returns the least wait before the next update (its doors' pace), or
// false and the wait before the next try when a door failed.
func (b *Bot) bringUpToDate(id int64) (ok bool, wait time.Duration) {
	ctx, cancel := context.WithTimeout(b.ctx, doorTimeout)
	defer cancel()
	run, err := b.store.Run(ctx, id)
	if err != nil {
		b.log.Error("reading a run to report it", "run_id", id, "err", err)
		return false, retryBase
	}
	reports, err := b.store.Reports(ctx, id)
	if err != nil {
		b.log.Error("reading where a run is reported", "run_id", id, "err", err)
		return false, retryBase
	}
	if len(reports) == 0 && b.door(run.Thread.Door) != nil {
		r := dayops.Report{RunID: id, Thread: run.Thread, CreatedAt: b.now()}
		if _, err := b.store.AddReport(ctx, r); err != nil {
			b.log.Error("recording where a run is reported", "run_id", id, "err", err)
			return false, retryBase
		}
		if reports, err = b.store.Reports(ctx, id); err != nil {
			b.log.Error("reading where a run is reported", "run_id", id, "err", err)
			return false, retryBase
		}
	}
	ok = true
	var pace, again time.Duration
	var m *Message
	// Doors whose messages have links (Slack) first: the others (a pull
	// request's comment) link to them in the same pass, the first included.
	slices.SortStableFunc(reports, func(x, y dayops.Report) int {
		_, px := b.door(x.Thread.Door).(Permalinker)
		_, py := b.door(y.Thread.Door).(Permalinker)
		switch {
		case px && !py:
			return -1
		case py && !px:
			return 1
		}
		return 0
	})
	linked := false
	for i := range reports {
		rep := reports[i]
		door := b.door(rep.Thread.Door)
		if door == nil || (rep.Thread.Message != "" && rep.Shown == run.State && rep.Shown.Final() && !owesBroadcast(run, rep)) {
			continue // another door's, or it shows the end already
		}
		pace = max(pace, paceOf(door, b.interval))
		if _, gives := door.(Permalinker); !gives && !linked {
			// The links, once the doors that give them have posted.
			linked, m = true, nil
			links := b.permalinks(ctx, reports)
			msg := b.redactMessage(b.runMessage(ctx, run))
			msg.Run.Elsewhere = links
			m = &msg
		}
		if m == nil {
			msg := b.redactMessage(b.runMessage(ctx, run))
			m = &msg
		}
		err := b.deliver(ctx, door, &rep, run, *m)
		if err == nil && owesBroadcast(run, rep) {
			// The state counts as shown once the end is told too: a
			// broadcast that failed is tried again, also after a restart.
			err = b.broadcast(ctx, door, &rep, run)
		}
		if err != nil {
			rep.Failures++
			rep.LastError = dayops.Truncate(err.Error(), 500)
			wait := retryDelay(err, rep.Failures)
			b.log.Warn("delivering a run message", "run_id", id, "door", door.Name(), "failures", rep.Failures, "retry_in", wait, "err", err)
			ok, again = false, max(again, wait, pace)
		} else {
			rep.Failures, rep.LastError = 0, ""
			rep.Shown, rep.ShownAt = run.State, b.now()
		}
		if err := b.store.UpdateReport(ctx, rep); err != nil {
			b.log.Error("recording a run report", "run_id", id, "err", err)
		}
		reports[i] = rep
	}
	if !ok {
		return false, again
	}
	return true, pace
}

// permalinks are the links of a run's messages whose doors give them,
// asked once per message and kept with its report.
func (b *Bot) permalinks(ctx context.Context, reports []dayops.Report) []ThreadLink {
	var out []ThreadLink
	for i := range reports {
		rep := &reports[i]
		if rep.Thread.Message == "" {
			continue
		}
		if link := rep.Refs[RefPermalink]; link != "" {
			out = append(out, ThreadLink{Door: rep.Thread.Door, URL: link})
			continue
		}
		pl, ok := b.door(rep.Thread.Door).(Permalinker)
		if !ok {
			continue
		}
		link, err := pl.Permalink(ctx, rep.Thread, rep.Thread.Message)
		if err != nil || link == "" {
			b.log.Warn("asking a message's link", "run_id", rep.RunID, "door", rep.Thread.Door, "err", err)
			continue
		}
		rep.Refs = maps.Clone(rep.Refs)
		if rep.Refs == nil {
			rep.Refs = map[string]string{}
		}
		rep.Refs[RefPermalink] = link
		if err := b.store.UpdateReport(ctx, *rep); err != nil {
			b.log.Error("recording a message's link", "run_id", rep.RunID, "err", err)
		}
		out = append(out, ThreadLink{Door: rep.Thread.Door, URL: link})
	}
	return out
}

// posted reports whether the run's message is out in one of its threads.
func (b *Bot) posted(id int64) bool {
	ctx, cancel := context.WithTimeout(b.ctx, doorTimeout)
	defer cancel()
	reports, err := b.store.Reports(ctx, id)
	return err == nil && slices.ContainsFunc(reports, func(r dayops.Report) bool { return r.Thread.Message != "" })
}

// deliver posts the run's message, or updates the one posted before; a
// ReportDoor does either itself, and keeps its references in rep.
func (b *Bot) deliver(ctx context.Context, door Door, rep *dayops.Report, run *dayops.Run, m Message) error {
	if rd, ok := door.(ReportDoor); ok {
		return rd.ReportRun(ctx, rep, run, m)
	}
	if rep.Thread.Message != "" {
		return door.Update(ctx, rep.Thread, rep.Thread.Message, m)
	}
	id, err := door.Post(ctx, rep.Thread, m)
	if err != nil {
		return err
	}
	rep.Thread.Message = id
	return nil
}

// retryDelay is how long to wait after the failures-th failure in a row.
func retryDelay(err error, failures int) time.Duration {
	var ra RetryAfter
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		return min(ra.RetryAfter(), 10*retryMax)
	}
	d := retryBase
	for i := 1; i < failures && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// postReply queues one thread reply of a run (outbox.go), in every thread
// it is reported, and delivers it unless the door fails.
func (b *Bot) postReply(id int64, r reply) {
	ctx, cancel := context.WithTimeout(b.ctx, doorTimeout)
	defer cancel()
	run, err := b.store.Run(ctx, id)
	if err != nil {
		b.log.Error("reading a run to reply", "run_id", id, "err", err)
		return
	}
	text := r.text
	if r.approval != nil {
		text = b.approvalText(run, r.approval)
	}
	threads := []dayops.Thread{run.Thread}
	if reports, err := b.store.Reports(ctx, id); err == nil && len(reports) > 0 {
		threads = threads[:0]
		for _, rep := range reports {
			threads = append(threads, rep.Thread)
		}
	}
	for _, th := range threads {
		if b.door(th.Door) == nil {
			continue // a door this process does not serve
		}
		b.sendNow(ctx, th, Message{Text: text}, id)
	}
}

// Wait returns when no run message or reply is waiting to be posted, and
// every message shows the state its run has in the store (events still on
// their way are not waited for: the store is the truth). It waits for pacing,
// which is short, and for doors, whose calls time out after 30 seconds;
// Close posts without pacing.
func (b *Bot) Wait() {
	_ = b.wait(context.Background())
	b.catchUp(true)
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

// Close brings what is pending up to date at once (no pacing), then stops:
// later events are left to the next start, which finds the unfinished
// reports in the store. It waits at most a minute.
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
	for _, s := range b.senders {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := b.wait(ctx)
	b.cancel()
	b.stopEvents()
	<-b.listening
	if err != nil {
		return fmt.Errorf("flushing run messages: %w", err)
	}
	return nil
}
