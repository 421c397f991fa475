package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage/storagetest"
)

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dayops.db")
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil || len(ms) == 0 {
		t.Fatalf("loadMigrations = %d, %v", len(ms), err)
	}
	var runID int64
	for i := range 2 {
		s, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if i == 0 {
			run := storagetest.MustCreate(t, s, storagetest.NewRun("deploy-web", "staging", dayops.RunPending))
			runID = run.ID
		} else if _, err := s.Run(ctx, runID); err != nil {
			t.Errorf("run written before reopening: %v", err)
		}
		var n, max int
		if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &max); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) || max != len(ms) {
			t.Errorf("open #%d: schema_migrations has %d rows, max version %d; want %d each", i+1, n, max, len(ms))
		}
		var mode string
		if err := s.r.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
		s.Close()
	}

	// A database from a newer dayops is refused, and left alone.
	db, err := sql.Open(driverName, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, path, Options{})
	storagetest.WantKind(t, err, dayops.KindInvalid, "schema version 99", fmt.Sprintf("up to %d", len(ms)), "newer dayops")
}

func TestLoadMigrations(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("CREATE TABLE t (x INTEGER);")}
	tests := []struct {
		name  string
		files fstest.MapFS
		want  []int
		bad   bool
	}{
		{"ordered by number", fstest.MapFS{"migrations/0002_b.sql": sql, "migrations/0001_a.sql": sql, "migrations/0010_c.txt": sql}, []int{1, 2}, false},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0003_c.sql": sql}, nil, true},
		{"duplicate", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0001_b.sql": sql}, nil, true},
		{"unnumbered", fstest.MapFS{"migrations/init.sql": sql}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.files, "migrations")
			if (err != nil) != tc.bad {
				t.Fatalf("loadMigrations error = %v, want error %v", err, tc.bad)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			if !tc.bad && !slices.Equal(got, tc.want) {
				t.Errorf("versions = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOpenRefusesQueryPath(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db?mode=ro"), Options{})
	storagetest.WantKind(t, err, dayops.KindInvalid, "choose a plain file path")
}

func TestFinalStates(t *testing.T) {
	all := []dayops.RunState{dayops.RunPending, dayops.RunAwaitingApproval, dayops.RunQueued, dayops.RunRunning,
		dayops.RunSucceeded, dayops.RunFailed, dayops.RunCancelled, dayops.RunTimedOut, dayops.RunDenied, dayops.RunInterrupted}
	for _, st := range all {
		if got := slices.Contains(finalStates, any(string(st))); got != st.Final() {
			t.Errorf("finalStates contains %s = %v, Final() = %v", st, got, st.Final())
		}
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, storagetest.NewClock().Now)
	run := storagetest.NewRun("deploy-web", "production", dayops.RunSucceeded)
	run.Steps = []dayops.StepRun{{Index: 0, Name: "Deploy", State: dayops.StepSucceeded, Outputs: map[string]string{"k": "v"}}}
	storagetest.MustCreate(t, s, run)
	if err := s.AppendLogs(ctx, []dayops.LogLine{{RunID: run.ID, Seq: 1, Text: "deployed"}}); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(ctx, target); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	storagetest.WantKind(t, s.Backup(ctx, target), dayops.KindConflict, "already exists")
	// Writes after the backup are not in it.
	storagetest.MustCreate(t, s, storagetest.NewRun("later", "", dayops.RunPending))

	restored, err := Open(ctx, target, Options{})
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	defer restored.Close()
	got, err := restored.Run(ctx, run.ID)
	if err != nil {
		t.Fatalf("Run from backup: %v", err)
	}
	want, _ := s.Run(ctx, run.ID)
	if got.Definition != want.Definition || got.Steps[0].Outputs["k"] != "v" || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("restored run = %+v, want %+v", got, want)
	}
	if lines, err := restored.Logs(ctx, run.ID, 0, 0); err != nil || len(lines) != 1 {
		t.Errorf("restored logs = %v, %v", lines, err)
	}
	if runs, err := restored.Runs(ctx, dayops.RunFilter{}); err != nil || len(runs) != 1 {
		t.Errorf("restored runs = %d, %v; want 1", len(runs), err)
	}
}

// TestTwoProcesses races transitions through two stores on one file, as two
// processes would: BEGIN IMMEDIATE and busy_timeout make the second writer
// wait, never fail with SQLITE_BUSY, and exactly one final move wins.
func TestTwoProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dayops.db")
	var stores []*Store
	for range 2 {
		s, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	var ids []int64
	for range 20 {
		ids = append(ids, storagetest.MustCreate(t, stores[0], storagetest.NewRun("race", "", dayops.RunRunning)).ID)
	}
	var wg sync.WaitGroup
	results := make([][]error, len(ids))
	for i, id := range ids {
		results[i] = make([]error, 8)
		for j := range 8 {
			wg.Go(func() {
				to := []dayops.RunState{dayops.RunSucceeded, dayops.RunFailed}[j%2]
				_, results[i][j] = stores[j%2].TransitionRun(ctx, id, to, "", dayops.AuditEvent{})
			})
		}
	}
	wg.Wait()
	for i, errs := range results {
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if dayops.KindOf(err) != dayops.KindConflict {
				t.Errorf("run %d: %v", ids[i], err)
			}
		}
		if wins != 1 {
			t.Errorf("run %d: %d winners, want 1", ids[i], wins)
		}
	}
}

