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

const runColumns = `id, definition, phase, service, environment, params, revision, plan_hash, concurrency_key,
	state, rollback_state, rollback_of, parent_id, trigger_kind, actor_id, actor_name, actor_groups, thread,
	reason, owner, heartbeat, current_step, created_at, started_at, ended_at, context`

const stepColumns = `run_id, idx, step_id, name, kind, rollback, state, exit_code, attempts, error, outputs, started_at, ended_at`

// noRun is the not-found error every run lookup returns.
func noRun(id int64) error {
	return dayops.Errorf(dayops.KindNotFound, "no run %d", id)
}

// CreateRun records a new run with its planned steps and the audit event of
// its creation. It assigns run.ID, run.CreatedAt when zero, run.State
// (pending) when empty, and the RunID of every step.
func (s *Store) CreateRun(ctx context.Context, run *dayops.Run, ev dayops.AuditEvent) error {
	if run.ID != 0 {
		return dayops.Errorf(dayops.KindInvalid, "run %d is already recorded: create a new Run value for a new run", run.ID)
	}
	if run.Definition == "" {
		return dayops.Errorf(dayops.KindInvalid, "a run needs a definition name")
	}
	created, state := run.CreatedAt, run.State
	if created.IsZero() {
		created = s.now()
	}
	if state == "" {
		state = dayops.RunPending
	}
	params, err := toJSON(run.Params)
	if err != nil {
		return err
	}
	groups, err := toJSON(run.Actor.Groups)
	if err != nil {
		return err
	}
	thread, err := toJSON(threadRow(run.Thread))
	if err != nil {
		return err
	}
	context, err := toJSON(run.Context)
	if err != nil {
		return err
	}
	var id int64
	err = s.write(ctx, "creating run of "+run.Definition, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO runs (definition, phase, service, environment, params, revision, plan_hash,
			concurrency_key, state, rollback_state, rollback_of, parent_id, trigger_kind, actor_id, actor_name, actor_groups,
			thread, reason, owner, heartbeat, current_step, created_at, started_at, ended_at, context)
			VALUES (`+placeholders(25)+`) RETURNING id`,
			run.Definition, string(run.Phase), run.Service, run.Environment, params, run.Revision, run.PlanHash,
			run.ConcurrencyKey, string(state), string(run.Rollback), nullID(run.RollbackOf), nullID(run.ParentID),
			string(run.Trigger), run.Actor.ID, run.Actor.Name, groups,
			thread, run.Reason, run.Owner, nullTime(run.Heartbeat), run.CurrentStep, created.UnixNano(),
			nullTime(run.StartedAt), nullTime(run.EndedAt), context).Scan(&id)
		if isForeignKeyViolation(err) {
			return dayops.Errorf(dayops.KindNotFound, "run of %s refers to a run that does not exist (rollback of %d, parent %d)",
				run.Definition, run.RollbackOf, run.ParentID)
		}
		if err != nil {
			return err
		}
		for _, st := range run.Steps {
			st.RunID = id
			if err := upsertStep(ctx, tx, st); err != nil {
				return err
			}
		}
		return s.insertAudit(ctx, tx, ev, id, "run.create", fmt.Sprintf("run %d", id))
	})
	if err != nil {
		return err
	}
	run.ID, run.CreatedAt, run.State = id, created, state
	for i := range run.Steps {
		run.Steps[i].RunID = id
		if run.Steps[i].State == "" {
			run.Steps[i].State = dayops.StepPending
		}
	}
	return nil
}

// TransitionRun moves run id to state to, refusing (KindConflict) a move
// that RunState.CanMoveTo forbids, such as any move of an ended run. The
// first move to running sets StartedAt, a final state sets EndedAt, and
// reason replaces Reason: it says why the run is in its new state, so a
// queued run's "waiting for …" never outlives the wait. It returns the
// updated run with steps.
func (s *Store) TransitionRun(ctx context.Context, id int64, to dayops.RunState, reason string, ev dayops.AuditEvent) (*dayops.Run, error) {
	var out *dayops.Run
	err := s.write(ctx, fmt.Sprintf("moving run %d to %s", id, to), func(tx *sql.Tx) error {
		var from dayops.RunState
		var started sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT state, started_at FROM runs WHERE id = ?", id).Scan(&from, &started)
		if errors.Is(err, sql.ErrNoRows) {
			return noRun(id)
		}
		if err != nil {
			return err
		}
		if !from.CanMoveTo(to) {
			return refusedMove(id, from, to)
		}
		now := s.now()
		set, args := []string{"state = ?"}, []any{string(to)}
		if to == dayops.RunRunning && !started.Valid {
			set, args = append(set, "started_at = ?"), append(args, now.UnixNano())
		}
		if to.Final() {
			set, args = append(set, "ended_at = ?"), append(args, now.UnixNano())
		}
		set, args = append(set, "reason = ?"), append(args, reason)
		// The state guard keeps the update honest on databases whose
		// transactions do not lock the row at the read above.
		res, err := tx.ExecContext(ctx, "UPDATE runs SET "+strings.Join(set, ", ")+" WHERE id = ? AND state = ?",
			append(args, id, string(from))...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return dayops.Errorf(dayops.KindConflict, "run %d changed state while moving to %s: try again", id, to)
		}
		if ev.Action == "" && ev.Reason == "" {
			ev.Reason = fmt.Sprintf("%s -> %s", from, to)
			if reason != "" {
				ev.Reason += ": " + reason
			}
		}
		if err := s.insertAudit(ctx, tx, ev, id, "run.state", fmt.Sprintf("run %d", id)); err != nil {
			return err
		}
		out, err = getRun(ctx, tx, id, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// refusedMove says why a run cannot move from one state to another.
func refusedMove(id int64, from, to dayops.RunState) error {
	switch {
	case from.Final():
		return dayops.Errorf(dayops.KindConflict, "run %d already ended (%s)", id, from)
	case from == to:
		return dayops.Errorf(dayops.KindConflict, "run %d is already %s", id, from)
	}
	return dayops.Errorf(dayops.KindConflict, "run %d cannot move from %s to %s", id, from, to)
}

// SetRollbackState records how the rollback of run id is going.
func (s *Store) SetRollbackState(ctx context.Context, id int64, st dayops.RollbackState, ev dayops.AuditEvent) error {
	switch st {
	case dayops.RollbackNone, dayops.RollbackRunning, dayops.RolledBack, dayops.RollbackFailed:
	default:
		return dayops.Errorf(dayops.KindInvalid, "unknown rollback state %q", st)
	}
	return s.write(ctx, fmt.Sprintf("setting rollback state of run %d", id), func(tx *sql.Tx) error {
		if err := mustAffect(tx.ExecContext(ctx, "UPDATE runs SET rollback_state = ? WHERE id = ?", string(st), id)); err != nil {
			return ifNone(err, noRun(id))
		}
		if ev.Action == "" && ev.Reason == "" {
			ev.Reason = "rollback " + string(st)
		}
		return s.insertAudit(ctx, tx, ev, id, "run.rollback", fmt.Sprintf("run %d", id))
	})
}

// SetWaitReason records what run id waits for now (its reason), while it
// is still in state: "queued behind run 12 (…)" changes as the queue moves.
// It reports false, changing nothing, when the run has moved on. It is not
// audited: the state change that began the wait was.
func (s *Store) SetWaitReason(ctx context.Context, id int64, state dayops.RunState, reason string) (bool, error) {
	var set bool
	err := s.write(ctx, fmt.Sprintf("recording what run %d waits for", id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE runs SET reason = ? WHERE id = ? AND state = ?", reason, id, string(state))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		set = n == 1
		return err
	})
	return set, err
}

// UpdateStep inserts or replaces the step (st.RunID, st.Index). A step that
// is running becomes the run's CurrentStep.
func (s *Store) UpdateStep(ctx context.Context, st dayops.StepRun) error {
	return s.write(ctx, fmt.Sprintf("updating step %d of run %d", st.Index, st.RunID), func(tx *sql.Tx) error {
		if err := upsertStep(ctx, tx, st); err != nil {
			if isForeignKeyViolation(err) {
				return noRun(st.RunID)
			}
			return err
		}
		if st.State != dayops.StepRunning {
			return nil
		}
		_, err := tx.ExecContext(ctx, "UPDATE runs SET current_step = ? WHERE id = ?", st.Name, st.RunID)
		return err
	})
}

// upsertStep writes one step row; a missing State is pending.
func upsertStep(ctx context.Context, q queryer, st dayops.StepRun) error {
	if st.State == "" {
		st.State = dayops.StepPending
	}
	outputs, err := toJSON(st.Outputs)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO step_runs (`+stepColumns+`) VALUES (`+placeholders(13)+`)
		ON CONFLICT (run_id, idx) DO UPDATE SET step_id = excluded.step_id, name = excluded.name, kind = excluded.kind,
			rollback = excluded.rollback, state = excluded.state, exit_code = excluded.exit_code,
			attempts = excluded.attempts, error = excluded.error, outputs = excluded.outputs,
			started_at = excluded.started_at, ended_at = excluded.ended_at`,
		st.RunID, st.Index, st.StepID, st.Name, string(st.Kind), st.Rollback, string(st.State), st.ExitCode,
		st.Attempts, st.Error, outputs, nullTime(st.StartedAt), nullTime(st.EndedAt))
	return err
}

