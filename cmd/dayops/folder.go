package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/gitsync"
)

// folderSource serves a plain folder of definitions (dayops plan/run --dir):
// its revision is a content hash, and runs work in the folder itself.
type folderSource struct {
	dir     string
	skip    []string // files that are not part of the tree (a database kept in it)
	catalog *dayops.Catalog
}

// loadFolder loads dir, printing every problem to stderr. ok is false when
// the folder is invalid. database, when it lies inside dir, is left out of
// the folder's content hash with its -wal, -shm, -journal and -lock files: a run
// writes to it, and that must not count as a change of the definitions.
func loadFolder(io IO, dir, database string) (*folderSource, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops: %v\n", err)
		return nil, false
	}
	var skip []string
	if database != "" {
		if db, err := filepath.Abs(database); err == nil {
			if rel, err := filepath.Rel(abs, db); err == nil && filepath.IsLocal(rel) {
				for _, suffix := range []string{"", "-wal", "-shm", "-journal", "-lock"} {
					skip = append(skip, filepath.ToSlash(rel)+suffix)
				}
			}
		}
	}
	cat, problems, err := gitsync.LoadDir(abs, skip...)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops: %v\n", err)
		return nil, false
	}
	if len(problems) > 0 {
		for _, p := range problems {
			p.File = filepath.Join(dir, p.File)
			fmt.Fprintln(io.Stderr, p.String())
		}
		fmt.Fprintf(io.Stderr, "dayops: %s has %d problem(s); fix them and try again\n", dir, len(problems))
		return nil, false
	}
	return &folderSource{dir: abs, skip: skip, catalog: cat}, true
}

// Catalog returns the folder's catalog.
func (f *folderSource) Catalog() *dayops.Catalog { return f.catalog }

// DefinitionAt knows only the folder's current revision.
func (f *folderSource) DefinitionAt(ctx context.Context, revision, name string) (*dayops.Definition, error) {
	if revision != f.catalog.Revision() {
		return nil, dayops.Errorf(dayops.KindNotFound, "revision %s is not available in a plain folder", dayops.ShortRevision(revision))
	}
	return f.catalog.Get(name)
}

// Checkout returns the folder itself: a plain folder has only one revision,
// and it is refused when the content changed since it was loaded.
func (f *folderSource) Checkout(ctx context.Context, revision string) (string, func(), error) {
	if revision != f.catalog.Revision() {
		return "", nil, dayops.Errorf(dayops.KindConflict, "the folder %s changed since the run was planned (%s)", f.dir, dayops.ShortRevision(revision))
	}
	sum, err := gitsync.ContentHash(os.DirFS(f.dir), f.skip...)
	if err != nil {
		return "", nil, fmt.Errorf("hashing %s: %w", f.dir, err)
	}
	if "sha256:"+sum != revision {
		return "", nil, dayops.Errorf(dayops.KindConflict, "the folder %s changed since the run was planned; run again", f.dir)
	}
	return f.dir, func() {}, nil
}

// Sync reloads the folder (the chat `sync` verb in a folder-backed setup).
func (f *folderSource) Sync(ctx context.Context) (dayops.SyncRecord, error) {
	cat, problems, err := gitsync.LoadDir(f.dir, f.skip...)
	if err != nil {
		return dayops.SyncRecord{Outcome: dayops.SyncFailed, Errors: []string{err.Error()}}, err
	}
	rec := dayops.SyncRecord{Revision: f.catalog.Revision(), Serving: f.catalog.Revision(), Outcome: dayops.SyncUnchanged, Definitions: f.catalog.Len()}
	if len(problems) > 0 {
		rec.Outcome = dayops.SyncInvalid
		for _, p := range problems {
			rec.Errors = append(rec.Errors, p.String())
		}
		return rec, nil
	}
	if cat.Revision() != f.catalog.Revision() {
		f.catalog = cat
		rec.Outcome, rec.Revision, rec.Serving, rec.Definitions = dayops.SyncUpdated, cat.Revision(), cat.Revision(), cat.Len()
	}
	return rec, nil
}
