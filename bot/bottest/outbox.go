package bottest

import (
	"context"
	"time"

	"github.com/dayops/dayops"
)

// outboxClaim is who holds an outbox message, until when.
type outboxClaim struct {
	owner string
	until time.Time
}

// ClaimOutgoing implements bot.Store as storage does: the channel's waiting
// messages go to owner unless another owner holds one of them.
func (s *Store) ClaimOutgoing(ctx context.Context, door, channel, owner string, now time.Time, lease time.Duration, limit int) ([]dayops.Outgoing, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claims == nil {
		s.claims = map[int64]outboxClaim{}
	}
	var waiting []dayops.Outgoing
	var held time.Time
	for _, o := range s.outbox {
		if o.Thread.Door != door || o.Thread.Channel != channel || !o.DeliveredAt.IsZero() {
			continue
		}
		if c, ok := s.claims[o.ID]; ok && c.owner != owner && c.until.After(now) && c.until.After(held) {
			held = c.until
		}
		if limit <= 0 || len(waiting) < limit {
			waiting = append(waiting, o)
		}
	}
	if !held.IsZero() {
		return nil, held, nil
	}
	for _, o := range waiting {
		s.claims[o.ID] = outboxClaim{owner, now.Add(lease)}
	}
	return waiting, time.Time{}, nil
}
