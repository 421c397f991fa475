package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/storage"
)

// releaseGoneClaims lets go of the inbox and outbox claims of dayops
// processes of this host that are gone (killed, crashed): a restarted
// server, or another replica on the same machine, takes their rows over at
// once rather than when the claims expire. The claims of another host's
// replica expire on their own (a minute).
func releaseGoneClaims(ctx context.Context, st *storage.Store, me string, log *slog.Logger) {
	owners, err := st.ClaimOwners(ctx, time.Now())
	if err != nil {
		log.Warn("reading who holds claims", "err", err)
		return
	}
	for _, o := range owners {
		if o == me || !executor.OwnerGone(o) {
			continue
		}
		if err := st.ReleaseClaims(ctx, o); err != nil {
			log.Warn("releasing the claims of a process that is gone", "owner", o, "err", err)
			continue
		}
		log.Info("released the claims of a process that is gone", "owner", o)
	}
}

// watchGoneClaims is releaseGoneClaims every interval until ctx is done.
func watchGoneClaims(ctx context.Context, st *storage.Store, me string, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lookCtx, cancel := context.WithTimeout(ctx, every)
		releaseGoneClaims(lookCtx, st, me, log)
		cancel()
	}
}
