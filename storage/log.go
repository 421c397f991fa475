package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// logChunk is how many lines one INSERT carries: 6 values each, far below
// any database's limit on bound parameters.
const logChunk = 100

// insertLogs returns a multi-row INSERT for n lines.
func insertLogs(n int) string {
	return "INSERT INTO log_lines (run_id, seq, step, at, stream, line) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", n), ", ")
}

var insertLogChunk = insertLogs(logChunk)

// AppendLogs stores lines in one transaction: multi-row INSERTs of logChunk
// lines through one prepared statement, the rest in one last INSERT. Lines
// whose Time is zero are stamped now. A (RunID, Seq) pair that is already
// stored is KindConflict, a missing run KindNotFound, and then nothing of the
// batch is kept.
func (s *Store) AppendLogs(ctx context.Context, lines []dayops.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	now := s.now().UnixNano()
	var failed *chunkError
	err := s.write(ctx, fmt.Sprintf("appending %d log lines of run %d", len(lines), lines[0].RunID), func(tx *sql.Tx) error {
		var stmt *sql.Stmt
		if len(lines) >= logChunk {
			var err error
			if stmt, err = tx.PrepareContext(ctx, insertLogChunk); err != nil {
				return err
			}
			defer stmt.Close()
		}
		args := make([]any, 0, 6*min(len(lines), logChunk))
		for start := 0; start < len(lines); start += logChunk {
			end := min(start+logChunk, len(lines))
			chunk := lines[start:end]
			args = args[:0]
			for _, l := range chunk {
				at := now
				if !l.Time.IsZero() {
					at = l.Time.UnixNano()
				}
				args = append(args, l.RunID, l.Seq, l.Step, at, string(l.Stream), l.Text)
			}
			var err error
			if len(chunk) == logChunk {
				_, err = stmt.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, insertLogs(len(chunk)), args...)
			}
			if err != nil {
				failed = &chunkError{lines: lines[:end], chunk: chunk, err: err}
				return failed
			}
		}
		return nil
	})
	if failed != nil {
		return s.blameLogs(ctx, failed)
	}
	return err
}

// chunkError is a failed INSERT of chunk, the last of lines.
type chunkError struct {
	lines, chunk []dayops.LogLine
	err          error
}

func (e *chunkError) Error() string { return e.err.Error() }
func (e *chunkError) Unwrap() error { return e.err }

// blameLogs names the line a failed multi-row INSERT choked on. It looks
// after the transaction was rolled back (PostgreSQL allows nothing more in
// a transaction once a statement failed), so a line the batch repeats is
// found among the batch's own lines, and one stored before in the table.
func (s *Store) blameLogs(ctx context.Context, f *chunkError) error {
	var one int
	switch {
	case isForeignKeyViolation(f.err):
		for _, l := range f.chunk {
			if e := s.r.QueryRowContext(ctx, "SELECT 1 FROM runs WHERE id = ?", l.RunID).Scan(&one); errors.Is(e, sql.ErrNoRows) {
				return noRun(l.RunID)
			}
		}
	case isUniqueViolation(f.err):
		seen := make(map[[2]int64]bool, len(f.lines))
		for _, l := range f.lines[:len(f.lines)-len(f.chunk)] {
			seen[[2]int64{l.RunID, l.Seq}] = true
		}
		for _, l := range f.chunk {
			k := [2]int64{l.RunID, l.Seq}
			if seen[k] || s.r.QueryRowContext(ctx, "SELECT 1 FROM log_lines WHERE run_id = ? AND seq = ?", l.RunID, l.Seq).Scan(&one) == nil {
				return dayops.Errorf(dayops.KindConflict, "run %d already has log line %d", l.RunID, l.Seq)
			}
			seen[k] = true
		}
	}
	return fmt.Errorf("appending %d log lines of run %d: %w", len(f.lines), f.lines[0].RunID, f.err)
}

// Logs returns the lines of run runID after sequence number afterSeq, in
// order; limit 0 means all of them.
func (s *Store) Logs(ctx context.Context, runID int64, afterSeq int64, limit int) ([]dayops.LogLine, error) {
	query := "SELECT run_id, seq, step, at, stream, line FROM log_lines WHERE run_id = ? AND seq > ? ORDER BY seq"
	args := []any{runID, afterSeq}
	if limit > 0 {
		query, args = query+" LIMIT ?", append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading logs of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []dayops.LogLine
	for rows.Next() {
		var l dayops.LogLine
		var at int64
		if err := rows.Scan(&l.RunID, &l.Seq, &l.Step, &at, &l.Stream, &l.Text); err != nil {
			return nil, fmt.Errorf("reading logs of run %d: %w", runID, err)
		}
		l.Time = fromNanos(at)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading logs of run %d: %w", runID, err)
	}
	return out, nil
}

// PruneLogs deletes, in one transaction, up to limit log lines of runs that
// ended before endedBefore (the retention limit), oldest runs first, and
// returns how many it deleted: fewer than limit when no more are due. A
// run that has not ended keeps every line, however old. Callers delete a
// large backlog in small batches so that runs writing logs meanwhile wait
// for one short transaction at a time.
func (s *Store) PruneLogs(ctx context.Context, endedBefore time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, dayops.Errorf(dayops.KindInvalid, "pruning logs needs a positive batch size, not %d", limit)
	}
	var n int64
	err := s.write(ctx, "pruning logs", func(tx *sql.Tx) error {
		// The oldest due lines, in (run, seq) order: for each run they are
		// a prefix of its lines, so "seq <= the last one" deletes exactly them.
		rows, err := tx.QueryContext(ctx, `SELECT l.run_id, MAX(l.seq) FROM (
				SELECT log_lines.run_id, log_lines.seq FROM log_lines JOIN runs ON runs.id = log_lines.run_id
				WHERE runs.ended_at IS NOT NULL AND runs.ended_at < ?
				ORDER BY log_lines.run_id, log_lines.seq LIMIT ?) l
			GROUP BY l.run_id`, endedBefore.UnixNano(), limit)
		if err != nil {
			return err
		}
		var upTo [][2]int64
		for rows.Next() {
			var k [2]int64
			if err := rows.Scan(&k[0], &k[1]); err != nil {
				rows.Close()
				return err
			}
			upTo = append(upTo, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range upTo {
			res, err := tx.ExecContext(ctx, "DELETE FROM log_lines WHERE run_id = ? AND seq <= ?", k[0], k[1])
			if err != nil {
				return err
			}
			d, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += d
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
