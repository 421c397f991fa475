package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/dayops/dayops"
)

// Run orders. A cancel, supersede or withdraw that reaches a replica which
// does not drive the run is stored as a run order; the replica that owns the
// run takes its orders at each heartbeat (WaitingOrders), applies them and
// marks them done (FinishOrder).

const orderColumns = `id, run_id, kind, actor_id, actor_name, note, requested_at, done_at, outcome`

// AddOrder stores o, waiting, with the audit event of the request in the
// same transaction, and sets o.ID and o.RequestedAt (when zero). A run that
// does not exist is KindNotFound; an unknown kind KindInvalid.
func (s *Store) AddOrder(ctx context.Context, o *dayops.RunOrder, ev dayops.AuditEvent) error {
	switch o.Kind {
	case dayops.OrderCancel, dayops.OrderSupersede, dayops.OrderWithdraw:
	default:
		return dayops.Errorf(dayops.KindInvalid, "unknown run order %q: use %q, %q or %q", o.Kind,
			dayops.OrderCancel, dayops.OrderSupersede, dayops.OrderWithdraw)
	}
	if o.RequestedAt.IsZero() {
		o.RequestedAt = s.now()
	}
	return s.write(ctx, fmt.Sprintf("storing a %s order of run %d", o.Kind, o.RunID), func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO run_orders (run_id, kind, actor_id, actor_name, note, requested_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			o.RunID, string(o.Kind), o.Actor.ID, o.Actor.Name, o.Note, o.RequestedAt.UnixNano()).Scan(&id)
		if isForeignKeyViolation(err) {
			return noRun(o.RunID)
		}
		if err != nil {
			return err
		}
		if err := s.insertAudit(ctx, tx, ev, o.RunID, "run."+string(o.Kind), fmt.Sprintf("run %d", o.RunID)); err != nil {
			return err
		}
		o.ID = id
		return nil
	})
}

// WaitingOrders returns, oldest first, up to limit orders not done yet of
// the runs owner drives that have not ended, and of the runs that have
// ended (whoever drove them), which the caller only marks done.
func (s *Store) WaitingOrders(ctx context.Context, owner string, limit int) ([]dayops.RunOrder, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []dayops.RunOrder
	err := s.read(ctx, "reading the waiting orders of "+owner, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+orderColumnsOf("o")+`
			FROM run_orders o JOIN runs r ON r.id = o.run_id
			WHERE o.done_at IS NULL AND (r.owner = ? OR r.state IN (`+placeholders(len(finalStates))+`))
			ORDER BY o.id LIMIT ?`, append(append([]any{owner}, finalStates...), limit)...)
		if err != nil {
			return err
		}
		out, err = scanOrders(rows)
		return err
	})
	return out, err
}

// FinishOrder marks order id done at at with its outcome ("applied", or
// why not). It reports false when the order was done already (another
// process finished it) and KindNotFound when there is no such order.
func (s *Store) FinishOrder(ctx context.Context, id int64, outcome string, at time.Time) (bool, error) {
	var done bool
	err := s.write(ctx, fmt.Sprintf("finishing run order %d", id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE run_orders SET done_at = ?, outcome = ? WHERE id = ? AND done_at IS NULL",
			at.UnixNano(), outcome, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			done = true
			return nil
		}
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM run_orders WHERE id = ?", id).Scan(&one); err == sql.ErrNoRows {
			return dayops.Errorf(dayops.KindNotFound, "no run order %d", id)
		} else if err != nil {
			return err
		}
		return nil
	})
	return done, err
}

// Orders returns every order of run runID, oldest first, done or not.
func (s *Store) Orders(ctx context.Context, runID int64) ([]dayops.RunOrder, error) {
	var out []dayops.RunOrder
	err := s.read(ctx, fmt.Sprintf("reading the orders of run %d", runID), func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+orderColumns+" FROM run_orders WHERE run_id = ? ORDER BY id", runID)
		if err != nil {
			return err
		}
		out, err = scanOrders(rows)
		return err
	})
	return out, err
}

// orderColumnsOf is orderColumns of table alias a.
func orderColumnsOf(a string) string {
	return a + ".id, " + a + ".run_id, " + a + ".kind, " + a + ".actor_id, " + a + ".actor_name, " + a + ".note, " +
		a + ".requested_at, " + a + ".done_at, " + a + ".outcome"
}

// scanOrders reads the orders rows (orderColumns) holds, and closes it.
func scanOrders(rows *sql.Rows) ([]dayops.RunOrder, error) {
	defer rows.Close()
	var out []dayops.RunOrder
	for rows.Next() {
		var o dayops.RunOrder
		var kind string
		var requested int64
		var done sql.NullInt64
		if err := rows.Scan(&o.ID, &o.RunID, &kind, &o.Actor.ID, &o.Actor.Name, &o.Note, &requested, &done, &o.Outcome); err != nil {
			return nil, err
		}
		o.Kind, o.RequestedAt, o.DoneAt = dayops.OrderKind(kind), fromNanos(requested), fromNull(done)
		out = append(out, o)
	}
	return out, rows.Err()
}