// SetOwner makes owner the process that runs run id (a take-over after a
// crash), with its heartbeat at at.
func (s *Store) SetOwner(ctx context.Context, id int64, owner string, at time.Time) error {
	return s.write(ctx, fmt.Sprintf("setting owner of run %d", id), func(tx *sql.Tx) error {
		err := mustAffect(tx.ExecContext(ctx, "UPDATE runs SET owner = ?, heartbeat = ? WHERE id = ?", owner, nullTime(at), id))
		return ifNone(err, noRun(id))
	})
}

// TakeOver makes to the owner of run id, with its heartbeat at at, only if
// the run has not ended and its owner and heartbeat are still the ones the
// caller saw (from, seen; a zero seen: no heartbeat). It is a compare-and-set:
// of two replicas taking over the run of a dead one only one gets it, and an
// owner that was only slow and heartbeat meanwhile keeps its run. It reports
// whether the run was taken.
func (s *Store) TakeOver(ctx context.Context, id int64, from string, seen time.Time, to string, at time.Time) (bool, error) {
	if to == "" {
		return false, dayops.Errorf(dayops.KindInvalid, "taking over run %d needs the new owner: give the process's identity", id)
	}
	var seenNanos int64
	if !seen.IsZero() {
		seenNanos = seen.UnixNano()
	}
	var took bool
	err := s.write(ctx, fmt.Sprintf("taking over run %d", id), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE runs SET owner = ?, heartbeat = ? WHERE id = ? AND owner = ? AND COALESCE(heartbeat, 0) = ? AND state NOT IN ("+
			placeholders(len(finalStates))+")", append([]any{to, nullTime(at), id, from, seenNanos}, finalStates...)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		took = n == 1
		return err
	})
	return took, err
}

