package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dayops/dayops"
)

// OpenAlertGroup records a firing of group key with its alerts and reports
// whether it opens the group: the group was not open (never seen, or
// resolved since) and at least one alert (fingerprint and start time) is
// new. A redelivery, a repeat of a firing group or an old firing arriving
// after the resolution opens nothing. A newly opened group has no thread
// and no run yet.
func (s *Store) OpenAlertGroup(ctx context.Context, key string, alerts []dayops.AlertInstance) (bool, error) {
	if key == "" {
		return false, dayops.Errorf(dayops.KindInvalid, "an alert group needs its group key")
	}
	opened := false
	err := s.write(ctx, "recording alert group "+key, func(tx *sql.Tx) error {
		now := s.now().UnixNano()
		fresh := 0
		for _, a := range alerts {
			res, err := tx.ExecContext(ctx, `INSERT INTO alert_instances (group_key, fingerprint, starts_at, seen_at)
				VALUES (?, ?, ?, ?) ON CONFLICT (group_key, fingerprint, starts_at) DO NOTHING`,
				key, a.Fingerprint, a.StartsAt.UnixNano(), now)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				fresh++
			}
		}
		if fresh == 0 {
			return nil
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO alert_groups (group_key, is_open, opened_at) VALUES (?, 1, ?)
			ON CONFLICT (group_key) DO UPDATE SET is_open = 1, opened_at = excluded.opened_at, resolved_at = 0,
				door = '', channel = '', channel_name = '', thread_id = '', run_id = 0
			WHERE alert_groups.is_open = 0`, key, now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		opened = n > 0
		return err
	})
	return opened, err
}

// SetAlertGroup records where an open group was answered and the run it
// started (0: none).
func (s *Store) SetAlertGroup(ctx context.Context, key string, thread dayops.Thread, runID int64) error {
	return s.write(ctx, "recording alert group "+key, func(tx *sql.Tx) error {
		return ifNone(mustAffect(tx.ExecContext(ctx, `UPDATE alert_groups SET door = ?, channel = ?, channel_name = ?, thread_id = ?, run_id = ?
			WHERE group_key = ?`, thread.Door, thread.Channel, thread.Name, thread.ID, runID, key)),
			dayops.Errorf(dayops.KindNotFound, "alert group %s is not known", key))
	})
}

// ResolveAlertGroup closes group key and returns it as it was: Open
// reports whether this call closed it (false when it was resolved before).
// A group never seen firing is KindNotFound.
func (s *Store) ResolveAlertGroup(ctx context.Context, key string) (*dayops.AlertGroup, error) {
	var g *dayops.AlertGroup
	err := s.write(ctx, "resolving alert group "+key, func(tx *sql.Tx) error {
		var err error
		if g, err = getAlertGroup(ctx, tx, key); err != nil {
			return err
		}
		if g.Open {
			_, err = tx.ExecContext(ctx, `UPDATE alert_groups SET is_open = 0, resolved_at = ? WHERE group_key = ?`, s.now().UnixNano(), key)
		}
		return err
	})
	return g, err
}

// AlertGroup returns group key; KindNotFound when it was never seen firing.
func (s *Store) AlertGroup(ctx context.Context, key string) (*dayops.AlertGroup, error) {
	var g *dayops.AlertGroup
	err := s.read(ctx, "reading alert group "+key, func(tx *sql.Tx) error {
		var err error
		g, err = getAlertGroup(ctx, tx, key)
		return err
	})
	return g, err
}

func getAlertGroup(ctx context.Context, tx *sql.Tx, key string) (*dayops.AlertGroup, error) {
	g := &dayops.AlertGroup{Key: key}
	var open int
	var opened, resolved int64
	err := tx.QueryRowContext(ctx, `SELECT is_open, door, channel, channel_name, thread_id, run_id, opened_at, resolved_at
		FROM alert_groups WHERE group_key = ?`, key).Scan(&open, &g.Thread.Door, &g.Thread.Channel, &g.Thread.Name,
		&g.Thread.ID, &g.RunID, &opened, &resolved)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, dayops.Errorf(dayops.KindNotFound, "alert group %s is not known", key)
	}
	if err != nil {
		return nil, err
	}
	g.Open, g.OpenedAt = open == 1, fromNanos(opened)
	if resolved != 0 {
		g.ResolvedAt = fromNanos(resolved)
	}
	return g, nil
}

// GuardAutoRun is the remediation guard: it allows an automatic run when
// no run of the definition on the target started within the cooldown and
// the trigger started fewer than its budget in the hour before, and then
// records the run, in one transaction, so that two deliveries at once
// never both pass.
func (s *Store) GuardAutoRun(ctx context.Context, g dayops.GuardCheck) (dayops.GuardVerdict, error) {
	if g.Trigger == "" || g.Definition == "" || g.Budget < 1 || g.Cooldown < 0 {
		return dayops.GuardVerdict{}, dayops.Errorf(dayops.KindInvalid, "a guard check needs a trigger, a definition, a budget of at least 1 and a cooldown of at least 0")
	}
	if g.At.IsZero() {
		g.At = s.now()
	}
	var v dayops.GuardVerdict
	err := s.write(ctx, "guarding "+g.Definition, func(tx *sql.Tx) error {
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(at) FROM auto_runs WHERE definition = ? AND target = ?`,
			g.Definition, g.Target).Scan(&last); err != nil {
			return err
		}
		if last.Valid {
			v.Last = fromNanos(last.Int64)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM auto_runs WHERE trigger_key = ? AND at > ?`,
			g.Trigger, g.At.Add(-time.Hour).UnixNano()).Scan(&v.InHour); err != nil {
			return err
		}
		switch {
		case last.Valid && g.At.Sub(v.Last) < g.Cooldown:
			v.Reason = fmt.Sprintf("it ran automatically for %s %s ago, within its cooldown of %s",
				orAll(g.Target), g.At.Sub(v.Last).Round(time.Second), g.Cooldown)
			return nil
		case v.InHour >= g.Budget:
			v.Reason = fmt.Sprintf("its trigger already ran it %d times in the last hour, its budget", v.InHour)
			return nil
		}
		v.Allowed = true
		_, err := tx.ExecContext(ctx, `INSERT INTO auto_runs (trigger_key, definition, target, at) VALUES (?, ?, ?, ?)`,
			g.Trigger, g.Definition, g.Target, g.At.UnixNano())
		return err
	})
	return v, err
}

func orAll(target string) string {
	if target == "" {
		return "every target"
	}
	return target
}

// ClaimFiring records a schedule firing and reports whether this call did:
// the first of any number of processes to claim one wins, the others get
// false. RecordedAt is filled in when zero.
func (s *Store) ClaimFiring(ctx context.Context, f dayops.ScheduleFiring) (bool, error) {
	if f.Definition == "" || f.Cron == "" || f.ScheduledAt.IsZero() || f.State == "" {
		return false, dayops.Errorf(dayops.KindInvalid, "a schedule firing needs a definition, a cron, a scheduled time and a state")
	}
	if f.RecordedAt.IsZero() {
		f.RecordedAt = s.now()
	}
	claimed := false
	err := s.write(ctx, "claiming the "+f.Definition+" firing", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO schedule_firings (definition, cron, scheduled_at, state, run_id, recorded_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (definition, cron, scheduled_at) DO NOTHING`,
			f.Definition, f.Cron, f.ScheduledAt.UnixNano(), f.State, f.RunID, f.RecordedAt.UnixNano())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n > 0
		return err
	})
	return claimed, err
}

