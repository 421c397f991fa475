package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dayops/dayops"
)

// Options configures a Store.
type Options struct {
	// Now returns the current time; it stamps rows whose time is not given.
	// Default time.Now.
	Now func() time.Time
	// Logger receives migration and maintenance notes. Default: discard.
	Logger *slog.Logger
}

// Store is the dayops database. It is safe for concurrent use.
type Store struct {
	w      *sql.DB      // one connection; BEGIN IMMEDIATE
	r      *sql.DB      // readers; WAL snapshots
	hold   func() error // releases the database file as in use
	path   string       // the SQLite path or the PostgreSQL URL without its password
	pg     bool         // PostgreSQL: writes take postgresWriteLock, reads a snapshot
	pgcfg  pgConfig     // PostgreSQL: how to open a connection of its own (LISTEN)
	now    func() time.Time
	logger *slog.Logger
}

// Open opens the database path names and migrates it to the schema this
// binary knows: a SQLite file (created when missing), or a PostgreSQL
// database when path is a postgres:// or postgresql:// URL (see
// IsPostgres). It refuses a database whose schema is newer than that. A
// SQLite Store holds the file as in use until Close, so that a restore
// (Exclusive) refuses to replace it meanwhile.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, dayops.Errorf(dayops.KindInvalid, "no database path given: set --database or DAYOPS_DATABASE")
	}
	s := &Store{path: Redacted(path), pg: IsPostgres(path), now: opts.Now, logger: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.pg {
		w, r, cfg, err := openPostgres(ctx, path)
		if err != nil {
			return nil, err
		}
		s.w, s.r, s.hold, s.pgcfg = w, r, func() error { return nil }, cfg
	} else {
		w, r, hold, err := openSQLite(ctx, path)
		if err != nil {
			return nil, err
		}
		s.w, s.r, s.hold = w, r, hold
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database. The Store must not be used afterwards.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close(), s.hold())
}

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("pinging database %s: %w", s.path, err)
	}
	return nil
}

// write runs fn in a write transaction, committing when it returns nil.
// Errors other than *dayops.Error are wrapped with op.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	if s.pg {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", int64(postgresWriteLock)); err != nil {
			tx.Rollback()
			return wrap(op, err)
		}
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// read runs fn in a read-only transaction, so that several queries see one
// snapshot (SQLite's WAL snapshot; REPEATABLE READ on PostgreSQL, whose
// default isolation gives each statement its own).
func (s *Store) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.pg {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return wrap(op, err)
	}
	return nil
}

// wrap adds op to unexpected errors and leaves the user-facing ones alone.
func wrap(op string, err error) error {
	var de *dayops.Error
	if errors.As(err, &de) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// queryer is what both *sql.Tx and *sql.DB offer.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insertAudit writes ev with the change it records. Empty Time and RunID are
// filled in; an event without an Action gets defaultAction and is marked
// allowed, because the change it accompanies was made.
func (s *Store) insertAudit(ctx context.Context, q queryer, ev dayops.AuditEvent, runID int64, defaultAction, defaultTarget string) error {
	if ev.RunID == 0 {
		ev.RunID = runID
	}
	if ev.Action == "" {
		ev.Action, ev.Allowed = defaultAction, true
	}
	if ev.Target == "" {
		ev.Target = defaultTarget
	}
	_, err := s.addAudit(ctx, q, ev)
	return err
}

// addAudit inserts one audit row and returns its ID.
func (s *Store) addAudit(ctx context.Context, q queryer, ev dayops.AuditEvent) (int64, error) {
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	var id int64
	err := q.QueryRowContext(ctx, `INSERT INTO audit (at, actor, place, action, target, run_id, allowed, reason, trigger_kind)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ev.Time.UnixNano(), ev.Actor, ev.Where, ev.Action, ev.Target, nullID(ev.RunID), ev.Allowed, ev.Reason, string(ev.Trigger)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("writing audit event %s: %w", ev.Action, err)
	}
	return id, nil
}

// nullTime stores the zero time as NULL and others as Unix nanoseconds.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNull is the inverse of nullTime; times come back in UTC.
func fromNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// nullID stores a zero reference as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// toJSON encodes maps and lists; nil stays distinguishable from empty.
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding %T: %w", v, err)
	}
	return string(b), nil
}

func fromJSON(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decoding %T: %w", v, err)
	}
	return nil
}

// finalStates are the run states that end a run, for SQL IN lists.
var finalStates = []any{
	string(dayops.RunSucceeded), string(dayops.RunFailed), string(dayops.RunCancelled),
	string(dayops.RunTimedOut), string(dayops.RunDenied), string(dayops.RunInterrupted),
}