// Heartbeat stamps at on every run of owner that has not ended and returns
// how many there were.
func (s *Store) Heartbeat(ctx context.Context, owner string, at time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, "heartbeat of "+owner, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE runs SET heartbeat = ? WHERE owner = ? AND state NOT IN ("+placeholders(len(finalStates))+")",
			append([]any{nullTime(at), owner}, finalStates...)...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// Run returns run id with its steps ordered by Index.
func (s *Store) Run(ctx context.Context, id int64) (*dayops.Run, error) {
	var out *dayops.Run
	err := s.read(ctx, fmt.Sprintf("reading run %d", id), func(tx *sql.Tx) error {
		var err error
		out, err = getRun(ctx, tx, id, true)
		return err
	})
	return out, err
}

// Runs returns the runs f selects, newest first, without their steps.
func (s *Store) Runs(ctx context.Context, f dayops.RunFilter) ([]*dayops.Run, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"definition", f.Definition}, {"service", f.Service}, {"environment", f.Environment},
		{"actor_id", f.Actor}, {"trigger_kind", string(f.Trigger)},
	} {
		if c.val != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.val)
		}
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if f.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	query := "SELECT " + runColumns + " FROM runs"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	var out []*dayops.Run
	err := s.read(ctx, "listing runs", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, append(args, limit)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// LastSucceeded returns the newest succeeded run of definition in
// environment with an ID below beforeID (any ID when beforeID is 0), with its
// steps, or nil when there is none.
func (s *Store) LastSucceeded(ctx context.Context, definition, environment string, beforeID int64) (*dayops.Run, error) {
	query := "SELECT id FROM runs WHERE definition = ? AND environment = ? AND state = ?"
	args := []any{definition, environment, string(dayops.RunSucceeded)}
	if beforeID > 0 {
		query, args = query+" AND id < ?", append(args, beforeID)
	}
	var out *dayops.Run
	err := s.read(ctx, "finding last successful run of "+definition, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, query+" ORDER BY id DESC LIMIT 1", args...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		out, err = getRun(ctx, tx, id, true)
		return err
	})
	return out, err
}

