package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
	"github.com/dayops/dayops/internal/testkit/postgres"
	"github.com/dayops/dayops/storage"
	"github.com/dayops/dayops/storage/storagetest"
)

// sqliteWithRuns makes a SQLite database with n runs, each with a step, two
// log lines and its audit; every tenth with an approval, a report, a
// delivery seen and an outgoing message.
func sqliteWithRuns(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dayops.db")
	st, err := storage.Open(ctx, path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		r := storagetest.NewRun("deploy-web", "staging", dayops.RunPending)
		r.Steps = []dayops.StepRun{{Index: 0, Name: "ship"}}
		storagetest.MustCreate(t, st, r)
		if _, err := st.TransitionRun(ctx, r.ID, dayops.RunRunning, "", dayops.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		if err := st.AppendLogs(ctx, []dayops.LogLine{{RunID: r.ID, Seq: 1, Text: fmt.Sprintf("run %d ships", r.ID)},
			{RunID: r.ID, Seq: 2, Stream: dayops.Stderr, Text: "done"}}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if err := st.AddApproval(ctx, &dayops.Approval{RunID: r.ID, Gate: "prod", Actor: r.Actor, Approved: true, Valid: true}, dayops.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.AddReport(ctx, dayops.Report{RunID: r.ID, Thread: r.Thread}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.FirstDelivery(ctx, "slack", fmt.Sprint("event-", i)); err != nil {
				t.Fatal(err)
			}
			if _, err := st.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: r.Thread, Message: `{"text":"hello"}`, RunID: r.ID}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.TransitionRun(ctx, r.ID, dayops.RunSucceeded, "", dayops.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestDBCopyToPostgres: dayops db copy of a SQLite database with 1,000
// runs into an empty PostgreSQL one prints each table's counts, equal;
// every row arrives (runs, logs, audit…); history and a serve on the copy
// show them; a second copy into the now full database is refused.
func TestDBCopyToPostgres(t *testing.T) {
	postgres.Need(t)
	const runs = 1000
	lite := sqliteWithRuns(t, runs)
	url := postgres.Database(t)

	code, stdout, stderr := cli(t, "", "db", "copy", "--from", lite, "--to", url)
	if code != exitOK {
		t.Fatalf("db copy: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{`runs\s+1000\s+1000`, `log_lines\s+2000\s+2000`, `audit\s+3100\s+3100`, `step_runs\s+1000\s+1000`,
		`approvals\s+100\s+100`, `deliveries\s+100\s+100`, `outbox\s+100\s+100`, `reports\s+100\s+100`,
		`every table's row count matches`} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("db copy output does not match %q:\n%s", want, stdout)
		}
	}

	ctx := context.Background()
	st, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.Runs(ctx, dayops.RunFilter{Limit: 2 * runs})
	if err != nil || len(all) != runs || all[0].ID != runs || all[runs-1].ID != 1 {
		t.Fatalf("the copy has %d runs (%v), want IDs %d…1", len(all), err, runs)
	}
	logs, err := st.Logs(ctx, 500, 0, 0)
	if err != nil || len(logs) != 2 || logs[0].Text != "run 500 ships" {
		t.Errorf("logs of run 500 in the copy = %+v, %v", logs, err)
	}
	audit, err := st.AuditEvents(ctx, dayops.AuditFilter{RunID: 500})
	if err != nil || len(audit) != 3 {
		t.Errorf("audit of run 500 in the copy: %d events, %v; want 3", len(audit), err)
	}
	st.Close()

	code, stdout, stderr = cli(t, "", "history", "--database", url, "--limit", "3")
	if code != exitOK || !strings.Contains(stdout, "#1000") || !strings.Contains(stdout, "#998") || !strings.Contains(stdout, "succeeded") {
		t.Errorf("history on the copy: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = cli(t, "", "logs", "--database", url, "42")
	if code != exitOK || !strings.Contains(stdout, "run 42 ships") {
		t.Errorf("logs 42 on the copy: exit %d\n%s%s", code, stdout, stderr)
	}

	code, _, stderr = cli(t, "", "db", "copy", "--from", lite, "--to", url)
	if code != exitFail || !strings.Contains(stderr, "is not empty") || !strings.Contains(stderr, "new, empty database") {
		t.Errorf("a second copy into the full database: exit %d, stderr %q; want exit 1 saying it is not empty", code, stderr)
	}

	// serve on the copy, its URL from DAYOPS_DATABASE with a password
	// (trust authentication ignores it) that no line of its log shows.
	gs := gitserver.New(t)
	gs.Commit("nap", map[string]string{"ops/nap.yaml": "apiVersion: dayops/v1\nphase: day2\nname: nap\nsteps: [{name: Nap, run: 'true'}]\n"})
	withPassword := strings.Replace(url, "postgres://dayops@", "postgres://dayops:hunter2@", 1)
	d := startServe(t, fmt.Sprintf("listen: 127.0.0.1:0\nrepo: {url: %q, interval: 200ms}\n", gs.URL()), "DAYOPS_DATABASE", withPassword)
	served, err := d.srv.store.Runs(ctx, dayops.RunFilter{Limit: 2 * runs})
	if err != nil || len(served) != runs {
		t.Errorf("serve on the copy sees %d runs (%v), want %d", len(served), err, runs)
	}
	if logs := d.logs.String(); strings.Contains(logs, "hunter2") || !strings.Contains(logs, "password [set]") {
		t.Errorf("serve's log shows the database password, or does not say it is set:\n%s", logs)
	}
	// With no database file to keep it beside, the git cache is the
	// process's own temporary directory, not the working directory.
	if _, err := os.Stat("dayops-cache"); err == nil {
		t.Errorf("serve on PostgreSQL left its git cache in the working directory")
	}
}

func TestDBCopyUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.db")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", []string{"db"}, exitUsage, "dayops db: say what to do: dayops db copy --from SRC --to DST"},
		{"unknown subcommand", []string{"db", "move"}, exitUsage, "dayops db: say what to do"},
		{"no target", []string{"db", "copy", "--from", "a.db"}, exitUsage, "give both --from and --to"},
		{"missing source", []string{"db", "copy", "--from", missing, "--to", filepath.Join(t.TempDir(), "b.db")}, exitFail, "no database at " + missing},
		{"a positional", []string{"db", "copy", "x"}, exitUsage, `unexpected argument "x"`},
		{"restore into postgres", []string{"restore", missing, "--database", "postgres://u:hunter2@h/d"}, exitFail, "use pg_restore"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(t, "", tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr shows the password: %q", stderr)
			}
		})
	}
}

// TestDBCopyUnreachable: an unreachable PostgreSQL target fails saying so,
// without its password.
func TestDBCopyUnreachable(t *testing.T) {
	lite := sqliteWithRuns(t, 1)
	code, _, stderr := cli(t, "", "db", "copy", "--from", lite, "--to", "postgres://dayops:hunter2@127.0.0.1:1/dayops?connect_timeout=3")
	if code != exitFail || !strings.Contains(stderr, "cannot reach PostgreSQL at postgres://dayops:xxxxx@127.0.0.1:1/dayops") || strings.Contains(stderr, "hunter2") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestDatabaseHelpHidesPassword: --help shows DAYOPS_DATABASE as the
// default without its password.
func TestDatabaseHelpHidesPassword(t *testing.T) {
	var out bytes.Buffer
	env := func(k string) string {
		if k == "DAYOPS_DATABASE" {
			return "postgres://dayops:hunter2@db/dayops"
		}
		return ""
	}
	Main(context.Background(), []string{"history", "--help"}, IO{Stdout: &out, Stderr: &out, Getenv: env})
	if !strings.Contains(out.String(), "postgres://dayops:xxxxx@db/dayops") || strings.Contains(out.String(), "hunter2") {
		t.Errorf("history --help:\n%s", out.String())
	}
}

func TestPrintCounts(t *testing.T) {
	tests := []struct {
		name   string
		counts []storage.TableCount
		same   bool
		marked string
	}{
		{"equal", []storage.TableCount{{Table: "runs", Source: 3, Target: 3}, {Table: "audit", Source: 0, Target: 0}}, true, ""},
		{"one differs", []storage.TableCount{{Table: "runs", Source: 3, Target: 3}, {Table: "log_lines", Source: 10, Target: 9}}, false, "log_lines"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := printCounts(&out, tc.counts); got != tc.same {
				t.Errorf("printCounts = %v, want %v", got, tc.same)
			}
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.Contains(line, "DIFFERS") != (tc.marked != "" && strings.HasPrefix(strings.TrimSpace(line), tc.marked)) {
					t.Errorf("line %q is marked wrongly (want %q marked):\n%s", line, tc.marked, out.String())
				}
			}
		})
	}
}

// TestRunOnPostgres: dayops run records into a PostgreSQL database given
// as --database (its password never shown), and history reads it back.
func TestRunOnPostgres(t *testing.T) {
	url := postgres.Database(t)
	withPassword := strings.Replace(url, "postgres://dayops@", "postgres://dayops:hunter2@", 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.yaml"), []byte("apiVersion: dayops/v1\nphase: day2\nname: hello\nsteps: [{name: Greet, run: echo hello from postgres}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, "", "run", "hello", "--dir", dir, "--database", withPassword)
	if code != exitOK || !strings.Contains(stdout, "hello from postgres") || !strings.Contains(stdout, "(database postgres://dayops:xxxxx@127.0.0.1:") {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "hunter2") {
		t.Errorf("run shows the database password:\n%s%s", stdout, stderr)
	}
	code, stdout, stderr = cli(t, "", "history", "--database", url)
	if code != exitOK || !strings.Contains(stdout, "#1 ") || !strings.Contains(stdout, "succeeded") || !strings.Contains(stdout, "hello") {
		t.Errorf("history: exit %d\n%s%s", code, stdout, stderr)
	}
}
