package storage

import (
	"context"
	"fmt"

	"github.com/dayops/dayops"
)

// Counts returns the runs by definition and state, the outbox messages not
// delivered yet, and the database's size: what /metrics reports of the
// database at each scrape.
func (s *Store) Counts(ctx context.Context) (*dayops.StoreCounts, error) {
	out := &dayops.StoreCounts{}
	rows, err := s.r.QueryContext(ctx, "SELECT definition, state, COUNT(*) FROM runs GROUP BY definition, state ORDER BY definition, state")
	if err != nil {
		return nil, fmt.Errorf("counting runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c dayops.RunCount
		if err := rows.Scan(&c.Definition, &c.State, &c.N); err != nil {
			return nil, fmt.Errorf("counting runs: %w", err)
		}
		out.Runs = append(out.Runs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting runs: %w", err)
	}
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").Scan(&out.Undelivered); err != nil {
		return nil, fmt.Errorf("counting undelivered messages: %w", err)
	}
	if out.Bytes, err = s.size(ctx); err != nil {
		return nil, fmt.Errorf("measuring the database: %w", err)
	}
	return out, nil
}
