package storage

// This is the SQLite driver file: everything specific to SQLite and to
// modernc.org/sqlite outside the migrations lives here. The rest of the
// package is portable SQL.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/dayops/dayops"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// driverName is the database/sql name modernc.org/sqlite registers.
const driverName = "sqlite"

// pragmas are set on every connection. busy_timeout makes a writer of another
// process wait for the lock instead of failing; WAL lets readers run beside
// the writer; NORMAL is durable enough in WAL mode (a power cut may lose the
// last commits, never corrupt the file).
const pragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

// readConns bounds the reader pool.
const readConns = 4

// openSQLite opens the two pools on path: one writer connection whose
// transactions begin IMMEDIATE (they take the write lock at BEGIN, so two
// writers queue on busy_timeout rather than deadlock when both upgrade a read
// lock), and a pool of readers whose read-only transactions are deferred.
// The file is held as in use (holdShared) until release is called, after the
// pools are closed.
func openSQLite(ctx context.Context, path string) (w, r *sql.DB, release func() error, err error) {
	if strings.ContainsAny(path, "?#") {
		return nil, nil, nil, dayops.Errorf(dayops.KindInvalid, "database path %q contains ? or #: choose a plain file path", path)
	}
	if release, err = holdShared(ctx, path); err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	w, err = sql.Open(driverName, path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// The writer connects first so that the file and its WAL mode exist
	// before any reader opens it.
	if err = w.PingContext(ctx); err != nil {
		w.Close()
		return nil, nil, nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	r, err = sql.Open(driverName, path+"?"+pragmas)
	if err != nil {
		w.Close()
		return nil, nil, nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	return w, r, release, nil
}

// sqliteCode returns the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUniqueViolation reports a primary key or unique constraint failure, of
// SQLite or PostgreSQL (SQLSTATE 23505).
func isUniqueViolation(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || pgCode(err) == "23505"
}

// isForeignKeyViolation reports a reference to a missing row, of SQLite or
// PostgreSQL (SQLSTATE 23503).
func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY || pgCode(err) == "23503"
}

// Backup writes a consistent copy of the database to path with VACUUM INTO,
// while the store stays in use. It refuses a path that exists: a backup never
// overwrites anything.
func (s *Store) Backup(ctx context.Context, path string) error {
	if path == "" {
		return dayops.Errorf(dayops.KindInvalid, "no backup path given")
	}
	if s.pg {
		return noFileOnPostgres("backup", "pg_dump")
	}
	// VACUUM INTO reads SQLite URI file names: "file:x?mode=memory" would
	// "succeed" and write nothing.
	if strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?#") {
		return dayops.Errorf(dayops.KindInvalid, "backup path %q must be a plain file path (no file: prefix, ? or #)", path)
	}
	if _, err := os.Lstat(path); err == nil {
		return dayops.Errorf(dayops.KindConflict, "backup target %s already exists: choose a new path or remove it first", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checking backup target %s: %w", path, err)
	}
	// A reader runs it: VACUUM INTO reads one snapshot and writes only the
	// new file, so writers go on meanwhile.
	if _, err := s.r.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("backing up %s to %s: %w", s.path, path, err)
	}
	if _, err := Inspect(ctx, path); err != nil {
		return fmt.Errorf("checking the backup %s: %w", path, err)
	}
	return nil
}

// size is the database's size on disk: its pages and its write-ahead log.
func (s *Store) size(ctx context.Context) (int64, error) {
	if s.pg {
		return s.postgresSize(ctx)
	}
	var pages int64
	if err := s.r.QueryRowContext(ctx, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").Scan(&pages); err != nil {
		return 0, err
	}
	wal, err := os.Stat(s.path + "-wal")
	if err != nil {
		return pages, nil // no log yet, or checkpointed away
	}
	return pages + wal.Size(), nil
}

// Inspect opens the database at path read-only, changing nothing (no
// migration, no WAL switch), and returns its schema version. It refuses a
// file that is not a dayops database or is newer than this binary: restore
// uses it before copying a backup into place.
func Inspect(ctx context.Context, path string) (int, error) {
	if IsPostgres(path) {
		return 0, noFileOnPostgres("restore", "pg_restore")
	}
	if strings.HasPrefix(path, "file:") || strings.ContainsAny(path, "?#") {
		return 0, dayops.Errorf(dayops.KindInvalid, "path %q must be a plain file path (no file: prefix, ? or #)", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, dayops.Errorf(dayops.KindNotFound, "no database file at %s", path)
	}
	if st.Size() == 0 {
		return 0, dayops.Errorf(dayops.KindInvalid, "%s is empty, not a dayops database", path)
	}
	db, err := sql.Open(driverName, "file:"+path+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return 0, fmt.Errorf("opening %s read-only: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var version int
	err = db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&version)
	if err != nil || version == 0 {
		return 0, dayops.Errorf(dayops.KindInvalid, "%s is not a dayops database (no schema version): %v", path, err)
	}
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return 0, err
	}
	if err := checkVersion(path, version, len(ms)); err != nil {
		return 0, err
	}
	var ok string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&ok); err != nil || ok != "ok" {
		return 0, dayops.Errorf(dayops.KindInvalid, "%s fails SQLite's integrity check: %s %v", path, ok, err)
	}
	return version, nil
}

// Placeholder binding is the driver's business: SQLite takes "?" for every
// parameter, as the queries of this package are written. PostgreSQL's
// connections rebind them to $1, $2… (postgres.go); nothing else in the
// package's SQL is SQLite's own.

// placeholders returns the driver's placeholders for n values: "?, ?, ?".
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// sqliteTables lists the tables of a SQLite database and, for each, the
// tables its foreign keys refer to.
func sqliteTables(ctx context.Context, q queryer) ([]string, map[string][]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.name, COALESCE(f."table", '') FROM sqlite_master m
		LEFT JOIN pragma_foreign_key_list(m.name) f
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name`)
	if err != nil {
		return nil, nil, err
	}
	return tableRefs(rows)
}
