package storage

// This is the PostgreSQL driver file: everything specific to PostgreSQL and
// to github.com/jackc/pgx/v5 outside migrations/postgres lives here. The
// queries of the package are shared with SQLite: a thin wrapper around pgx's
// database/sql driver rebinds their "?" placeholders to $1, $2…, so a method
// added to the package works on both databases without a second copy.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresMigrationFiles are PostgreSQL's twins of migrations/*.sql: the
// same numbers, names, tables and columns in PostgreSQL's dialect.
//
//go:embed migrations/postgres/*.sql
var postgresMigrationFiles embed.FS

// postgresWriteLock is the key of the transaction-level advisory lock every
// write transaction takes first. Writers of all replicas thus queue as
// SQLite's BEGIN IMMEDIATE makes the writers of one file queue, and every
// read-then-write in the package stays as safe as it is on SQLite.
const postgresWriteLock = 0x6461796f7073 // "dayops"

// postgresConns bounds each of the two pools of one process.
const postgresConns = 4

// IsPostgres reports whether database names a PostgreSQL database
// (postgres://… or postgresql://…) rather than a SQLite file.
func IsPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// Redacted is database as it may be shown: a PostgreSQL URL with its
// password masked, a SQLite path as it is.
func Redacted(database string) string {
	if !IsPostgres(database) {
		return database
	}
	u, err := url.Parse(database)
	if err != nil {
		return "postgres://(a URL that does not parse)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// openPostgres opens the writer and reader pools on the database dsn names.
func openPostgres(ctx context.Context, dsn string) (w, r *sql.DB, cfg *pgx.ConnConfig, err error) {
	cfg, err = pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the URL, password and all.
		return nil, nil, nil, dayops.Errorf(dayops.KindInvalid,
			"database %s is not a valid PostgreSQL URL: write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable",
			Redacted(dsn))
	}
	open := func(conns int) *sql.DB {
		db := sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)})
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		return db
	}
	// One writer connection: writes queue on the advisory lock anyway, and
	// a queue in the pool costs no server connection.
	w, r = open(1), open(postgresConns)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, nil, nil, dayops.Errorf(dayops.KindUnavailable, "cannot reach PostgreSQL at %s: %s", Redacted(dsn), pgMessage(err))
	}
	return w, r, cfg, nil
}

// pgMessage is err's text without anything that could carry the password.
func pgMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// pgConnector hands out connections that rebind placeholders.
type pgConnector struct{ driver.Connector }

// Connect opens one connection.
func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return pgConn{conn.(*stdlib.Conn)}, nil
}

// pgConn is pgx's connection with every query rebound; the methods it does
// not override (transactions, ping, session reset, value checks) are pgx's.
type pgConn struct{ *stdlib.Conn }

func (c pgConn) Prepare(query string) (driver.Stmt, error) { return c.Conn.Prepare(rebind(query)) }

func (c pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), args)
}

func (c pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), args)
}

// rebind turns the "?" placeholders of query into $1, $2…, leaving alone
// those inside quoted strings or names and -- comments.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		switch c := query[i]; {
		case c == '\'' || c == '"':
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end])
			i += end - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// noFileOnPostgres is the answer of the file-only operations (backup,
// restore, inspect) for a PostgreSQL database.
func noFileOnPostgres(op, tool string) error {
	return dayops.Errorf(dayops.KindInvalid,
		"%s works on SQLite files only: for a PostgreSQL database use %s (or your provider's snapshots)", op, tool)
}

// resetSequences moves the identity sequence of every table past the IDs
// stored in it, after rows were inserted with their IDs given (db copy).
func resetSequences(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name`)
	if err != nil {
		return err
	}
	var cols [][2]string
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, [2]string{t, c})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, tc := range cols {
		t, c := quoteName(tc[0]), quoteName(tc[1])
		// setval(…, MAX, true) makes MAX+1 the next ID; an empty table keeps 1.
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), MAX(%s)) FROM %s HAVING MAX(%s) IS NOT NULL`,
			strings.ReplaceAll(tc[0], "'", "''"), strings.ReplaceAll(tc[1], "'", "''"), c, t, c)
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("moving the ID sequence of %s past its rows: %w", tc[0], err)
		}
	}
	return nil
}

// quoteName quotes an SQL identifier, as both databases read it.
func quoteName(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// postgresTables lists the tables of the current schema and, for each, the
// tables its foreign keys refer to.
func postgresTables(ctx context.Context, q queryer) ([]string, map[string][]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT t.table_name, COALESCE(r.ref, '') FROM information_schema.tables t
		LEFT JOIN (SELECT tc.table_name AS name, ccu.table_name AS ref
			FROM information_schema.table_constraints tc
			JOIN information_schema.constraint_column_usage ccu
				ON ccu.constraint_name = tc.constraint_name AND ccu.constraint_schema = tc.constraint_schema
			WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()) r ON r.name = t.table_name
		WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' ORDER BY t.table_name`)
	if err != nil {
		return nil, nil, err
	}
	return tableRefs(rows)
}

// postgresSize is the PostgreSQL database's size on disk, as the server
// counts it (tables, indexes and TOAST of every schema).
func (s *Store) postgresSize(ctx context.Context) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, "SELECT pg_database_size(current_database())").Scan(&n)
	return n, err
}
