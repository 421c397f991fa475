package storage

import (
	"context"
	"database/sql"

	"github.com/dayops/dayops"
	"time"
)

// PruneDone deletes up to limit rows of each kind of bookkeeping that is
// done with before a time: outbox messages delivered, inbox deliveries
// processed, and "seen" delivery keys recorded. Messages still waiting,
// deliveries not processed and anything newer stay. It returns how many rows
// it deleted in all; the caller repeats while that is a full batch.
func (s *Store) PruneDone(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, dayops.Errorf(dayops.KindInvalid, "pruning needs a positive batch size, not %d", limit)
	}
	cut := before.UnixNano()
	var n int64
	err := s.write(ctx, "pruning delivered messages and processed deliveries", func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ? ORDER BY id LIMIT ?)`,
			`DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE done_at IS NOT NULL AND done_at < ? ORDER BY id LIMIT ?)`,
			`DELETE FROM deliveries WHERE (source, id) IN (SELECT source, id FROM deliveries WHERE seen_at < ? ORDER BY seen_at LIMIT ?)`,
		} {
			res, err := tx.ExecContext(ctx, q, cut, limit)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return n, err
}
