package main

import (
	"context"
	"log/slog"
	"time"
)

// The retention loop's pace: how many log lines one transaction deletes,
// the pause between two such transactions (runs writing logs take their
// turn there), and how often the loop looks for lines that are due.
const (
	retentionBatch = 1000
	retentionPause = 50 * time.Millisecond
	retentionEvery = time.Hour
)

// logPruner deletes up to limit log lines of runs that ended before a time,
// and up to limit rows each of delivered messages, processed deliveries and
// seen delivery keys older than a time; the storage package implements it.
type logPruner interface {
	PruneLogs(ctx context.Context, endedBefore time.Time, limit int) (int64, error)
	PruneDone(ctx context.Context, before time.Time, limit int) (int64, error)
}

// retention keeps log lines for keep (retention.logs) after their run
// ended, and no longer.
type retention struct {
	store logPruner
	keep  time.Duration
	batch int
	pause time.Duration
	every time.Duration
	now   func() time.Time
	log   *slog.Logger
}

func newRetention(store logPruner, keep time.Duration, log *slog.Logger) *retention {
	return &retention{store: store, keep: keep, batch: retentionBatch, pause: retentionPause, every: retentionEvery, now: time.Now, log: log}
}

// prune deletes every line that is due, in batches with a pause between
// them, and returns how many it deleted. It stops early, with what it
// deleted so far, when ctx ends or a batch fails.
func (r *retention) prune(ctx context.Context) (int64, error) {
	cut := r.now().Add(-r.keep)
	var total int64
	for {
		n, err := r.store.PruneLogs(ctx, cut, r.batch)
		total += n
		if err != nil || n < int64(r.batch) {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(r.pause):
		}
	}
}

// pruneDone deletes, in batches as prune does, the bookkeeping older than
// keep that is done with: delivered outbox messages, processed webhook
// deliveries and the keys that de-duplicate deliveries (a redelivery older
// than retention.logs is not recognised any more).
func (r *retention) pruneDone(ctx context.Context) (int64, error) {
	cut := r.now().Add(-r.keep)
	var total int64
	for {
		n, err := r.store.PruneDone(ctx, cut, r.batch)
		total += n
		if err != nil || n < int64(r.batch) {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(r.pause):
		}
	}
}

// run prunes at once and then every r.every until ctx ends.
func (r *retention) run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		start := r.now()
		n, err := r.prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.Error("pruning old log lines", "lines", n, "retention", r.keep, "err", err)
		case n > 0:
			r.log.Info("old log lines pruned", "lines", n, "ended_before", start.Add(-r.keep).UTC(), "duration", r.now().Sub(start).Round(time.Millisecond))
		}
		if n, err := r.pruneDone(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("pruning delivered messages and processed deliveries", "rows", n, "retention", r.keep, "err", err)
		} else if n > 0 {
			r.log.Info("old delivered messages and processed deliveries pruned", "rows", n, "before", start.Add(-r.keep).UTC())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
