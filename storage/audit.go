package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dayops/dayops"
)

// Audit records a decision that changes nothing else, such as a refused
// command. A zero Time is stamped now.
func (s *Store) Audit(ctx context.Context, ev dayops.AuditEvent) error {
	return s.write(ctx, "auditing "+ev.Action, func(tx *sql.Tx) error {
		_, err := s.addAudit(ctx, tx, ev)
		return err
	})
}

// AuditEvents returns the audit events f selects, newest first.
func (s *Store) AuditEvents(ctx context.Context, f dayops.AuditFilter) ([]dayops.AuditEvent, error) {
	query := "SELECT id, at, actor, place, action, target, run_id, allowed, reason, trigger_kind FROM audit"
	var args []any
	if f.RunID != 0 {
		query, args = query+" WHERE run_id = ?", append(args, f.RunID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, query+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("reading audit events: %w", err)
	}
	defer rows.Close()
	var out []dayops.AuditEvent
	for rows.Next() {
		var ev dayops.AuditEvent
		var at int64
		var runID sql.NullInt64
		if err := rows.Scan(&ev.ID, &at, &ev.Actor, &ev.Where, &ev.Action, &ev.Target, &runID, &ev.Allowed, &ev.Reason, &ev.Trigger); err != nil {
			return nil, fmt.Errorf("reading audit events: %w", err)
		}
		ev.Time, ev.RunID = fromNanos(at), runID.Int64
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading audit events: %w", err)
	}
	return out, nil
}
