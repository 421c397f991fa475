package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/dayops/dayops/storage"
)

// runDB runs the database verbs: today db copy.
func runDB(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("db")
	if len(args) == 0 || args[0] != "copy" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			printVerbHelp(io.Stdout, v, nil)
			return exitOK
		}
		fmt.Fprintf(io.Stderr, "dayops db: say what to do: dayops db %s\n", v.usage)
		return exitUsage
	}
	fs := newFlags("db copy")
	from := fs.String("from", "", "the database to copy: a SQLite `path` or postgres:// URL")
	to := fs.String("to", "", "the new, empty database to copy into: a SQLite `path` or postgres:// URL")
	if _, code, ok := parseArgs(io, v, fs, args[1:], 0, 0); !ok {
		return code
	}
	if *from == "" || *to == "" {
		fmt.Fprintf(io.Stderr, "dayops db copy: give both --from and --to\nusage: dayops db %s\n", v.usage)
		return exitUsage
	}
	if !databaseExists(*from) {
		fmt.Fprintf(io.Stderr, "dayops db copy: no database at %s\n", *from)
		return exitFail
	}
	src, ok := openStore(ctx, io, *from)
	if !ok {
		return exitFail
	}
	defer src.Close()
	dst, ok := openStore(ctx, io, *to)
	if !ok {
		return exitFail
	}
	defer dst.Close()
	fmt.Fprintf(io.Stdout, "copying %s into %s\n", storage.Redacted(*from), storage.Redacted(*to))
	start := time.Now()
	counts, err := storage.Copy(ctx, src, dst, func(table string, n int64) {
		fmt.Fprintf(io.Stdout, "  %-20s %d rows\n", table, n)
	})
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops db copy: %v\n", err)
		return exitFail
	}
	if !printCounts(io.Stdout, counts) {
		fmt.Fprintf(io.Stderr, "dayops db copy: the row counts of %s and %s differ (marked above): do not use the copy\n",
			storage.Redacted(*from), storage.Redacted(*to))
		return exitFail
	}
	fmt.Fprintf(io.Stdout, "copied in %s: every table's row count matches\n", time.Since(start).Round(time.Millisecond))
	return exitOK
}

// printCounts prints each table's rows in the source and the copy, marking
// a difference, and reports whether all agree.
func printCounts(w io.Writer, counts []storage.TableCount) bool {
	fmt.Fprintf(w, "%-20s %10s %10s\n", "table", "source", "copy")
	same := true
	var total int64
	for _, c := range counts {
		mark := ""
		if c.Source != c.Target {
			mark, same = "  DIFFERS", false
		}
		total += c.Target
		fmt.Fprintf(w, "%-20s %10d %10d%s\n", c.Table, c.Source, c.Target, mark)
	}
	fmt.Fprintf(w, "%-20s %10s %10d\n", fmt.Sprintf("%d tables", len(counts)), "", total)
	return same
}
