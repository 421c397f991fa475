package executor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// queuePoll is how often a waiting run looks at the store again, for changes
// made by other processes (the in-process ones wake it at once).
const queuePoll = time.Second

// acquire waits for the run's turn: the head of its concurrency key's queue,
// and its environment not frozen. It reports false when the run ended instead
// (cancelled, or refused by a lock).
func (x *runExec) acquire() bool {
	r := x.snapshot()
	key := r.ConcurrencyKey
	if key != "" && x.ancestorHolds(key) {
		key = "" // the run that uses this one holds it already
	}
	if key != "" && !x.enqueued {
		if err := x.enqueue(); err != nil {
			x.end(dayops.RunFailed, fmt.Sprintf("internal error (run %d): it could not be queued", x.id), systemActor)
			return false
		}
	}
	sig := x.e.queueSignal()
	reason, refuse := x.blocker(key)
	if refuse {
		x.end(dayops.RunCancelled, "refused: "+reason, systemActor)
		return false
	}
	if reason != "" {
		// Runs that came later need not wait for this one's slot meanwhile.
		x.e.slots.settle(x.arrival)
	}
	if err := x.transition(dayops.RunQueued, reason, systemActor); err != nil {
		x.abandon(err)
		return false
	}
	var parentDone <-chan struct{}
	if x.pctx != nil {
		parentDone = x.pctx.Done()
	}
	shown := reason
	for reason != "" {
		t := time.NewTimer(queuePoll)
		select {
		case <-sig:
		case <-x.wake:
		case <-t.C:
		case <-parentDone:
		case <-x.e.ctx.Done():
			x.requestCancel(systemActor, "dayops shut down before the run started")
		}
		t.Stop()
		if _, _, ok := x.cancelled(); ok || (x.pctx != nil && x.pctx.Err() != nil) {
			why, by := x.cancelReason()
			x.end(dayops.RunCancelled, why, by)
			return false
		}
		sig = x.e.queueSignal()
		reason, refuse = x.blocker(key)
		if refuse {
			x.end(dayops.RunCancelled, "refused: "+reason, systemActor)
			return false
		}
		if reason != "" && reason != shown {
			shown = reason
			x.setWaitReason(reason)
			x.emit(dayops.RunEvent{Kind: dayops.EventState, Message: x.e.redactor.Redact(reason)})
		}
	}
	// Leaving the queue and a cancel request exclude each other: from here
	// on Supersede leaves the run alone, as it is about to run.
	x.mu.Lock()
	cancelled := x.cancelBy != nil
	x.leftQueue = !cancelled
	x.mu.Unlock()
	if cancelled {
		why, by := x.cancelReason()
		x.end(dayops.RunCancelled, why, by)
		return false
	}
	return true
}

// enqueue takes the run's place in its concurrency key's queue: arrival
// order is the order of these rows.
func (x *runExec) enqueue() error {
	key := x.snapshot().ConcurrencyKey
	ctx, cancel := storeCtx()
	defer cancel()
	if err := x.e.store.Enqueue(ctx, key, x.id); err != nil {
		x.e.logger.Error("queueing a run", "run_id", x.id, "key", key, "err", err)
		return err
	}
	x.enqueued = true
	return nil
}

func (x *runExec) ancestorHolds(key string) bool {
	for p := x.parent; p != nil; p = p.parent {
		if p.snapshot().ConcurrencyKey == key {
			return true
		}
	}
	return false
}

