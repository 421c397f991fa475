package executor

import (
	"context"

	"github.com/dayops/dayops"
)

// fencedStore is the executor's store once it may have lost runs: it refuses
// every change to a run this process lost to another (see fenceLost), so
// that a holder that wakes up after its lease expired cannot end, move or
// release (dequeue) a run that its new owner drives. Audit rows still go
// through: they record what this process did.
type fencedStore struct {
	Store
	e *Executor
}

func (s fencedStore) lost(runID int64) error {
	if !s.e.lostAny.Load() {
		return nil
	}
	if _, ok := s.e.fenced.Load(runID); ok {
		return dayops.Errorf(dayops.KindConflict, "run %d is driven by another dayops process now: this one lost it while it did not answer", runID)
	}
	return nil
}

func (s fencedStore) TransitionRun(ctx context.Context, id int64, to dayops.RunState, reason string, ev dayops.AuditEvent) (*dayops.Run, error) {
	if err := s.lost(id); err != nil {
		return nil, err
	}
	return s.Store.TransitionRun(ctx, id, to, reason, ev)
}

func (s fencedStore) SetRollbackState(ctx context.Context, id int64, st dayops.RollbackState, ev dayops.AuditEvent) error {
	if err := s.lost(id); err != nil {
		return err
	}
	return s.Store.SetRollbackState(ctx, id, st, ev)
}

func (s fencedStore) SetWaitReason(ctx context.Context, id int64, state dayops.RunState, reason string) (bool, error) {
	if err := s.lost(id); err != nil {
		return false, err
	}
	return s.Store.SetWaitReason(ctx, id, state, reason)
}

func (s fencedStore) UpdateStep(ctx context.Context, st dayops.StepRun) error {
	if err := s.lost(st.RunID); err != nil {
		return err
	}
	return s.Store.UpdateStep(ctx, st)
}

func (s fencedStore) Enqueue(ctx context.Context, key string, runID int64) error {
	if err := s.lost(runID); err != nil {
		return err
	}
	return s.Store.Enqueue(ctx, key, runID)
}

func (s fencedStore) Dequeue(ctx context.Context, runID int64) error {
	if err := s.lost(runID); err != nil {
		return err
	}
	return s.Store.Dequeue(ctx, runID)
}

// AppendLogs leaves out the lines of lost runs: their numbering is the new
// owner's now.
func (s fencedStore) AppendLogs(ctx context.Context, lines []dayops.LogLine) error {
	kept := lines[:0:0]
	for _, l := range lines {
		if s.lost(l.RunID) == nil {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return s.Store.AppendLogs(ctx, kept)
}
