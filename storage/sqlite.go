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
func openSQLite(ctx context.Context, path string) (w, r *sql.DB, err error) {
	if strings.ContainsAny(path, "?#") {
		return nil, nil, dayops.Errorf(dayops.KindInvalid, "database path %q contains ? or #: choose a plain file path", path)
	}
	w, err = sql.Open(driverName, path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// The writer connects first so that the file and its WAL mode exist
	// before any reader opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	r, err = sql.Open(driverName, path+"?"+pragmas)
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	return w, r, nil
}

// sqliteCode returns the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUniqueViolation reports a primary key or unique constraint failure.
func isUniqueViolation(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKeyViolation reports a reference to a missing row.
func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// Backup writes a consistent copy of the database to path with VACUUM INTO,
// while the store stays in use. It refuses a path that exists: a backup never
// overwrites anything.
func (s *Store) Backup(ctx context.Context, path string) error {
	if path == "" {
		return dayops.Errorf(dayops.KindInvalid, "no backup path given")
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
	return nil
}
