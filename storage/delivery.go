package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// FirstDelivery reports whether (source, id) — a webhook delivery or event
// ID — is seen for the first time, and remembers it. A redelivery answers
// false, so nothing runs twice for one delivery, across restarts and
// replicas alike.
func (s *Store) FirstDelivery(ctx context.Context, source, id string) (bool, error) {
	var first bool
	err := s.write(ctx, fmt.Sprintf("recording delivery %s %s", source, id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (source, id, seen_at) VALUES (?, ?, ?)
			ON CONFLICT (source, id) DO NOTHING`, source, id, s.now().UnixNano())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		first = n == 1
		return err
	})
	return first, err
}
