package storage

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/dayops/dayops"
)

// LogsBefore returns the last limit lines of run runID whose sequence number
// is below beforeSeq (the last of all when beforeSeq is 0), in order. A page
// shows a long log's tail with it and pages back from there, whatever
// retention pruned from the start.
func (s *Store) LogsBefore(ctx context.Context, runID, beforeSeq int64, limit int) ([]dayops.LogLine, error) {
	if beforeSeq <= 0 {
		beforeSeq = math.MaxInt64
	}
	if limit <= 0 {
		return nil, dayops.Errorf(dayops.KindInvalid, "reading the end of a log needs a positive limit, got %d", limit)
	}
	out, err := queryLogs(ctx, s.r, "SELECT run_id, seq, step, at, stream, line FROM log_lines WHERE run_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
		runID, beforeSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("reading logs of run %d: %w", runID, err)
	}
	slices.Reverse(out)
	return out, nil
}

// SearchLogs returns up to limit lines of run runID after sequence number
// afterSeq that contain text, ignoring the case of ASCII letters ("" for
// every line), and that step printed (step < 0: any step), in order. The
// caller pages on from the last line's Seq.
func (s *Store) SearchLogs(ctx context.Context, runID int64, step int, text string, afterSeq int64, limit int) ([]dayops.LogLine, error) {
	if text == "" && step < 0 {
		return nil, dayops.Errorf(dayops.KindInvalid, "a log search needs some text to look for or a step")
	}
	if limit <= 0 {
		return nil, dayops.Errorf(dayops.KindInvalid, "a log search needs a positive limit, got %d", limit)
	}
	query := "SELECT run_id, seq, step, at, stream, line FROM log_lines WHERE run_id = ? AND seq > ?"
	args := []any{runID, afterSeq}
	if step >= 0 {
		query, args = query+" AND step = ?", append(args, step)
	}
	if text != "" {
		query, args = query+` AND LOWER(line) LIKE ? ESCAPE '\'`, append(args, "%"+likeEscaper.Replace(strings.ToLower(text))+"%")
	}
	out, err := queryLogs(ctx, s.r, query+" ORDER BY seq LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("searching logs of run %d: %w", runID, err)
	}
	return out, nil
}

// likeEscaper makes user text literal inside a LIKE pattern.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func queryLogs(ctx context.Context, db *sql.DB, query string, args ...any) ([]dayops.LogLine, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dayops.LogLine
	for rows.Next() {
		var l dayops.LogLine
		var at int64
		if err := rows.Scan(&l.RunID, &l.Seq, &l.Step, &at, &l.Stream, &l.Text); err != nil {
			return nil, err
		}
		l.Time = fromNanos(at)
		out = append(out, l)
	}
	return out, rows.Err()
}
