package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dayops/dayops"
)

const approvalColumns = "id, run_id, gate, actor_id, actor_name, actor_groups, approved, reason, plan_hash, valid, note, created_at"

// AddApproval records an approval or denial of a gate of a run with its
// audit event. It assigns a.ID, and a.CreatedAt when zero.
func (s *Store) AddApproval(ctx context.Context, a *dayops.Approval, ev dayops.AuditEvent) error {
	if a.Gate == "" {
		return dayops.Errorf(dayops.KindInvalid, "approval of run %d names no gate", a.RunID)
	}
	created := a.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	groups, err := toJSON(a.Actor.Groups)
	if err != nil {
		return err
	}
	var id int64
	err = s.write(ctx, fmt.Sprintf("recording approval of run %d", a.RunID), func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO approvals (run_id, gate, actor_id, actor_name, actor_groups, approved,
			reason, plan_hash, valid, note, created_at) VALUES (`+placeholders(11)+`) RETURNING id`,
			a.RunID, a.Gate, a.Actor.ID, a.Actor.Name, groups, a.Approved, a.Reason, a.PlanHash, a.Valid, a.Note,
			created.UnixNano()).Scan(&id)
		if isForeignKeyViolation(err) {
			return noRun(a.RunID)
		}
		if err != nil {
			return err
		}
		if ev.Action == "" && ev.Reason == "" {
			ev.Reason = a.Note
		}
		return s.insertAudit(ctx, tx, ev, a.RunID, "approval", fmt.Sprintf("run %d", a.RunID))
	})
	if err != nil {
		return err
	}
	a.ID, a.CreatedAt = id, created
	return nil
}

// Approvals returns the approvals and denials of run runID for gate (every
// gate when gate is ""), oldest first.
func (s *Store) Approvals(ctx context.Context, runID int64, gate string) ([]dayops.Approval, error) {
	query, args := "SELECT "+approvalColumns+" FROM approvals WHERE run_id = ?", []any{runID}
	if gate != "" {
		query, args = query+" AND gate = ?", append(args, gate)
	}
	rows, err := s.r.QueryContext(ctx, query+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("reading approvals of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []dayops.Approval
	for rows.Next() {
		var a dayops.Approval
		var groups string
		var created int64
		if err := rows.Scan(&a.ID, &a.RunID, &a.Gate, &a.Actor.ID, &a.Actor.Name, &groups, &a.Approved, &a.Reason,
			&a.PlanHash, &a.Valid, &a.Note, &created); err != nil {
			return nil, fmt.Errorf("reading approvals of run %d: %w", runID, err)
		}
		if err := fromJSON(groups, &a.Actor.Groups); err != nil {
			return nil, err
		}
		a.CreatedAt = fromNanos(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading approvals of run %d: %w", runID, err)
	}
	return out, nil
}
