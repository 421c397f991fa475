package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dayops/dayops"
)

// LockEnvironment freezes l.Environment. When it is already frozen the
// answer is KindConflict saying by whom, since when and why. CreatedAt is
// filled in when zero.
func (s *Store) LockEnvironment(ctx context.Context, l dayops.EnvLock, ev dayops.AuditEvent) error {
	if l.Environment == "" {
		return dayops.Errorf(dayops.KindInvalid, "lock needs an environment: lock ENV [reason]")
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = s.now()
	}
	groups, err := toJSON(l.Actor.Groups)
	if err != nil {
		return err
	}
	return s.write(ctx, "locking environment "+l.Environment, func(tx *sql.Tx) error {
		err := mustAffect(tx.ExecContext(ctx, `INSERT INTO env_locks (environment, actor_id, actor_name, actor_groups, reason, created_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (environment) DO NOTHING`,
			l.Environment, l.Actor.ID, l.Actor.Name, groups, l.Reason, l.CreatedAt.UnixNano()))
		if errors.Is(err, errNoRows) {
			held, err := getLock(ctx, tx, l.Environment)
			if err != nil {
				return err
			}
			return s.lockedError(held)
		}
		if err != nil {
			return err
		}
		if ev.Action == "" && ev.Reason == "" {
			ev.Reason = l.Reason
		}
		return s.insertAudit(ctx, tx, ev, 0, "lock", "env "+l.Environment)
	})
}

// lockedError says who holds a lock, since when and why.
func (s *Store) lockedError(l *dayops.EnvLock) error {
	since, now := l.CreatedAt.UTC(), s.now().UTC()
	layout := "15:04 UTC"
	if since.Format(time.DateOnly) != now.Format(time.DateOnly) {
		layout = "2006-01-02 15:04 UTC"
	}
	msg := fmt.Sprintf("environment %s is locked by %s since %s", l.Environment, l.Actor, since.Format(layout))
	if l.Reason != "" {
		msg += ": " + l.Reason
	}
	return dayops.Errorf(dayops.KindConflict, "%s", msg)
}

// UnlockEnvironment lifts the freeze of env; KindNotFound when it is not locked.
func (s *Store) UnlockEnvironment(ctx context.Context, env string, ev dayops.AuditEvent) error {
	return s.write(ctx, "unlocking environment "+env, func(tx *sql.Tx) error {
		err := mustAffect(tx.ExecContext(ctx, "DELETE FROM env_locks WHERE environment = ?", env))
		if err != nil {
			return ifNone(err, dayops.Errorf(dayops.KindNotFound, "environment %s is not locked", env))
		}
		return s.insertAudit(ctx, tx, ev, 0, "unlock", "env "+env)
	})
}

// EnvironmentLock returns the freeze of env, or nil when it is not locked.
func (s *Store) EnvironmentLock(ctx context.Context, env string) (*dayops.EnvLock, error) {
	l, err := getLock(ctx, s.r, env)
	if err != nil {
		return nil, fmt.Errorf("reading lock of environment %s: %w", env, err)
	}
	return l, nil
}

// EnvironmentLocks returns every freeze, by environment name.
func (s *Store) EnvironmentLocks(ctx context.Context) ([]dayops.EnvLock, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+lockColumns+" FROM env_locks ORDER BY environment")
	if err != nil {
		return nil, fmt.Errorf("listing environment locks: %w", err)
	}
	defer rows.Close()
	var out []dayops.EnvLock
	for rows.Next() {
		l, err := scanLock(rows)
		if err != nil {
			return nil, fmt.Errorf("listing environment locks: %w", err)
		}
		out = append(out, *l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing environment locks: %w", err)
	}
	return out, nil
}

const lockColumns = "environment, actor_id, actor_name, actor_groups, reason, created_at"

// getLock returns the lock of env or nil.
func getLock(ctx context.Context, q queryer, env string) (*dayops.EnvLock, error) {
	l, err := scanLock(q.QueryRowContext(ctx, "SELECT "+lockColumns+" FROM env_locks WHERE environment = ?", env))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return l, err
}

func scanLock(sc scanner) (*dayops.EnvLock, error) {
	var l dayops.EnvLock
	var groups string
	var created int64
	if err := sc.Scan(&l.Environment, &l.Actor.ID, &l.Actor.Name, &groups, &l.Reason, &created); err != nil {
		return nil, err
	}
	if err := fromJSON(groups, &l.Actor.Groups); err != nil {
		return nil, err
	}
	l.CreatedAt = fromNanos(created)
	return &l, nil
}
