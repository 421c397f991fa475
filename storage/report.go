package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dayops/dayops"
)

const reportColumns = `run_id, door, channel, thread_id, thread_name, message_id, refs, shown_state, shown_at,
	failures, last_error, created_at`

// AddReport records that run r.RunID is reported in r.Thread, unless it is
// already (same door, channel and thread). It reports whether the row is new.
func (s *Store) AddReport(ctx context.Context, r dayops.Report) (bool, error) {
	if r.RunID == 0 || r.Thread.Door == "" {
		return false, dayops.Errorf(dayops.KindInvalid, "a report needs a run and a door")
	}
	refs, err := toJSON(nonNil(r.Refs))
	if err != nil {
		return false, err
	}
	created := r.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	var added bool
	err = s.write(ctx, fmt.Sprintf("recording where run %d is reported", r.RunID), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO reports (`+reportColumns+`) VALUES (`+placeholders(12)+`)
			ON CONFLICT (run_id, door, channel, thread_id) DO NOTHING`,
			r.RunID, r.Thread.Door, r.Thread.Channel, r.Thread.ID, r.Thread.Name, r.Thread.Message, refs,
			string(r.Shown), nullTime(r.ShownAt), r.Failures, r.LastError, created.UnixNano())
		if isForeignKeyViolation(err) {
			return noRun(r.RunID)
		}
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		added = n == 1
		return err
	})
	return added, err
}

// UpdateReport stores what was delivered of report r: its message ID,
// references, the state shown, and the failures since the last delivery.
func (s *Store) UpdateReport(ctx context.Context, r dayops.Report) error {
	refs, err := toJSON(nonNil(r.Refs))
	if err != nil {
		return err
	}
	return s.write(ctx, fmt.Sprintf("updating the report of run %d", r.RunID), func(tx *sql.Tx) error {
		return ifNone(mustAffect(tx.ExecContext(ctx, `UPDATE reports SET message_id = ?, refs = ?, shown_state = ?, shown_at = ?,
			failures = ?, last_error = ? WHERE run_id = ? AND door = ? AND channel = ? AND thread_id = ?`,
			r.Thread.Message, refs, string(r.Shown), nullTime(r.ShownAt), r.Failures, r.LastError,
			r.RunID, r.Thread.Door, r.Thread.Channel, r.Thread.ID)),
			dayops.Errorf(dayops.KindNotFound, "run %d is not reported in %s", r.RunID, r.Thread))
	})
}

// Reports returns where run runID is reported, oldest first.
func (s *Store) Reports(ctx context.Context, runID int64) ([]dayops.Report, error) {
	return s.reports(ctx, "WHERE run_id = ? ORDER BY created_at, door, channel, thread_id", runID)
}

// UnfinishedReports returns the reports whose message does not show a final
// state yet, oldest run first: the ones a restarted process must bring up to
// date.
func (s *Store) UnfinishedReports(ctx context.Context, limit int) ([]dayops.Report, error) {
	if limit <= 0 {
		limit = 1000
	}
	args := append([]any{}, finalStates...)
	return s.reports(ctx, "WHERE shown_state NOT IN ("+placeholders(len(finalStates))+") ORDER BY run_id LIMIT ?",
		append(args, limit)...)
}

func (s *Store) reports(ctx context.Context, where string, args ...any) ([]dayops.Report, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+reportColumns+" FROM reports "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading reports: %w", err)
	}
	defer rows.Close()
	var out []dayops.Report
	for rows.Next() {
		var r dayops.Report
		var refs string
		var shownAt sql.NullInt64
		var created int64
		if err := rows.Scan(&r.RunID, &r.Thread.Door, &r.Thread.Channel, &r.Thread.ID, &r.Thread.Name, &r.Thread.Message,
			&refs, &r.Shown, &shownAt, &r.Failures, &r.LastError, &created); err != nil {
			return nil, fmt.Errorf("reading reports: %w", err)
		}
		if err := fromJSON(refs, &r.Refs); err != nil {
			return nil, err
		}
		r.ShownAt, r.CreatedAt = fromNull(shownAt), fromNanos(created)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading reports: %w", err)
	}
	return out, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
