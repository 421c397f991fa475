package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/dayops/dayops"
)

// RecordSync adds one sync of the ops repo to the history. It assigns r.ID,
// and r.Time when zero.
func (s *Store) RecordSync(ctx context.Context, r *dayops.SyncRecord) error {
	at := r.Time
	if at.IsZero() {
		at = s.now()
	}
	errs, err := toJSON(r.Errors)
	if err != nil {
		return err
	}
	var id int64
	err = s.write(ctx, "recording sync", func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO syncs (at, duration_ns, revision, serving, outcome, definitions, errors)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			at.UnixNano(), int64(r.Duration), r.Revision, r.Serving, string(r.Outcome), r.Definitions, errs).Scan(&id)
	})
	if err != nil {
		return err
	}
	r.ID, r.Time = id, at
	return nil
}

// Syncs returns the last limit syncs (50 when limit is 0), newest first.
func (s *Store) Syncs(ctx context.Context, limit int) ([]dayops.SyncRecord, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, duration_ns, revision, serving, outcome, definitions, errors
		FROM syncs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("reading sync history: %w", err)
	}
	defer rows.Close()
	var out []dayops.SyncRecord
	for rows.Next() {
		var r dayops.SyncRecord
		var at, dur int64
		var errs string
		if err := rows.Scan(&r.ID, &at, &dur, &r.Revision, &r.Serving, &r.Outcome, &r.Definitions, &errs); err != nil {
			return nil, fmt.Errorf("reading sync history: %w", err)
		}
		if err := fromJSON(errs, &r.Errors); err != nil {
			return nil, err
		}
		r.Time, r.Duration = fromNanos(at), time.Duration(dur)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading sync history: %w", err)
	}
	return out, nil
}