// getRun reads one run, and its steps when withSteps.
func getRun(ctx context.Context, q queryer, id int64, withSteps bool) (*dayops.Run, error) {
	r, err := scanRun(q.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, noRun(id)
	}
	if err != nil || !withSteps {
		return r, err
	}
	rows, err := q.QueryContext(ctx, "SELECT "+stepColumns+" FROM step_runs WHERE run_id = ? ORDER BY idx", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		st, err := scanStep(rows)
		if err != nil {
			return nil, err
		}
		r.Steps = append(r.Steps, st)
	}
	return r, rows.Err()
}

// threadRow is how a Thread is kept in runs.thread: its own JSON names, so
// that renaming a Go field cannot silently lose stored data.
type threadRow struct {
	Door    string `json:"door,omitempty"`
	Channel string `json:"channel,omitempty"`
	Name    string `json:"name,omitempty"`
	ID      string `json:"id,omitempty"`
	Message string `json:"message,omitempty"`
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanRun(sc scanner) (*dayops.Run, error) {
	var r dayops.Run
	var params, groups, thread, context string
	var rollbackOf, parentID, heartbeat, created, started, ended sql.NullInt64
	err := sc.Scan(&r.ID, &r.Definition, &r.Phase, &r.Service, &r.Environment, &params, &r.Revision, &r.PlanHash,
		&r.ConcurrencyKey, &r.State, &r.Rollback, &rollbackOf, &parentID, &r.Trigger, &r.Actor.ID, &r.Actor.Name,
		&groups, &thread, &r.Reason, &r.Owner, &heartbeat, &r.CurrentStep, &created, &started, &ended, &context)
	if err != nil {
		return nil, err
	}
	if err := fromJSON(context, &r.Context); err != nil {
		return nil, err
	}
	if err := fromJSON(params, &r.Params); err != nil {
		return nil, err
	}
	if err := fromJSON(groups, &r.Actor.Groups); err != nil {
		return nil, err
	}
	var th threadRow
	if err := fromJSON(thread, &th); err != nil {
		return nil, err
	}
	r.Thread = dayops.Thread(th)
	r.RollbackOf, r.ParentID = rollbackOf.Int64, parentID.Int64
	r.Heartbeat, r.CreatedAt, r.StartedAt, r.EndedAt = fromNull(heartbeat), fromNull(created), fromNull(started), fromNull(ended)
	return &r, nil
}

func scanStep(sc scanner) (dayops.StepRun, error) {
	var st dayops.StepRun
	var outputs string
	var started, ended sql.NullInt64
	err := sc.Scan(&st.RunID, &st.Index, &st.StepID, &st.Name, &st.Kind, &st.Rollback, &st.State, &st.ExitCode,
		&st.Attempts, &st.Error, &outputs, &started, &ended)
	if err != nil {
		return st, err
	}
	if err := fromJSON(outputs, &st.Outputs); err != nil {
		return st, err
	}
	st.StartedAt, st.EndedAt = fromNull(started), fromNull(ended)
	return st, nil
}

// errNoRows marks an UPDATE or DELETE that matched nothing.
var errNoRows = errors.New("no rows affected")

// mustAffect turns an Exec result that touched no row into errNoRows.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errNoRows
	}
	return nil
}

// ifNone replaces errNoRows with the caller's not-found error.
func ifNone(err, notFound error) error {
	if errors.Is(err, errNoRows) {
		return notFound
	}
	return err
}
