package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dayops/dayops"
)

// Enqueue puts run runID at the back of the queue for key (a concurrency
// key). Arrival order is insertion order. Enqueueing a run that is already in
// that queue keeps its place, so a restarted executor may enqueue again.
func (s *Store) Enqueue(ctx context.Context, key string, runID int64) error {
	if key == "" {
		return dayops.Errorf(dayops.KindInvalid, "run %d: an empty concurrency key cannot be queued on", runID)
	}
	return s.write(ctx, fmt.Sprintf("queueing run %d on %s", runID, key), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO run_queue (queue_key, run_id) VALUES (?, ?)
			ON CONFLICT (queue_key, run_id) DO NOTHING`, key, runID)
		if isForeignKeyViolation(err) {
			return noRun(runID)
		}
		return err
	})
}

// QueueHead returns the run at the head of the queue for key: the one that
// may go. It is 0 when the queue is empty.
func (s *Store) QueueHead(ctx context.Context, key string) (int64, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, "SELECT run_id FROM run_queue WHERE queue_key = ? ORDER BY seq LIMIT 1", key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading head of queue %s: %w", key, err)
	}
	return id, nil
}

// QueuePosition returns how many runs are ahead of runID in the queue for
// key: 0 is the head. A run that is not in that queue is KindNotFound.
func (s *Store) QueuePosition(ctx context.Context, key string, runID int64) (int, error) {
	var pos int
	err := s.read(ctx, fmt.Sprintf("reading queue position of run %d on %s", runID, key), func(tx *sql.Tx) error {
		var seq int64
		err := tx.QueryRowContext(ctx, "SELECT seq FROM run_queue WHERE queue_key = ? AND run_id = ?", key, runID).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return dayops.Errorf(dayops.KindNotFound, "run %d is not queued on %s", runID, key)
		}
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM run_queue WHERE queue_key = ? AND seq < ?", key, seq).Scan(&pos)
	})
	return pos, err
}

// Dequeue removes runID from every queue it is in, releasing its place to
// the next run. Dequeueing a run that is in no queue does nothing.
func (s *Store) Dequeue(ctx context.Context, runID int64) error {
	return s.write(ctx, fmt.Sprintf("dequeueing run %d", runID), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM run_queue WHERE run_id = ?", runID)
		return err
	})
}
