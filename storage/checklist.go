package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dayops/dayops"
)

// OpenChecklist records the questions of checklist step step of run runID,
// unanswered. Opening it again (a run taken over after a restart) keeps
// the answers given so far.
func (s *Store) OpenChecklist(ctx context.Context, runID int64, step int, questions []string) error {
	return s.write(ctx, fmt.Sprintf("opening the checklist of run %d", runID), func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM checklist_answers WHERE run_id = ? AND step = ?", runID, step).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for i, q := range questions {
			_, err := tx.ExecContext(ctx, "INSERT INTO checklist_answers (run_id, step, question, text) VALUES (?, ?, ?, ?)", runID, step, i+1, q)
			if isForeignKeyViolation(err) {
				return noRun(runID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// AnswerQuestion records a.Answer (AnswerYes or AnswerNo) to question
// a.Question of checklist step a.Step of run a.RunID, with its audit event,
// and fills a.Text and a.AnsweredAt (when zero). A question is answered
// once: a second answer is a conflict saying who answered it.
func (s *Store) AnswerQuestion(ctx context.Context, a *dayops.Answer, ev dayops.AuditEvent) error {
	if a.Answer != dayops.AnswerYes && a.Answer != dayops.AnswerNo {
		return dayops.Errorf(dayops.KindInvalid, "an answer is yes or no, not %q", dayops.Truncate(a.Answer, 20))
	}
	at := a.AnsweredAt
	if at.IsZero() {
		at = s.now()
	}
	return s.write(ctx, fmt.Sprintf("answering the checklist of run %d", a.RunID), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE checklist_answers SET answer = ?, note = ?, actor_id = ?, actor_name = ?, answered_at = ?
			WHERE run_id = ? AND step = ? AND question = ? AND answer = ''`,
			a.Answer, a.Note, a.Actor.ID, a.Actor.Name, at.UnixNano(), a.RunID, a.Step, a.Question)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var prev dayops.Answer
			var when sql.NullInt64
			err := tx.QueryRowContext(ctx, `SELECT answer, actor_id, actor_name, answered_at FROM checklist_answers
				WHERE run_id = ? AND step = ? AND question = ?`, a.RunID, a.Step, a.Question).Scan(&prev.Answer, &prev.Actor.ID, &prev.Actor.Name, &when)
			if err == sql.ErrNoRows {
				return dayops.Errorf(dayops.KindNotFound, "run %d has no question %d in that checklist", a.RunID, a.Question)
			}
			if err != nil {
				return err
			}
			return dayops.Errorf(dayops.KindConflict, "question %d of run %d was answered %s by %s already; an answer is given once",
				a.Question, a.RunID, prev.Answer, prev.Actor.String())
		}
		if err := tx.QueryRowContext(ctx, "SELECT text FROM checklist_answers WHERE run_id = ? AND step = ? AND question = ?",
			a.RunID, a.Step, a.Question).Scan(&a.Text); err != nil {
			return err
		}
		a.AnsweredAt = at
		return s.insertAudit(ctx, tx, ev, a.RunID, "checklist.answer", fmt.Sprintf("run %d question %d", a.RunID, a.Question))
	})
}

// Checklist returns every question of run runID's checklist steps with its
// answer so far, by step and question.
func (s *Store) Checklist(ctx context.Context, runID int64) ([]dayops.Answer, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT run_id, step, question, text, answer, note, actor_id, actor_name, answered_at
		FROM checklist_answers WHERE run_id = ? ORDER BY step, question`, runID)
	if err != nil {
		return nil, fmt.Errorf("reading the checklist of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []dayops.Answer
	for rows.Next() {
		var a dayops.Answer
		var when sql.NullInt64
		if err := rows.Scan(&a.RunID, &a.Step, &a.Question, &a.Text, &a.Answer, &a.Note, &a.Actor.ID, &a.Actor.Name, &when); err != nil {
			return nil, fmt.Errorf("reading the checklist of run %d: %w", runID, err)
		}
		if when.Valid {
			a.AnsweredAt = fromNanos(when.Int64)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the checklist of run %d: %w", runID, err)
	}
	return out, nil
}
