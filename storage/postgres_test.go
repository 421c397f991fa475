package storage

import (
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/dayops/dayops"
	"strings"

	"context"
	"github.com/google/go-cmp/cmp"
	"testing"
	"time"

	"github.com/dayops/dayops/internal/testkit/postgres"
	"github.com/dayops/dayops/storage/storagetest"
)

func TestMain(m *testing.M) { postgres.Main(m) }

// TestConformancePostgres runs the same suite as SQLite on PostgreSQL, one
// new database per test.
func TestConformancePostgres(t *testing.T) {
	postgres.Need(t)
	storagetest.Run(t, func(t *testing.T, now func() time.Time) storagetest.API {
		return openPostgresTest(t, now)
	})
}

// openPostgresTest opens a new PostgreSQL database, closed at cleanup.
func openPostgresTest(t testing.TB, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), postgres.Database(t), Options{Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ? AND c IN (?, ?)", "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"},
		{`SELECT '?', "x?" FROM t WHERE a = ?`, `SELECT '?', "x?" FROM t WHERE a = $1`},
		{"SELECT 'it''s ?' WHERE a = ?", "SELECT 'it''s ?' WHERE a = $1"},
		{`WHERE LOWER(line) LIKE ? ESCAPE '\' AND x = ?`, `WHERE LOWER(line) LIKE $1 ESCAPE '\' AND x = $2`},
		{"SELECT ? -- a ? in a comment\n, ?", "SELECT $1 -- a ? in a comment\n, $2"},
		{"SELECT a - ? - -1", "SELECT a - $1 - -1"},
		{"SELECT 'open ?", "SELECT 'open ?"},
	}
	for _, tc := range tests {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := rebind(insertLogs(100)); strings.Count(got, "$") != 600 || !strings.HasSuffix(got, "$600)") {
		t.Errorf("rebind of a 100-line log INSERT ends %q", got[len(got)-30:])
	}
}

func TestRedacted(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dayops.db", "dayops.db"},
		{"postgres://dayops:s3cret@db:5432/dayops?sslmode=disable", "postgres://dayops:xxxxx@db:5432/dayops?sslmode=disable"},
		{"postgresql://u@db/d", "postgresql://u@db/d"},
		{"postgres://db/d?user=u&password=s3cret", "postgres://db/d?password=xxxxx&user=u"},
		{"postgres://u:s3cret@db:port/d", "postgres://(a URL that does not parse)"},
	}
	for _, tc := range tests {
		if got := Redacted(tc.in); got != tc.want {
			t.Errorf("Redacted(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestPostgresMigrationsMirrorSQLite keeps migrations/postgres the twin of
// migrations/: the same numbered files, and on a migrated database the same
// tables with the same columns in the same order.
func TestPostgresMigrationsMirrorSQLite(t *testing.T) {
	lite, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations(postgresMigrationFiles, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	names := func(ms []migration) (out []string) {
		for _, m := range ms {
			out = append(out, m.name)
		}
		return out
	}
	if diff := cmp.Diff(names(lite), names(pg)); diff != "" {
		t.Fatalf("every migration in storage/migrations needs its PostgreSQL twin of the same name in storage/migrations/postgres (-sqlite +postgres):\n%s", diff)
	}
	want := columns(t, openTest(t, nil), `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`)
	got := columns(t, openPostgresTest(t, nil), `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tables and columns differ between SQLite and PostgreSQL (-sqlite +postgres):\n%s", diff)
	}
	if len(want) < 100 {
		t.Errorf("SQLite shows only %d columns: the schema query is wrong", len(want))
	}
}

// columns lists "table.column" as query returns them.
func columns(t *testing.T, s *Store, query string) []string {
	t.Helper()
	rows, err := s.r.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		out = append(out, table+"."+col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPostgresOpenErrors: a malformed URL and an unreachable server are
// told apart, and neither message shows the password.
func TestPostgresOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Open(ctx, "postgres://dayops:s3cret@127.0.0.1:notaport/dayops", Options{})
	storagetest.WantKind(t, err, dayops.KindInvalid, "not a valid PostgreSQL URL", "postgres://USER:PASSWORD@HOST:PORT/DATABASE")
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
	port := closedPort(t)
	_, err = Open(ctx, fmt.Sprintf("postgresql://dayops:s3cret@127.0.0.1:%d/dayops?connect_timeout=5", port), Options{})
	storagetest.WantKind(t, err, dayops.KindUnavailable, "cannot reach PostgreSQL at postgresql://dayops:xxxxx@127.0.0.1:")
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}

// closedPort is a local port no one listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestPostgresFileOperations: backup and restore are SQLite's; on
// PostgreSQL they say what to use instead.
func TestPostgresFileOperations(t *testing.T) {
	s := openPostgresTest(t, nil)
	storagetest.WantKind(t, s.Backup(context.Background(), filepath.Join(t.TempDir(), "b.db")), dayops.KindInvalid, "SQLite files only", "pg_dump")
	_, err := Inspect(context.Background(), "postgres://u@h/d")
	storagetest.WantKind(t, err, dayops.KindInvalid, "SQLite files only", "pg_restore")
}

// TestPostgresReplicas: two stores on one database, as two replicas are,
// open (and migrate) at once and then race for the same facts: each lock,
// delivery and queue place is taken once.
func TestPostgresReplicas(t *testing.T) {
	url := postgres.Database(t)
	ctx := context.Background()
	stores := make([]*Store, 4)
	var g errgroup
	for i := range stores {
		g.Go(func() error {
			s, err := Open(ctx, url, Options{})
			stores[i] = s
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("opening four stores at once: %v", err)
	}
	for _, s := range stores {
		t.Cleanup(func() { s.Close() })
	}
	var n int
	if err := stores[0].r.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if ms, _ := stores[0].migrations(); n != len(ms) {
		t.Errorf("schema_migrations has %d rows after four concurrent opens, want %d", n, len(ms))
	}
	run := storagetest.MustCreate(t, stores[0], storagetest.NewRun("deploy-web", "prod", dayops.RunPending))
	const rounds = 20
	var locked, first, moved atomic.Int64
	for i := range rounds {
		for _, s := range stores {
			g.Go(func() error {
				err := s.LockEnvironment(ctx, dayops.EnvLock{Environment: fmt.Sprintf("env%d", i)}, dayops.AuditEvent{})
				if err == nil {
					locked.Add(1)
				} else if dayops.KindOf(err) != dayops.KindConflict {
					return err
				}
				ok, err := s.FirstDelivery(ctx, "slack", fmt.Sprintf("event-%d", i))
				if ok {
					first.Add(1)
				}
				return err
			})
		}
	}
	for _, s := range stores {
		g.Go(func() error {
			_, err := s.TransitionRun(ctx, run.ID, dayops.RunRunning, "", dayops.AuditEvent{})
			if err == nil {
				moved.Add(1)
			} else if dayops.KindOf(err) != dayops.KindConflict {
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if locked.Load() != rounds || first.Load() != rounds || moved.Load() != 1 {
		t.Errorf("locks taken %d, first deliveries %d, runs started %d; want %d, %d, 1", locked.Load(), first.Load(), moved.Load(), rounds, rounds)
	}
}

// errgroup runs functions and keeps the first error.
type errgroup struct {
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func (g *errgroup) Go(fn func() error) {
	g.wg.Go(func() {
		if err := fn(); err != nil {
			g.once.Do(func() { g.err = err })
		}
	})
}

func (g *errgroup) Wait() error {
	g.wg.Wait()
	err := g.err
	g.err, g.once = nil, sync.Once{}
	return err
}
