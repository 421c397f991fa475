package main

import (
	"sync"

	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/gitsync"
)

// maxEarlySyncEvents bounds the sync events kept before the notices exist.
const maxEarlySyncEvents = 16

// syncNotices hands the syncer's events to the bot's notices. The syncer
// starts (and syncs once) before the bot exists: the events of that first
// sync are kept until bind, and handed then.
type syncNotices struct {
	mu    sync.Mutex
	n     *bot.Notices
	bound bool
	early []gitsync.Event
}

// SyncEvent implements gitsync.Events.
func (s *syncNotices) SyncEvent(ev gitsync.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.n != nil:
		s.n.Sync(syncNotice(ev))
	case !s.bound && len(s.early) < maxEarlySyncEvents:
		s.early = append(s.early, ev)
	}
}

// bind starts handing events to n (nil: no notify channel, events are
// dropped) with those that came before.
func (s *syncNotices) bind(n *bot.Notices) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.bound = n, true
	if n != nil {
		for _, ev := range s.early {
			n.Sync(syncNotice(ev))
		}
	}
	s.early = nil
}

func syncNotice(ev gitsync.Event) bot.SyncNotice {
	return bot.SyncNotice{Kind: string(ev.Kind), Revision: ev.Revision, Serving: ev.Serving,
		Problems: ev.Problems, Message: ev.Message, Time: ev.Time}
}
