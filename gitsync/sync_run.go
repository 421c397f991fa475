package gitsync

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/dayops/dayops"
)

// Run syncs at once, then every Interval and at once on Trigger, until ctx
// is done; it then returns nil. After a failed fetch it waits with
// exponential backoff and jitter instead of the interval (a Trigger still
// syncs at once). The clone is made once and only fetched afterwards.
func (s *Syncer) Run(ctx context.Context) error {
	failures := 0
	for {
		rec, _ := s.Sync(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := s.interval
		if rec.Outcome == dayops.SyncFailed {
			failures++
			wait = backoff(s.interval, failures, rand.Float64())
		} else {
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-s.trigger:
			t.Stop()
		}
	}
}

// Trigger asks Run to sync now (a push webhook, a chat "sync"). It never
// blocks; triggers that arrive while one is pending are coalesced into it.
func (s *Syncer) Trigger() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// backoff is the wait after the n-th consecutive failed sync: it starts at
// min(interval, 5s), doubles, stops growing at max(interval, 5m), and is
// jittered into [d/2, d) with r in [0, 1) so that many servers that lost the
// same git host do not come back in step.
func backoff(interval time.Duration, n int, r float64) time.Duration {
	first := min(interval, 5*time.Second)
	limit := max(interval, 5*time.Minute)
	d := first
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + time.Duration(r*float64(d/2))
}
