package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dayops/dayops"
)

// The outbox: messages waiting for their door (dayops.Outgoing). A row is
// written before the message is posted and marked delivered after; rows of
// one door and channel are delivered in id order.

const outboxColumns = `id, door, channel, thread_id, thread_name, message, run_id, created_at,
	attempts, next_at, last_error, delivered_at`

// EnqueueOutgoing stores a message to deliver and returns its ID. It may be
// tried at once (NextAt zero) or from o.NextAt on.
func (s *Store) EnqueueOutgoing(ctx context.Context, o dayops.Outgoing) (int64, error) {
	if o.Thread.Door == "" {
		return 0, dayops.Errorf(dayops.KindInvalid, "an outgoing message needs a door: set Thread.Door")
	}
	if !json.Valid([]byte(o.Message)) {
		return 0, dayops.Errorf(dayops.KindInvalid, "the outgoing message to %s is not JSON: give the message as the bot encodes it", o.Thread)
	}
	created := o.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	next := o.NextAt
	if next.IsZero() {
		next = created
	}
	var id int64
	err := s.write(ctx, fmt.Sprintf("queueing a message to %s", o.Thread), func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO outbox (door, channel, thread_id, thread_name, message, run_id, created_at,
			attempts, next_at, last_error) VALUES (`+placeholders(10)+`) RETURNING id`,
			o.Thread.Door, o.Thread.Channel, o.Thread.ID, o.Thread.Name, o.Message, nullID(o.RunID), created.UnixNano(),
			o.Attempts, next.UnixNano(), o.LastError).Scan(&id)
	})
	return id, err
}

// OutgoingChannels returns the channels of door that have messages not
// delivered yet, each once: where a starting process resumes delivery.
func (s *Store) OutgoingChannels(ctx context.Context, door string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT channel FROM outbox WHERE door = ? AND delivered_at IS NULL ORDER BY channel`, door)
	if err != nil {
		return nil, fmt.Errorf("reading the outbox of %s: %w", door, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ch string
		if err := rows.Scan(&ch); err != nil {
			return nil, fmt.Errorf("reading the outbox of %s: %w", door, err)
		}
		out = append(out, ch)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the outbox of %s: %w", door, err)
	}
	return out, nil
}

// DueOutgoing returns up to limit messages of one door and channel not
// delivered yet, oldest first (the order they must be delivered in),
// whatever their NextAt: the first one's NextAt says when the channel may be
// tried again.
func (s *Store) DueOutgoing(ctx context.Context, door, channel string, limit int) ([]dayops.Outgoing, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+outboxColumns+` FROM outbox
		WHERE door = ? AND channel = ? AND delivered_at IS NULL ORDER BY id LIMIT ?`, door, channel, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the outbox of %s %s: %w", door, channel, err)
	}
	defer rows.Close()
	var out []dayops.Outgoing
	for rows.Next() {
		var o dayops.Outgoing
		var runID, delivered sql.NullInt64
		var created, next int64
		if err := rows.Scan(&o.ID, &o.Thread.Door, &o.Thread.Channel, &o.Thread.ID, &o.Thread.Name, &o.Message, &runID,
			&created, &o.Attempts, &next, &o.LastError, &delivered); err != nil {
			return nil, fmt.Errorf("reading the outbox of %s %s: %w", door, channel, err)
		}
		o.RunID = runID.Int64
		o.CreatedAt, o.NextAt, o.DeliveredAt = fromNanos(created), fromNanos(next), fromNull(delivered)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the outbox of %s %s: %w", door, channel, err)
	}
	return out, nil
}

// MarkDelivered records that outgoing message id was delivered at at. A
// message already delivered (or unknown) is a not-found error, so that a
// second deliverer learns it came too late.
func (s *Store) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	return s.write(ctx, fmt.Sprintf("marking outgoing message %d delivered", id), func(tx *sql.Tx) error {
		return ifNone(mustAffect(tx.ExecContext(ctx, `UPDATE outbox SET delivered_at = ?, last_error = '' WHERE id = ? AND delivered_at IS NULL`,
			at.UnixNano(), id)), notWaiting(id))
	})
}

// MarkFailed records a failed delivery of outgoing message id: one more
// attempt, its error, and when to try again. It lets go of the message's
// claim (ClaimOutgoing): any replica may try it when it is due.
func (s *Store) MarkFailed(ctx context.Context, id int64, next time.Time, lastError string) error {
	return s.write(ctx, fmt.Sprintf("recording a failed delivery of outgoing message %d", id), func(tx *sql.Tx) error {
		return ifNone(mustAffect(tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ?,
			claimed_by = '', claimed_until = 0 WHERE id = ? AND delivered_at IS NULL`, next.UnixNano(), dayops.Truncate(lastError, 500), id)), notWaiting(id))
	})
}

func notWaiting(id int64) error {
	return dayops.Errorf(dayops.KindNotFound, "outgoing message %d is not waiting: it is unknown or delivered already", id)
}
