package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
)

func openStore(ctx context.Context, io IO, path string) (*storage.Store, bool) {
	st, err := storage.Open(ctx, path, storage.Options{})
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops: opening database %s: %v\n", storage.Redacted(path), err)
		return nil, false
	}
	return st, true
}

func runHistory(ctx context.Context, io IO, args []string) int {
	io = safeOutput(io) // step output, reasons and names are shown, not obeyed
	v, _ := findVerb("history")
	fs := newFlags(v.name)
	db := databaseFlag(fs, io)
	limit := fs.Int("limit", 20, "how many runs to show")
	pos, code, ok := parseArgs(io, v, fs, args, 0, 2)
	if !ok {
		return code
	}
	if !databaseExists(*db) {
		fmt.Fprintf(io.Stderr, "dayops history: no database at %s (set --database or DAYOPS_DATABASE)\n", *db)
		return exitFail
	}
	st, ok := openStore(ctx, io, *db)
	if !ok {
		return exitFail
	}
	defer st.Close()
	f := dayops.RunFilter{Limit: *limit}
	if len(pos) > 0 {
		f.Definition = pos[0]
	}
	if len(pos) > 1 {
		f.Environment = pos[1]
	}
	runs, err := st.Runs(ctx, f)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops history: %v\n", err)
		return exitFail
	}
	if len(runs) == 0 {
		fmt.Fprintln(io.Stdout, "no runs yet")
		return exitOK
	}
	for _, r := range runs {
		fmt.Fprintln(io.Stdout, historyLine(r, time.Now()))
	}
	return exitOK
}

// historyLine is one run as `history` lists it.
func historyLine(r *dayops.Run, now time.Time) string {
	target := r.Definition
	if r.Environment != "" {
		target += " " + r.Environment
	}
	when := r.CreatedAt.Local().Format("2006-01-02 15:04:05")
	dur := ""
	if d := r.Duration(now); d > 0 {
		dur = " " + d.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("#%-4d %-19s %-11s %-28s by %s @ %s%s", r.ID, when, r.State, target, r.Actor, dayops.ShortRevision(r.Revision), dur) + ownerNote(r, now)
}

func runLogs(ctx context.Context, io IO, args []string) int {
	io = safeOutput(io) // step output, reasons and names are shown, not obeyed
	v, _ := findVerb("logs")
	fs := newFlags(v.name)
	db := databaseFlag(fs, io)
	pos, code, ok := parseArgs(io, v, fs, args, 1, 1)
	if !ok {
		return code
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
	if err != nil || id <= 0 {
		fmt.Fprintf(io.Stderr, "dayops logs: %q is not a run number (e.g. 42)\n", pos[0])
		return exitUsage
	}
	if !databaseExists(*db) {
		fmt.Fprintf(io.Stderr, "dayops logs: no database at %s (set --database or DAYOPS_DATABASE)\n", *db)
		return exitFail
	}
	st, ok := openStore(ctx, io, *db)
	if !ok {
		return exitFail
	}
	defer st.Close()
	run, err := st.Run(ctx, id)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops logs: %s\n", dayops.UserMessage(err, ""))
		return exitFail
	}
	lines, err := st.Logs(ctx, id, 0, 0)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops logs: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(io.Stdout, historyLine(run, time.Now()))
	if run.Reason != "" {
		fmt.Fprintf(io.Stdout, "      %s\n", run.Reason)
	}
	names := map[int]string{}
	for _, s := range run.Steps {
		names[s.Index] = s.Name
		fmt.Fprintf(io.Stdout, "  %-10s %s%s\n", s.State, s.Name, s.Details())
	}
	fmt.Fprintln(io.Stdout)
	for _, l := range lines {
		fmt.Fprintf(io.Stdout, "%s %-20s %s %s\n", l.Time.Local().Format("15:04:05.000"), dayops.Truncate(names[l.Step], 20), streamMark(l.Stream), l.Text)
	}
	return exitOK
}

func streamMark(s dayops.Stream) string {
	switch s {
	case dayops.Stderr:
		return "!"
	case dayops.System:
		return "*"
	}
	return "|"
}

func runBackup(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("backup")
	fs := newFlags(v.name)
	db := databaseFlag(fs, io)
	pos, code, ok := parseArgs(io, v, fs, args, 1, 1)
	if !ok {
		return code
	}
	if !databaseExists(*db) {
		fmt.Fprintf(io.Stderr, "dayops backup: no database at %s (set --database or DAYOPS_DATABASE)\n", *db)
		return exitFail
	}
	st, ok := openStore(ctx, io, *db)
	if !ok {
		return exitFail
	}
	defer st.Close()
	start := time.Now()
	if err := st.Backup(ctx, pos[0]); err != nil {
		fmt.Fprintf(io.Stderr, "dayops backup: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(io.Stdout, "backed up %s to %s in %s\n", storage.Redacted(*db), pos[0], time.Since(start).Round(time.Millisecond))
	return exitOK
}

func runRestore(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("restore")
	fs := newFlags(v.name)
	db := databaseFlag(fs, io)
	force := fs.Bool("force", false, "replace an existing database (the server must be stopped)")
	pos, code, ok := parseArgs(io, v, fs, args, 1, 1)
	if !ok {
		return code
	}
	if err := restore(ctx, pos[0], *db, *force); err != nil {
		fmt.Fprintf(io.Stderr, "dayops restore: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(io.Stdout, "restored %s into %s\n", pos[0], storage.Redacted(*db))
	return exitOK
}

// restore checks the backup read-only (it is never changed), copies it next
// to the target and renames it into place, so a crash leaves either the old
// database or the new one, never half of one; then it opens the result, which
// migrates a backup made by an older dayops. Stale WAL files of the old
// database are removed first: they belong to the old content. It refuses
// while any process has the target open (a server, the demo, a run still
// going), whose later records would otherwise go to the replaced file and be
// lost, and no process can open it until the new one is in place.
func restore(ctx context.Context, backup, target string, force bool) error {
	if storage.IsPostgres(target) {
		return dayops.Errorf(dayops.KindInvalid, "restore replaces a SQLite file: for a PostgreSQL database use pg_restore (or dayops db copy --from BACKUP --to an empty database)")
	}
	if fileExists(target) && !force {
		return dayops.Errorf(dayops.KindConflict, "%s exists: stop the server and pass --force to replace it", target)
	}
	if _, err := storage.Inspect(ctx, backup); err != nil {
		return err
	}
	if err := replaceDatabase(backup, target); err != nil {
		return err
	}
	st, err := storage.Open(ctx, target, storage.Options{})
	if err != nil {
		return err
	}
	return st.Close()
}

// replaceDatabase puts a copy of backup in place of target, holding target
// exclusively meanwhile.
func replaceDatabase(backup, target string) (err error) {
	release, err := storage.Exclusive(target)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, release()) }()
	in, err := os.Open(backup)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(target), ".restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(target + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Rename(tmp.Name(), target)
}

// databaseExists reports whether the database is there to read: a SQLite
// file that exists, or any PostgreSQL URL (opening it tells the rest).
func databaseExists(db string) bool {
	return storage.IsPostgres(db) || fileExists(db)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
