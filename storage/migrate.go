package storage

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema change, migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations in version order. Versions
// must be 1, 2, 3… without gaps, so that a missing file is a build error
// caught by the tests rather than a silently skipped change.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return out, nil
}

// migrate brings the schema up to date, one migration per transaction. The
// write transaction begins IMMEDIATE, so two processes opening a new file at
// once apply each migration exactly once: the second sees it recorded.
//
// On PostgreSQL the migrations are those of migrations/postgres, and the
// advisory lock every write transaction takes does what IMMEDIATE does.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return fmt.Errorf("loading migrations: %w", err)
	}
	// BIGINT is INTEGER to SQLite, and holds nanoseconds on PostgreSQL.
	if err := s.write(ctx, "creating schema_migrations in "+s.path, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL)`)
		return err
	}); err != nil {
		return err
	}
	current, err := schemaVersion(ctx, s.w)
	if err != nil {
		return err
	}
	if err := checkVersion(s.path, current, len(ms)); err != nil || current == len(ms) {
		return err
	}
	for _, m := range ms {
		applied := false
		err := s.write(ctx, "applying migration "+m.name, func(tx *sql.Tx) error {
			current, err := schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if err := checkVersion(s.path, current, len(ms)); err != nil || current >= m.version {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, s.now().UnixNano()); err != nil {
				return err
			}
			applied = true
			return nil
		})
		if err != nil {
			return err
		}
		if applied {
			s.logger.Info("migration applied", "database", s.path, "version", m.version, "name", m.name)
		}
	}
	return nil
}

// migrations are the store's own: SQLite's or PostgreSQL's.
func (s *Store) migrations() ([]migration, error) {
	if s.pg {
		return loadMigrations(postgresMigrationFiles, "migrations/postgres")
	}
	return loadMigrations(migrationFiles, "migrations")
}

// checkVersion refuses a database written by a newer dayops: this binary
// would not know its tables.
func checkVersion(path string, current, known int) error {
	if current > known {
		return dayops.Errorf(dayops.KindInvalid,
			"database %s has schema version %d, but this dayops knows only versions up to %d: run a newer dayops, or restore a backup made by this version",
			path, current, known)
	}
	return nil
}

// schemaVersion is the highest applied migration, 0 for a new database.
func schemaVersion(ctx context.Context, q queryer) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return int(v.Int64), nil
}