// TestAuditFailureRollsBack makes the audit insert fail after the change was
// made, with a trigger, and checks that the change is gone too.
func TestAuditFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, storagetest.NewClock().Now)
	if _, err := s.w.ExecContext(ctx, `CREATE TRIGGER audit_boom BEFORE INSERT ON audit WHEN NEW.action = 'boom'
		BEGIN SELECT RAISE(ABORT, 'audit refused'); END`); err != nil {
		t.Fatal(err)
	}
	boom := dayops.AuditEvent{Action: "boom"}
	run := storagetest.MustCreate(t, s, storagetest.NewRun("deploy-web", "staging", dayops.RunRunning))
	if err := s.CreateRun(ctx, storagetest.NewRun("x", "", ""), boom); err == nil {
		t.Error("CreateRun with a failing audit succeeded")
	}
	if _, err := s.TransitionRun(ctx, run.ID, dayops.RunSucceeded, "done", boom); err == nil {
		t.Error("TransitionRun with a failing audit succeeded")
	}
	if err := s.SetRollbackState(ctx, run.ID, dayops.RolledBack, boom); err == nil {
		t.Error("SetRollbackState with a failing audit succeeded")
	}
	if err := s.LockEnvironment(ctx, dayops.EnvLock{Environment: "staging"}, boom); err == nil {
		t.Error("LockEnvironment with a failing audit succeeded")
	}
	if err := s.AddApproval(ctx, &dayops.Approval{RunID: run.ID, Gate: "environment"}, boom); err == nil {
		t.Error("AddApproval with a failing audit succeeded")
	}
	got, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != dayops.RunRunning || got.Rollback != "" || got.Reason != "" {
		t.Errorf("run after failed audits: state %q rollback %q reason %q; want it unchanged", got.State, got.Rollback, got.Reason)
	}
	if runs, _ := s.Runs(ctx, dayops.RunFilter{}); len(runs) != 1 {
		t.Errorf("%d runs, want 1", len(runs))
	}
	if l, _ := s.EnvironmentLock(ctx, "staging"); l != nil {
		t.Errorf("lock kept without its audit row: %+v", l)
	}
	if a, _ := s.Approvals(ctx, run.ID, ""); len(a) != 0 {
		t.Errorf("approval kept without its audit row: %+v", a)
	}
	if err := s.LockEnvironment(ctx, dayops.EnvLock{Environment: "staging"}, dayops.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlockEnvironment(ctx, "staging", boom); err == nil {
		t.Error("UnlockEnvironment with a failing audit succeeded")
	}
	if l, _ := s.EnvironmentLock(ctx, "staging"); l == nil {
		t.Error("unlock kept without its audit row")
	}
}

func TestCancelledContext(t *testing.T) {
	s := openTest(t, storagetest.NewClock().Now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.CreateRun(ctx, storagetest.NewRun("x", "", ""), dayops.AuditEvent{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateRun with a cancelled context = %v, want context.Canceled", err)
	}
	// The single writer connection is not left inside a transaction.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.CreateRun(ctx, storagetest.NewRun("x", "", ""), dayops.AuditEvent{}); err != nil {
		t.Errorf("CreateRun after a cancelled one: %v", err)
	}
}
