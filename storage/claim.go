package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/dayops/dayops"
)

// Claims. Several `dayops serve` replicas on one database each run an inbox
// worker and outbox senders. Before a replica processes a delivery of the
// inbox or delivers messages of the outbox it claims the rows: a conditional
// UPDATE sets claimed_by to the replica and claimed_until to the end of the
// lease, and only where no other replica holds a claim that has not expired.
// So exactly one replica works on a row at a time; the claim of a replica
// that died expires and another one takes the row over.

// checkClaim refuses a claim without an owner or a lease.
func checkClaim(owner string, lease time.Duration) error {
	if owner == "" {
		return dayops.Errorf(dayops.KindInvalid, "a claim needs an owner: give the process's identity (executor.ProcessOwner)")
	}
	if lease <= 0 {
		return dayops.Errorf(dayops.KindInvalid, "a claim needs a lease longer than zero, not %s: give how long the claimer may work on the rows", lease)
	}
	return nil
}

// ClaimInbound claims for owner, until now+lease, up to limit deliveries of
// source that are not processed, whose NextAt has come by now and that no
// other owner holds (or whose claim has expired), and returns them oldest
// first. A delivery owner holds already is claimed again (its lease
// renewed). MarkInboundFailed lets go of the claim; MarkInboundDone ends it.
func (s *Store) ClaimInbound(ctx context.Context, source, owner string, now time.Time, lease time.Duration, limit int) ([]dayops.Inbound, error) {
	if err := checkClaim(owner, lease); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	at, until := now.UnixNano(), now.Add(lease).UnixNano()
	var out []dayops.Inbound
	err := s.write(ctx, fmt.Sprintf("claiming %s deliveries for %s", source, owner), func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE inbox SET claimed_by = ?, claimed_until = ?
			WHERE id IN (SELECT id FROM inbox WHERE source = ? AND done_at IS NULL AND next_at <= ?
				AND (claimed_until <= ? OR claimed_by = ?) ORDER BY id LIMIT ?)
			AND done_at IS NULL AND (claimed_until <= ? OR claimed_by = ?)
			RETURNING `+inboxColumns,
			owner, until, source, at, at, owner, limit, at, owner)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var in dayops.Inbound
			var received, next int64
			var done sql.NullInt64
			if err := rows.Scan(&in.ID, &in.Source, &in.Delivery, &in.Kind, &in.Body, &received, &in.Attempts, &next,
				&in.LastError, &done); err != nil {
				return err
			}
			in.ReceivedAt, in.NextAt, in.DoneAt = fromNanos(received), fromNanos(next), fromNull(done)
			out = append(out, in)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b dayops.Inbound) int { return int(a.ID - b.ID) })
	return out, nil
}

// ClaimOutgoing claims for owner, until now+lease, the first up to limit
// messages of one door and channel not delivered yet, oldest first (the
// order they must be delivered in), whatever their NextAt. The messages of
// a channel are delivered in order, so the channel goes to one owner at a
// time: while another owner holds a claim on any waiting message of the
// channel that has not expired, nothing is claimed and heldUntil says when
// that claim ends. No messages and a zero heldUntil: nothing waits. Messages
// owner holds already are claimed again (their lease renewed).
func (s *Store) ClaimOutgoing(ctx context.Context, door, channel, owner string, now time.Time, lease time.Duration, limit int) (msgs []dayops.Outgoing, heldUntil time.Time, err error) {
	if err := checkClaim(owner, lease); err != nil {
		return nil, time.Time{}, err
	}
	if limit <= 0 {
		limit = 100
	}
	at, until := now.UnixNano(), now.Add(lease).UnixNano()
	err = s.write(ctx, fmt.Sprintf("claiming the outbox of %s %s for %s", door, channel, owner), func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET claimed_by = ?, claimed_until = ?
			WHERE id IN (SELECT id FROM outbox WHERE door = ? AND channel = ? AND delivered_at IS NULL ORDER BY id LIMIT ?)
			AND delivered_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.door = ? AND o.channel = ? AND o.delivered_at IS NULL
				AND o.claimed_by <> ? AND o.claimed_until > ?)
			RETURNING `+outboxColumns,
			owner, until, door, channel, limit, door, channel, owner, at)
		if err != nil {
			return err
		}
		for rows.Next() {
			var o dayops.Outgoing
			var runID, delivered sql.NullInt64
			var created, next int64
			if err := rows.Scan(&o.ID, &o.Thread.Door, &o.Thread.Channel, &o.Thread.ID, &o.Thread.Name, &o.Message, &runID,
				&created, &o.Attempts, &next, &o.LastError, &delivered); err != nil {
				rows.Close()
				return err
			}
			o.RunID = runID.Int64
			o.CreatedAt, o.NextAt, o.DeliveredAt = fromNanos(created), fromNanos(next), fromNull(delivered)
			msgs = append(msgs, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(msgs) > 0 {
			return err
		}
		var held sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(claimed_until) FROM outbox WHERE door = ? AND channel = ?
			AND delivered_at IS NULL AND claimed_by <> ? AND claimed_until > ?`, door, channel, owner, at).Scan(&held); err != nil {
			return err
		}
		heldUntil = fromNull(held)
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	slices.SortFunc(msgs, func(a, b dayops.Outgoing) int { return int(a.ID - b.ID) })
	return msgs, heldUntil, nil
}

// ReleaseClaims lets go of every claim owner holds on the inbox and the
// outbox, so that another replica takes the rows over at once rather than
// when the leases end: what a replica that stops cleanly does.
func (s *Store) ReleaseClaims(ctx context.Context, owner string) error {
	return s.write(ctx, fmt.Sprintf("releasing the claims of %s", owner), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE inbox SET claimed_by = '', claimed_until = 0 WHERE claimed_by = ? AND done_at IS NULL`, owner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET claimed_by = '', claimed_until = 0 WHERE claimed_by = ? AND delivered_at IS NULL`, owner)
		return err
	})
}

// ClaimOwners returns the owners that hold a claim on the inbox or the
// outbox that has not ended at now, each once: a process that finds one of
// them gone (a dayops of this host killed, say) lets go of its claims
// (ReleaseClaims) rather than wait for them to expire.
func (s *Store) ClaimOwners(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT claimed_by FROM inbox WHERE done_at IS NULL AND claimed_by <> '' AND claimed_until > ?
		UNION SELECT claimed_by FROM outbox WHERE delivered_at IS NULL AND claimed_by <> '' AND claimed_until > ?
		ORDER BY 1`, now.UnixNano(), now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("reading who holds claims: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var owner string
		if err := rows.Scan(&owner); err != nil {
			return nil, fmt.Errorf("reading who holds claims: %w", err)
		}
		out = append(out, owner)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading who holds claims: %w", err)
	}
	return out, nil
}