// SetFiringRun records the run a claimed firing started.
func (s *Store) SetFiringRun(ctx context.Context, definition, cron string, at time.Time, runID int64) error {
	return s.write(ctx, "recording the "+definition+" firing's run", func(tx *sql.Tx) error {
		return ifNone(mustAffect(tx.ExecContext(ctx, `UPDATE schedule_firings SET run_id = ? WHERE definition = ? AND cron = ? AND scheduled_at = ?`,
			runID, definition, cron, at.UnixNano())), dayops.Errorf(dayops.KindNotFound, "no %s firing at %s", definition, at.UTC().Format(time.RFC3339)))
	})
}

// Firings returns the recorded firings of definition's cron, newest first,
// at most limit (0: 100).
func (s *Store) Firings(ctx context.Context, definition, cron string, limit int) ([]dayops.ScheduleFiring, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []dayops.ScheduleFiring
	err := s.read(ctx, "reading the "+definition+" firings", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT scheduled_at, state, run_id, recorded_at FROM schedule_firings
			WHERE definition = ? AND cron = ? ORDER BY scheduled_at DESC LIMIT ?`, definition, cron, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f := dayops.ScheduleFiring{Definition: definition, Cron: cron}
			var at, rec int64
			if err := rows.Scan(&at, &f.State, &f.RunID, &rec); err != nil {
				return err
			}
			f.ScheduledAt, f.RecordedAt = fromNanos(at), fromNanos(rec)
			out = append(out, f)
		}
		return rows.Err()
	})
	return out, err
}
