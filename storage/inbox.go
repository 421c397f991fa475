package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/dayops/dayops"
)

// The inbox: webhook deliveries stored before they are answered and
// processed from the store (dayops.Inbound).

const inboxColumns = `id, source, delivery, kind, body, received_at, attempts, next_at, last_error, done_at`

// AddInbound stores a delivery to process. It reports false, and stores
// nothing, when (Source, Delivery) is stored already: a redelivery.
func (s *Store) AddInbound(ctx context.Context, in dayops.Inbound) (bool, error) {
	if in.Source == "" || in.Delivery == "" {
		return false, dayops.Errorf(dayops.KindInvalid, "an inbound delivery needs a source and a delivery ID")
	}
	received := in.ReceivedAt
	if received.IsZero() {
		received = s.now()
	}
	next := in.NextAt
	if next.IsZero() {
		next = received
	}
	body := in.Body
	if body == nil {
		body = []byte{}
	}
	var added bool
	err := s.write(ctx, fmt.Sprintf("storing %s delivery %s", in.Source, in.Delivery), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO inbox (source, delivery, kind, body, received_at, attempts, next_at, last_error)
			VALUES (`+placeholders(8)+`) ON CONFLICT (source, delivery) DO NOTHING`,
			in.Source, in.Delivery, in.Kind, body, received.UnixNano(), in.Attempts, next.UnixNano(), in.LastError)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		added = n == 1
		return err
	})
	return added, err
}

// DueInbound returns up to limit deliveries of source not processed yet
// whose NextAt has come by now, oldest first.
func (s *Store) DueInbound(ctx context.Context, source string, now time.Time, limit int) ([]dayops.Inbound, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+inboxColumns+` FROM inbox
		WHERE source = ? AND done_at IS NULL AND next_at <= ? ORDER BY id LIMIT ?`, source, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("reading the %s inbox: %w", source, err)
	}
	defer rows.Close()
	var out []dayops.Inbound
	for rows.Next() {
		var in dayops.Inbound
		var received, next int64
		var done sql.NullInt64
		if err := rows.Scan(&in.ID, &in.Source, &in.Delivery, &in.Kind, &in.Body, &received, &in.Attempts, &next,
			&in.LastError, &done); err != nil {
			return nil, fmt.Errorf("reading the %s inbox: %w", source, err)
		}
		in.ReceivedAt, in.NextAt, in.DoneAt = fromNanos(received), fromNanos(next), fromNull(done)
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the %s inbox: %w", source, err)
	}
	return out, nil
}

// MarkInboundDone records that delivery id was processed at at. One
// processed already (or unknown) is a not-found error.
func (s *Store) MarkInboundDone(ctx context.Context, id int64, at time.Time) error {
	return s.write(ctx, fmt.Sprintf("marking inbound delivery %d processed", id), func(tx *sql.Tx) error {
		return ifNone(mustAffect(tx.ExecContext(ctx, `UPDATE inbox SET done_at = ?, last_error = '' WHERE id = ? AND done_at IS NULL`,
			at.UnixNano(), id)), inboundNotWaiting(id))
	})
}

// MarkInboundFailed records a failed processing of delivery id: one more
// attempt, its error, and when to try again. It lets go of the delivery's
// claim (ClaimInbound): any replica may try it when it is due.
func (s *Store) MarkInboundFailed(ctx context.Context, id int64, next time.Time, lastError string) error {
	return s.write(ctx, fmt.Sprintf("recording a failed processing of inbound delivery %d", id), func(tx *sql.Tx) error {
		return ifNone(mustAffect(tx.ExecContext(ctx, `UPDATE inbox SET attempts = attempts + 1, next_at = ?, last_error = ?,
			claimed_by = '', claimed_until = 0 WHERE id = ? AND done_at IS NULL`, next.UnixNano(), dayops.Truncate(lastError, 500), id)), inboundNotWaiting(id))
	})
}

func inboundNotWaiting(id int64) error {
	return dayops.Errorf(dayops.KindNotFound, "inbound delivery %d is not waiting: it is unknown or processed already", id)
}
