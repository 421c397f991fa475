package bot

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/dayops/dayops"
)

// The outbox. Everything the bot says in a conversation besides run messages
// (those are stored reports, notify.go) — thread replies of runs (approvals,
// interruptions), notices and incident offers — is written to the store
// first (dayops.Outgoing) and delivered by a sender, one per door and
// channel, in the order it was written. A door that fails (Slack answering
// 5xx or 429, or unreachable) holds its channel back with the same backoff
// as run messages (RetryAfter honoured, else doubling from 1 s to 1 min);
// the messages wait in the store and a restarted bot delivers them when the
// door is registered again. No run waits for this: the caller returns once
// the message is stored.
//
// Private answers (Message.Private: an error, a refusal, help) are not
// queued: they answer one person now, through the request that asked (Slack's
// ephemeral message or response_url), and when the door is down they are
// lost, as Slack itself would have given up on the request by then.

// With several replicas on one database each has senders; before a sender
// delivers it claims its channel's waiting messages in the store for
// outboxLease (storage's ClaimOutgoing), so one replica delivers each
// channel, in order. A sender that finds the channel held by another replica
// looks again every heldPoll until the channel is empty; a replica that dies
// holding a channel loses it when the lease ends, and every outboxSweep
// each bot looks for channels with messages waiting and no sender here.

const (
	// outboxBatch is how many waiting messages of one channel a sender claims at once.
	outboxBatch = 50
	// outboxLease is how long a claim on a channel's messages lasts; a
	// sender claims again once a quarter of it has passed, so that a post
	// begun before then (doorTimeout at most) ends within the lease.
	outboxLease = time.Minute
	// heldPoll is how often a sender looks at a channel another replica holds.
	heldPoll = 2 * time.Second
	// outboxSweep is how often the bot looks for channels left waiting.
	outboxSweep = 30 * time.Second
)

// sweepOutbox starts senders for the channels that have messages waiting,
// every outboxSweep until the bot closes: those of a replica that died.
func (b *Bot) sweepOutbox() {
	t := time.NewTicker(outboxSweep)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		b.mu.Lock()
		names := slices.Sorted(maps.Keys(b.doors))
		b.mu.Unlock()
		for _, name := range names {
			b.resumeOutbox(name)
		}
	}
}

// channelKey names a sender: one door and channel.
type channelKey struct {
	door, channel string
}

// sender delivers the outbox of one door and channel.
type sender struct {
	kick chan struct{} // new messages, or closing: look again
}

// outLock is held while the outbox of k is delivered, by its sender or by a
// run's worker delivering its replies before the run's message moves on:
// one delivery of a channel at a time, so nothing is posted twice.
func (b *Bot) outLock(k channelKey) *sync.Mutex {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.outLocks[k]
	if !ok {
		l = &sync.Mutex{}
		b.outLocks[k] = l
	}
	return l
}

// send writes m to the outbox for thread t (about run runID, 0 when none) and
// wakes the thread's sender; a private m is posted at once instead. When
// the store refuses the message it is posted at once, as before the outbox.
func (b *Bot) send(ctx context.Context, t dayops.Thread, m Message, runID int64) {
	b.sendThen(ctx, t, m, runID, false)
}

// sendNow is send that also delivers what is due in t's channel before it
// returns (a run's replies precede the update of its message). A door that
// fails leaves the rest to the channel's sender, after the backoff.
func (b *Bot) sendNow(ctx context.Context, t dayops.Thread, m Message, runID int64) {
	b.sendThen(ctx, t, m, runID, true)
}

func (b *Bot) sendThen(ctx context.Context, t dayops.Thread, m Message, runID int64, now bool) {
	if m.Private {
		b.post(ctx, t, m)
		return
	}
	t.Message = ""
	body, err := json.Marshal(b.redactMessage(m))
	if err == nil {
		o := dayops.Outgoing{Thread: t, Message: string(body), RunID: runID, CreatedAt: b.now(), NextAt: time.Now()}
		if _, err = b.store.EnqueueOutgoing(ctx, o); err == nil {
			if now {
				b.sendDue(channelKey{t.Door, t.Channel})
			}
			b.mu.Lock()
			b.wakeSenderLocked(channelKey{t.Door, t.Channel})
			b.mu.Unlock()
			return
		}
	}
	b.log.Error("queueing a message: posting it at once", "door", t.Door, "where", t.String(), "err", err)
	b.post(ctx, t, m)
}

