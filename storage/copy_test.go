package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage/storagetest"
	"github.com/google/go-cmp/cmp"
)

// fill writes runs runs into s, and something into every table: steps, log
// lines, approvals, audit, the queue, a lock, reports, outbox, inbox,
// deliveries and syncs; every fifth run is a rollback of the one before.
func fill(t testing.TB, s *Store, runs int) {
	t.Helper()
	ctx := context.Background()
	var prev int64
	for i := range runs {
		r := storagetest.NewRun("deploy-web", fmt.Sprintf("env%d", i%3), dayops.RunPending)
		r.Steps = []dayops.StepRun{{Index: 0, Name: "build", Rollback: i%2 == 0}, {Index: 1, Name: "ship"}}
		if i%5 == 4 {
			r.RollbackOf = prev
		}
		storagetest.MustCreate(t, s, r)
		prev = r.ID
		if err := s.AppendLogs(ctx, []dayops.LogLine{
			{RunID: r.ID, Seq: 1, Step: 0, Stream: dayops.Stdout, Text: "building ? 'quoted' \\ 100%"},
			{RunID: r.ID, Seq: 2, Step: 1, Stream: dayops.Stderr, Text: "shipping ✓"},
		}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if err := s.AddApproval(ctx, &dayops.Approval{RunID: r.ID, Gate: "prod", Actor: r.Actor, Approved: true, Valid: i%20 == 0}, dayops.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddReport(ctx, dayops.Report{RunID: r.ID, Thread: r.Thread, Refs: map[string]string{"comment": "1"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: r.Thread, Message: `{"text":"hi"}`, RunID: r.ID}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddInbound(ctx, dayops.Inbound{Source: "github", Delivery: fmt.Sprint(i), Kind: "push", Body: []byte{0, 1, 2, 255}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.FirstDelivery(ctx, "slack", fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
			if err := s.RecordSync(ctx, &dayops.SyncRecord{Revision: "abc", Outcome: dayops.SyncUpdated, Definitions: i, Errors: []string{"x"}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Enqueue(ctx, "deploy-web-prod", r.ID); err != nil {
				t.Fatal(err)
			}
			key := fmt.Sprintf("receiver/{}:{alertname=%q}", fmt.Sprint("Down", i))
			if _, err := s.OpenAlertGroup(ctx, key, []dayops.AlertInstance{{Fingerprint: fmt.Sprint("fp", i), StartsAt: clockless(i)}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GuardAutoRun(ctx, dayops.GuardCheck{Trigger: "restart-api/alert/0", Definition: "restart-api",
				Target: fmt.Sprint("host", i), Cooldown: time.Minute, Budget: 100, At: clockless(i)}); err != nil {
				t.Fatal(err)
			}
			if err := s.OpenChecklist(ctx, r.ID, 1, []string{"Backed up?", "Monitored?"}); err != nil {
				t.Fatal(err)
			}
			if err := s.AnswerQuestion(ctx, &dayops.Answer{RunID: r.ID, Step: 1, Question: 1, Answer: dayops.AnswerYes, Note: "yes 'really'", Actor: r.Actor}, dayops.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ClaimFiring(ctx, dayops.ScheduleFiring{Definition: "nightly", Cron: "0 3 * * *", ScheduledAt: clockless(i),
				State: dayops.FiringRun, RunID: r.ID}); err != nil {
				t.Fatal(err)
			}
			o := &dayops.RunOrder{RunID: r.ID, Kind: dayops.OrderCancel, Actor: r.Actor, RequestedAt: clockless(i)}
			if err := s.AddOrder(ctx, o, dayops.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.FinishOrder(ctx, o.ID, "applied", clockless(i+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.LockEnvironment(ctx, dayops.EnvLock{Environment: "prod", Reason: "freeze"}, dayops.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
}

// clockless is a fixed time i minutes after an epoch, for rows that need one.
func clockless(i int) time.Time {
	return time.Date(2025, 3, 1, 0, i, 0, 0, time.UTC)
}

// dump is every row of every table of s as text, table by table, for
// comparing databases of either kind: flags as 0/1, bytes as text.
func dump(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	ctx := context.Background()
	tables, err := copyOrder(ctx, s, s.r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := s.r.QueryContext(ctx, "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		order := make([]string, len(cols))
		for i := range cols {
			order[i] = fmt.Sprint(i + 1)
		}
		rows.Close()
		rows, err = s.r.QueryContext(ctx, "SELECT * FROM "+table+" ORDER BY "+strings.Join(order, ", "))
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				switch v := v.(type) {
				case bool:
					if v {
						fmt.Fprintf(&b, "%s=1 ", cols[i])
					} else {
						fmt.Fprintf(&b, "%s=0 ", cols[i])
					}
				case []byte:
					fmt.Fprintf(&b, "%s=%q ", cols[i], v)
				default:
					fmt.Fprintf(&b, "%s=%#v ", cols[i], v)
				}
			}
			out[table] = append(out[table], b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// TestCopy copies SQLite into PostgreSQL and that into a second SQLite
// file: every row of every table arrives unchanged each way, the counts
// agree, and new rows get IDs after the copied ones.
func TestCopy(t *testing.T) {
	ctx := context.Background()
	clock := storagetest.NewClock()
	lite := openTest(t, clock.Now)
	fill(t, lite, 60)
	pg := openPostgresTest(t, clock.Now)
	lite2 := openTest(t, clock.Now)

	want := dump(t, lite)
	for _, table := range []string{"runs", "step_runs", "log_lines", "approvals", "audit", "run_queue", "env_locks",
		"deliveries", "syncs", "reports", "outbox", "inbox", "alert_groups", "alert_instances", "auto_runs", "schedule_firings", "checklist_answers", "run_orders"} {
		if len(want[table]) == 0 {
			t.Errorf("the test database has no rows in %s: the copy of that table is not tested", table)
		}
	}
	for _, step := range []struct {
		name     string
		from, to *Store
	}{{"sqlite to postgres", lite, pg}, {"postgres to sqlite", pg, lite2}} {
		var done []string
		counts, err := Copy(ctx, step.from, step.to, func(table string, n int64) { done = append(done, table) })
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if len(counts) != len(want) || len(done) != len(want) {
			t.Errorf("%s: %d counts, %d tables done; want %d tables", step.name, len(counts), len(done), len(want))
		}
		for _, c := range counts {
			if c.Source != int64(len(want[c.Table])) || c.Target != c.Source {
				t.Errorf("%s: %s: source %d, target %d; want %d each", step.name, c.Table, c.Source, c.Target, len(want[c.Table]))
			}
		}
		if diff := cmp.Diff(want, dump(t, step.to)); diff != "" {
			t.Errorf("%s: the copy differs (-source +copy):\n%s", step.name, diff)
		}
	}
	// runs must come before the tables that refer to them.
	order, err := copyOrder(ctx, pg, pg.r)
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.Index(strings.Join(order, " "), "runs"); i > strings.Index(strings.Join(order, " "), "step_runs") {
		t.Errorf("copy order %v puts step_runs before runs", order)
	}

	// New rows follow the copied IDs on both.
	for _, s := range []*Store{pg, lite2} {
		r := storagetest.MustCreate(t, s, storagetest.NewRun("deploy-web", "prod", dayops.RunPending))
		if r.ID != 61 {
			t.Errorf("%s: a new run after the copy got ID %d, want 61", s.path, r.ID)
		}
		a := &dayops.Approval{RunID: r.ID, Gate: "prod"}
		if err := s.AddApproval(ctx, a, dayops.AuditEvent{}); err != nil || a.ID != 7 {
			t.Errorf("%s: a new approval got ID %d (%v), want 7", s.path, a.ID, err)
		}
	}
}

// TestCopyRefuses: a target with any row, or the source itself, is refused
// and left unchanged.
func TestCopyRefuses(t *testing.T) {
	ctx := context.Background()
	src := openTest(t, nil)
	fill(t, src, 3)
	dst := openPostgresTest(t, nil)
	if err := dst.Audit(ctx, dayops.AuditEvent{Action: "something", Allowed: true}); err != nil {
		t.Fatal(err)
	}
	_, err := Copy(ctx, src, dst, nil)
	storagetest.WantKind(t, err, dayops.KindConflict, "is not empty (table audit has 1 rows)", "new, empty database")
	if n := len(dump(t, dst)["runs"]); n != 0 {
		t.Errorf("the refused target has %d runs", n)
	}
	path := filepath.Join(t.TempDir(), "same.db")
	a, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = Copy(ctx, a, b, nil)
	storagetest.WantKind(t, err, dayops.KindInvalid, "into itself")
}