// blocker says what the run waits for ("" when nothing) and whether it is to
// be refused instead of waiting.
func (x *runExec) blocker(key string) (string, bool) {
	ctx, cancel := storeCtx()
	defer cancel()
	r := x.snapshot()
	if x.parent == nil && r.Environment != "" {
		l, err := x.e.store.EnvironmentLock(ctx, r.Environment)
		if err != nil {
			x.e.logger.Error("reading an environment lock", "run_id", x.id, "err", err)
			return "waiting: the environment lock could not be read", false
		}
		if l != nil {
			return lockText(l), x.e.opts.RefuseWhenLocked
		}
	}
	if key == "" {
		return "", false
	}
	for tries := 0; tries < 20; tries++ {
		head, err := x.e.store.QueueHead(ctx, key)
		if err != nil {
			x.e.logger.Error("reading a queue", "run_id", x.id, "key", key, "err", err)
			return "waiting: the queue could not be read", false
		}
		if head == 0 || head == x.id {
			return "", false
		}
		hr, err := x.e.store.Run(ctx, head)
		switch {
		case dayops.KindOf(err) == dayops.KindNotFound || (err == nil && hr.State.Final()):
			// A leftover of a run that ended without releasing its key.
			if err := x.e.store.Dequeue(ctx, head); err != nil {
				x.e.logger.Error("dropping a stale queue entry", "run_id", head, "err", err)
				return "waiting: the queue could not be cleaned", false
			}
			continue
		case err != nil:
			x.e.logger.Error("reading the run ahead in the queue", "run_id", head, "err", err)
			return "waiting: the queue could not be read", false
		case hr.Owner != x.e.owner && x.e.ownerDead(hr):
			if _, err := x.e.interrupt(ctx, hr); err != nil && dayops.KindOf(err) != dayops.KindConflict {
				x.e.logger.Error("interrupting a dead run", "run_id", head, "err", err)
			}
			continue
		}
		return fmt.Sprintf("queued behind run %d (%s, %s), which holds the concurrency key %s",
			head, hr.Definition, strings.ReplaceAll(string(hr.State), "_", " "), dayops.Truncate(key, 80)), false
	}
	return "waiting for the concurrency key " + dayops.Truncate(key, 80), false
}

func lockText(l *dayops.EnvLock) string {
	s := fmt.Sprintf("environment %s is locked by %s", l.Environment, l.Actor)
	if l.Reason != "" {
		s += " (" + dayops.Truncate(l.Reason, 200) + ")"
	}
	return s + ": it runs when someone unlocks it"
}

// refuseLocked refuses a new run of a locked environment when the executor is
// set to refuse rather than queue.
func (e *Executor) refuseLocked(ctx context.Context, env string) error {
	if !e.opts.RefuseWhenLocked || env == "" {
		return nil
	}
	l, err := e.store.EnvironmentLock(ctx, env)
	if err != nil {
		return fmt.Errorf("reading the lock of %s: %w", env, err)
	}
	if l == nil {
		return nil
	}
	msg := fmt.Sprintf("environment %s is locked by %s", env, l.Actor)
	if l.Reason != "" {
		msg += " (" + dayops.Truncate(l.Reason, 200) + ")"
	}
	return dayops.Errorf(dayops.KindConflict, "%s: ask them to unlock it, then try again", msg)
}

// Lock freezes env: runs in it queue (or are refused) until Unlock. The bot
// decides who may; Lock records who did, in the audit log.
func (e *Executor) Lock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread, reason string) error {
	env = strings.TrimSpace(env)
	if env == "" || len(env) > 100 || !validValue(env) {
		return dayops.Errorf(dayops.KindInvalid, "lock needs the name of an environment, such as production")
	}
	reason = dayops.Truncate(cleanText(e.redactor.Redact(strings.TrimSpace(reason))), 500)
	l := dayops.EnvLock{Environment: env, Actor: who, Reason: reason, CreatedAt: e.now()}
	ev := dayops.AuditEvent{Time: e.now(), Actor: who.ID, Where: where.String(), Action: "lock", Target: "env " + env, Allowed: true, Reason: reason}
	if err := e.store.LockEnvironment(ctx, l, ev); err != nil {
		return err
	}
	e.releaseQueue() // waiting runs re-check and show the lock
	return nil
}

// Unlock ends the freeze of env; the runs waiting for it go on in order.
func (e *Executor) Unlock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread) error {
	env = strings.TrimSpace(env)
	ev := dayops.AuditEvent{Time: e.now(), Actor: who.ID, Where: where.String(), Action: "unlock", Target: "env " + env, Allowed: true}
	if err := e.store.UnlockEnvironment(ctx, env, ev); err != nil {
		return err
	}
	e.releaseQueue()
	return nil
}

// setWaitReason stores what the queued run waits for now, so that its
// messages, rendered from the store, say so ("queued behind run 13 …").
func (x *runExec) setWaitReason(reason string) {
	reason = cleanText(x.e.redactor.Redact(reason))
	ctx, cancel := storeCtx()
	defer cancel()
	set, err := x.e.store.SetWaitReason(ctx, x.id, dayops.RunQueued, reason)
	if err != nil {
		x.e.logger.Warn("recording what a queued run waits for", "run_id", x.id, "err", err)
		return
	}
	x.mu.Lock()
	if set && x.run.State == dayops.RunQueued {
		x.run.Reason = reason
	}
	x.mu.Unlock()
}
