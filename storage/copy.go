package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/dayops/dayops"
)

// TableCount is one table of a copy: the rows the source had and the rows
// the target has after it.
type TableCount struct {
	Table  string
	Source int64
	Target int64
}

// copyParams bounds the parameters of one INSERT of a copy (SQLite allows
// 32766, PostgreSQL 65535), copyRows its rows.
const (
	copyParams = 30000
	copyRows   = 500
)

// Copy copies every table of from into to, which must be empty (KindConflict
// otherwise), with the same schema version: rows keep their IDs, and
// PostgreSQL's ID sequences are moved past them. The source is read in one
// snapshot and the target written in one transaction, in batches, so a
// failed copy leaves the target empty. done is called after each table. It
// returns the rows of each table in the source snapshot and in the target
// afterwards; the caller compares them.
func Copy(ctx context.Context, from, to *Store, done func(table string, rows int64)) ([]TableCount, error) {
	if from.path == to.path && from.pg == to.pg {
		return nil, dayops.Errorf(dayops.KindInvalid, "cannot copy %s into itself: give another target", to.path)
	}
	var counts []TableCount
	err := from.read(ctx, "copying "+from.path, func(src *sql.Tx) error {
		tables, err := copyOrder(ctx, from, src)
		if err != nil {
			return err
		}
		if err := sameSchema(ctx, from, src, to, tables); err != nil {
			return err
		}
		err = to.write(ctx, "copying into "+to.path, func(dst *sql.Tx) error {
			if err := mustBeEmpty(ctx, to, dst, tables); err != nil {
				return err
			}
			for _, t := range tables {
				n, err := copyTable(ctx, src, dst, t)
				if err != nil {
					return fmt.Errorf("copying table %s: %w", t, err)
				}
				counts = append(counts, TableCount{Table: t, Source: n})
				if done != nil {
					done(t, n)
				}
			}
			if to.pg {
				return resetSequences(ctx, dst)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, c := range counts {
			if err := src.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteName(c.Table)).Scan(&counts[i].Source); err != nil {
				return fmt.Errorf("counting %s in %s: %w", c.Table, from.path, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range counts {
		if err := to.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteName(c.Table)).Scan(&counts[i].Target); err != nil {
			return nil, fmt.Errorf("counting %s in %s: %w", c.Table, to.path, err)
		}
	}
	return counts, nil
}

// copyOrder lists the tables of s (but schema_migrations, which each
// database keeps for itself), every table after those it refers to, so
// that foreign keys hold at each INSERT.
func copyOrder(ctx context.Context, s *Store, q queryer) ([]string, error) {
	var tables []string
	var refs map[string][]string
	var err error
	if s.pg {
		tables, refs, err = postgresTables(ctx, q)
	} else {
		tables, refs, err = sqliteTables(ctx, q)
	}
	if err != nil {
		return nil, fmt.Errorf("listing the tables of %s: %w", s.path, err)
	}
	tables = slices.DeleteFunc(tables, func(t string) bool { return t == "schema_migrations" })
	slices.Sort(tables)
	var out []string
	placed := map[string]bool{}
	var place func(t string, path []string) error
	place = func(t string, path []string) error {
		if placed[t] {
			return nil
		}
		if slices.Contains(path, t) {
			return fmt.Errorf("tables %s refer to each other in a cycle", strings.Join(append(path, t), " -> "))
		}
		for _, r := range refs[t] {
			if r != t {
				if err := place(r, append(path, t)); err != nil {
					return err
				}
			}
		}
		placed[t] = true
		out = append(out, t)
		return nil
	}
	for _, t := range tables {
		if err := place(t, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sameSchema refuses a target whose schema version or tables differ from
// the source's.
func sameSchema(ctx context.Context, from *Store, src *sql.Tx, to *Store, tables []string) error {
	vFrom, err := schemaVersion(ctx, src)
	if err != nil {
		return err
	}
	vTo, err := schemaVersion(ctx, to.r)
	if err != nil {
		return err
	}
	if vFrom != vTo {
		return dayops.Errorf(dayops.KindInvalid, "%s has schema version %d but %s has %d: open both with the same dayops",
			from.path, vFrom, to.path, vTo)
	}
	toTables, err := copyOrder(ctx, to, to.r)
	if err != nil {
		return err
	}
	a, b := slices.Sorted(slices.Values(tables)), slices.Sorted(slices.Values(toTables))
	if !slices.Equal(a, b) {
		return dayops.Errorf(dayops.KindInvalid, "%s has the tables %s but %s has %s: they are not the same dayops schema",
			from.path, strings.Join(a, ", "), to.path, strings.Join(b, ", "))
	}
	return nil
}

// mustBeEmpty refuses a target that holds any row: a copy never merges.
func mustBeEmpty(ctx context.Context, s *Store, q queryer, tables []string) error {
	for _, t := range tables {
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteName(t)).Scan(&n); err != nil {
			return fmt.Errorf("counting %s in %s: %w", t, s.path, err)
		}
		if n > 0 {
			return dayops.Errorf(dayops.KindConflict, "%s is not empty (table %s has %d rows): copy into a new, empty database", s.path, t, n)
		}
	}
	return nil
}

// copyTable copies the rows of table t from src to dst, in the order of
// its first column (IDs: a run comes after the run it rolls back), and
// returns how many it copied.
func copyTable(ctx context.Context, src, dst *sql.Tx, t string) (int64, error) {
	rows, err := src.QueryContext(ctx, "SELECT * FROM "+quoteName(t)+" ORDER BY 1")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteName(c)
	}
	kinds, err := columnKinds(ctx, dst, t, quoted)
	if err != nil {
		return 0, err
	}
	per := max(1, min(copyRows, copyParams/len(cols)))
	head := "INSERT INTO " + quoteName(t) + " (" + strings.Join(quoted, ", ") + ") VALUES "
	tuple := "(" + placeholders(len(cols)) + ")"
	batch := make([]any, 0, per*len(cols))
	var n int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		k := len(batch) / len(cols)
		q := head + strings.TrimSuffix(strings.Repeat(tuple+", ", k), ", ")
		if _, err := dst.ExecContext(ctx, q, batch...); err != nil {
			return err
		}
		n += int64(k)
		batch = batch[:0]
		return nil
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, err
		}
		for i, v := range vals {
			batch = append(batch, convertValue(v, kinds[i]))
		}
		if len(batch) == per*len(cols) {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return n, flush()
}

// columnKinds are the target's types of cols of t, as its driver names
// them (BOOL, BYTEA, INT8 on PostgreSQL; INTEGER, TEXT, BLOB on SQLite).
func columnKinds(ctx context.Context, dst *sql.Tx, t string, cols []string) ([]string, error) {
	rows, err := dst.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+quoteName(t)+" WHERE 1 = 0")
	if err != nil {
		return nil, fmt.Errorf("the target's table %s does not have the source's columns: %w", t, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(types))
	for i, ct := range types {
		out[i] = strings.ToUpper(ct.DatabaseTypeName())
	}
	return out, rows.Err()
}

// convertValue turns a value read from one database into what the other's
// column of kind takes: SQLite keeps flags as 0/1 and may return a BLOB as
// TEXT; PostgreSQL wants BOOLEAN and BYTEA.
func convertValue(v any, kind string) any {
	switch kind {
	case "BOOL", "BOOLEAN":
		if i, ok := v.(int64); ok {
			return i != 0
		}
	case "BYTEA":
		if s, ok := v.(string); ok {
			return []byte(s)
		}
	}
	return v
}

// tableRefs reads (table, referred table or "") rows.
func tableRefs(rows *sql.Rows) ([]string, map[string][]string, error) {
	defer rows.Close()
	var tables []string
	refs := map[string][]string{}
	for rows.Next() {
		var t, ref string
		if err := rows.Scan(&t, &ref); err != nil {
			return nil, nil, err
		}
		if !slices.Contains(tables, t) {
			tables = append(tables, t)
		}
		if ref != "" && !slices.Contains(refs[t], ref) {
			refs[t] = append(refs[t], ref)
		}
	}
	return tables, refs, rows.Err()
}
