package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the driver storage uses, for the baseline
)

// plainPragmas are storage's connection settings (storage/sqlite.go): the
// baseline runs with the same durability and locking.
const plainPragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

// plainSchema is storage's log_lines table (migrations/0001_init.sql) with
// its key, foreign key and index, and a runs table for the reference.
const plainSchema = `
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, definition TEXT NOT NULL);
CREATE TABLE log_lines (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    step   INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    stream TEXT    NOT NULL,
    line   TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX log_lines_at ON log_lines (at);`

// plainDB is the baseline of log ingestion: a plain database/sql insert loop
// on its own SQLite file.
type plainDB struct{ db *sql.DB }

// openPlain creates the baseline database at path.
func openPlain(ctx context.Context, path string) (*plainDB, error) {
	db, err := sql.Open("sqlite", path+"?"+plainPragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if _, err := db.ExecContext(ctx, plainSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the baseline schema: %w", err)
	}
	return &plainDB{db: db}, nil
}

func (p *plainDB) close() error { return p.db.Close() }

// insert stores texts as the lines of a new run: one transaction and one
// prepared single-row INSERT per batch of rows. It returns the time taken.
func (p *plainDB) insert(ctx context.Context, texts []string, batch int) (float64, error) {
	res, err := p.db.ExecContext(ctx, "INSERT INTO runs (definition) VALUES ('plain')")
	if err != nil {
		return 0, err
	}
	runID, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	at := time.Now().UnixNano()
	return timed(func() error {
		for start := 0; start < len(texts); start += batch {
			tx, err := p.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			stmt, err := tx.PrepareContext(ctx, "INSERT INTO log_lines (run_id, seq, step, at, stream, line) VALUES (?, ?, ?, ?, ?, ?)")
			if err != nil {
				tx.Rollback()
				return err
			}
			for i, t := range texts[start:min(start+batch, len(texts))] {
				if _, err := stmt.ExecContext(ctx, runID, start+i+1, 0, at, "stdout", t); err != nil {
					stmt.Close()
					tx.Rollback()
					return err
				}
			}
			stmt.Close()
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		return nil
	})
}

// openCounter opens a second connection to the store's database, only to
// count what the executor stored without loading every line.
func openCounter(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return db, nil
}