// resumeOutbox starts the senders of door's channels that have messages
// waiting: those a previous process (or a door not registered yet) left.
func (b *Bot) resumeOutbox(door string) {
	ctx, cancel := context.WithTimeout(b.ctx, doorTimeout)
	defer cancel()
	chans, err := b.store.OutgoingChannels(ctx, door)
	if err != nil {
		b.log.Error("reading the outbox", "door", door, "err", err)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range chans {
		b.wakeSenderLocked(channelKey{door, ch})
	}
}

// wakeSenderLocked makes sure a sender delivers the outbox of k.
func (b *Bot) wakeSenderLocked(k channelKey) {
	if s, ok := b.senders[k]; ok {
		select {
		case s.kick <- struct{}{}:
		default:
		}
		return
	}
	if b.ctx.Err() != nil {
		return // stopped: the next start delivers it
	}
	s := &sender{kick: make(chan struct{}, 1)}
	b.senders[k] = s
	if b.busy == 0 {
		b.idleCh = make(chan struct{})
	}
	b.busy++
	go b.sendOut(k, s)
}

// sendOut delivers the outbox of k in order until it is empty, waiting out
// the backoff of a failed door. It returns early when the door is not
// registered (Register resumes it) and, once the bot is closing, at the first
// message that cannot be delivered now (the next start delivers it).
func (b *Bot) sendOut(k channelKey, s *sender) {
	defer func() {
		b.mu.Lock()
		b.busy--
		if b.busy == 0 {
			close(b.idleCh)
		}
		b.mu.Unlock()
	}()
	for {
		wait, done := b.sendDue(k)
		b.mu.Lock()
		if done && b.ctx.Err() == nil {
			select {
			case <-s.kick:
				b.mu.Unlock()
				continue // a message came as the outbox looked empty
			default:
			}
		}
		if done || b.ctx.Err() != nil || (wait > 0 && b.closing) {
			delete(b.senders, k)
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		if wait <= 0 {
			continue
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-s.kick:
		case <-b.ctx.Done():
		}
		timer.Stop()
	}
}

// sendDue delivers the messages of k that are due, in order. It reports done
// when nothing is left (or nothing can be done: no door), else how long to
// wait before the first one left may be tried.
func (b *Bot) sendDue(k channelKey) (wait time.Duration, done bool) {
	door := b.door(k.door)
	if door == nil {
		return 0, true // Register resumes it
	}
	l := b.outLock(k)
	l.Lock()
	defer l.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, doorTimeout)
	claimed := time.Now()
	list, held, err := b.store.ClaimOutgoing(ctx, k.door, k.channel, b.owner, claimed, outboxLease, outboxBatch)
	cancel()
	if err != nil {
		b.log.Error("claiming the outbox", "door", k.door, "channel", k.channel, "err", err)
		return retryBase, false
	}
	if len(list) == 0 {
		if held.IsZero() {
			return 0, true
		}
		return min(max(time.Until(held), time.Millisecond), heldPoll), false // another replica delivers it
	}
	for _, o := range list {
		if time.Since(claimed) > outboxLease/4 {
			return 0, false // claim again before the lease ends
		}
		if d := time.Until(o.NextAt); d > 0 {
			return d, false
		}
		if wait := b.deliverOutgoing(door, o); wait > 0 {
			return wait, false
		}
		if b.ctx.Err() != nil {
			return 0, true
		}
	}
	return 0, false
}

// deliverOutgoing posts one message of the outbox and records the outcome.
// It returns how long to wait after a failure, 0 after a delivery.
func (b *Bot) deliverOutgoing(door Door, o dayops.Outgoing) time.Duration {
	ctx, cancel := context.WithTimeout(b.ctx, doorTimeout)
	defer cancel()
	var m Message
	if err := json.Unmarshal([]byte(o.Message), &m); err != nil {
		// It cannot get better by waiting: record it and let the
		// channel go on.
		b.log.Error("dropping an outgoing message that does not decode", "id", o.ID, "door", o.Thread.Door, "err", err)
		if err := b.store.MarkDelivered(ctx, o.ID, b.now()); err != nil {
			b.log.Error("recording a dropped outgoing message", "id", o.ID, "err", err)
			return retryBase
		}
		return 0
	}
	if _, err := door.Post(ctx, o.Thread, m); err != nil {
		wait := retryDelay(err, o.Attempts+1)
		b.log.Warn("delivering a queued message", "id", o.ID, "run_id", o.RunID, "door", door.Name(), "where", o.Thread.String(),
			"attempts", o.Attempts+1, "retry_in", wait, "err", err)
		if err := b.store.MarkFailed(ctx, o.ID, time.Now().Add(wait), err.Error()); err != nil {
			b.log.Error("recording a failed delivery", "id", o.ID, "err", err)
		}
		return wait
	}
	if err := b.store.MarkDelivered(ctx, o.ID, b.now()); err != nil {
		// Posted but not recorded: the next look would post it again.
		b.log.Error("recording a delivered message", "id", o.ID, "door", door.Name(), "err", err)
		return retryBase
	}
	return 0
}
