package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/gitsync"
)

// folderSource serves a plain folder of definitions (dayops plan/run --dir);
// its revision is a content hash. For a run the folder is copied, when it is
// loaded, into a private snapshot (a 0700 temporary folder) and the catalog,
// its revision and the run's working folder are all that copy: a step that
// writes into its working folder (.terraform/) changes neither the user's
// folder nor the revision a queued run was planned with, and an edit made
// while a run waits in the queue does not reach it. Close removes the copy.
type folderSource struct {
	dir      string // the user's folder, absolute
	snapshot string // the private copy runs work in; "" when only planning
	catalog  *dayops.Catalog
}

// loadFolder loads dir, printing every problem to stderr. ok is false when
// the folder is invalid. database, when it lies inside dir, is left out of
// the folder's content (and of the snapshot) with its -wal, -shm, -journal
// and -lock files: a run writes to it, and that must not count as a change
// of the definitions. With snapshot, the folder is copied first and the copy
// is what is loaded and run (see folderSource); the caller must Close it.
func loadFolder(io IO, dir, database string, snapshot bool) (*folderSource, bool) {
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
	src := &folderSource{dir: abs}
	load := abs
	// A folder that is missing or no folder is left to LoadDir to explain.
	if st, err := os.Stat(abs); snapshot && err == nil && st.IsDir() {
		if src.snapshot, err = copyFolder(abs, skip); err != nil {
			fmt.Fprintf(io.Stderr, "dayops: %v\n", err)
			return nil, false
		}
		if err := giveToStepUser(src.snapshot, os.Getenv("DAYOPS_STEPS_RUN_AS")); err != nil {
			src.Close()
			fmt.Fprintf(io.Stderr, "dayops: %v\n", err)
			return nil, false
		}
		load, skip = src.snapshot, nil
	}
	cat, problems, err := gitsync.LoadDir(load, skip...)
	if err != nil {
		src.Close()
		fmt.Fprintf(io.Stderr, "dayops: %v\n", err)
		return nil, false
	}
	if len(problems) > 0 {
		src.Close()
		for _, p := range problems {
			fmt.Fprintln(io.Stderr, problemLine(dir, p))
		}
		fmt.Fprintf(io.Stderr, "dayops: %s has %d problem(s); fix them and try again\n", dir, len(problems))
		return nil, false
	}
	src.catalog = cat
	return src, true
}

// Catalog returns the folder's catalog.
func (f *folderSource) Catalog() *dayops.Catalog { return f.catalog }

// DefinitionAt knows only the revision that was loaded.
func (f *folderSource) DefinitionAt(ctx context.Context, revision, name string) (*dayops.Definition, error) {
	if revision != f.catalog.Revision() {
		return nil, dayops.Errorf(dayops.KindNotFound, "revision %s is not available in a plain folder", dayops.ShortRevision(revision))
	}
	return f.catalog.Get(name)
}

// Checkout returns the snapshot: the folder as it was when it was loaded,
// whatever happened to the folder since.
func (f *folderSource) Checkout(ctx context.Context, revision string) (string, func(), error) {
	if revision != f.catalog.Revision() {
		return "", nil, dayops.Errorf(dayops.KindConflict, "revision %s of the folder %s is not the one this process loaded (%s); run again",
			dayops.ShortRevision(revision), f.dir, dayops.ShortRevision(f.catalog.Revision()))
	}
	if f.snapshot == "" {
		return "", nil, fmt.Errorf("the folder %s was loaded for planning only", f.dir)
	}
	return f.snapshot, func() {}, nil
}

// Close removes the snapshot and everything the run left in it.
func (f *folderSource) Close() error {
	if f == nil || f.snapshot == "" {
		return nil
	}
	err := os.RemoveAll(f.snapshot)
	f.snapshot = ""
	return err
}

// copyFolder copies what a folder's content hash covers (regular files with
// their permission bits, symbolic links as links; not .git, not the paths in
// skip) into a new private temporary folder and returns it.
func copyFolder(from string, skip []string) (string, error) {
	to, err := os.MkdirTemp("", "dayops-folder-")
	if err != nil {
		return "", fmt.Errorf("creating a private copy of %s: %w", from, err)
	}
	// A folder that holds the temporary folder (--dir /tmp) must not copy
	// the copy into itself.
	if rel, err := filepath.Rel(from, to); err == nil && filepath.IsLocal(rel) {
		skip = append(slices.Clone(skip), filepath.ToSlash(rel))
	}
	err = filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil || rel == "." {
			return err
		}
		if slices.Contains(skip, filepath.ToSlash(rel)) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		target := filepath.Join(to, rel)
		switch {
		case d.IsDir() && d.Name() == ".git":
			return fs.SkipDir
		case d.IsDir():
			return os.Mkdir(target, 0o700)
		case d.Type().IsRegular():
			return copyFile(p, target)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		return nil // sockets, pipes and devices are no part of a definitions tree
	})
	if err != nil {
		os.RemoveAll(to)
		return "", fmt.Errorf("copying %s into a private folder for the run: %w", from, err)
	}
	return to, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return errors.Join(out.Close(), os.Chmod(to, st.Mode().Perm()))
}

// giveToStepUser makes the run's private copy the step user's own, when steps
// run as another user (DAYOPS_STEPS_RUN_AS): the copy is their working
// folder, which they read and may write into (.terraform/), and no one else's.
func giveToStepUser(dir, runAs string) error {
	if runAs == "" {
		return nil
	}
	cred, err := executor.LookupRunAs(runAs)
	if err != nil || cred == nil {
		return err
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		return fmt.Errorf("giving the run's copy of the folder to %s: %w", runAs, err)
	}
	return nil
}
