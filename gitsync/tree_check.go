package gitsync

import (
	"fmt"
	"path"

	"github.com/dayops/dayops"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// maxLinkTarget is the longest symbolic-link target an export writes (the
// kernel's PATH_MAX).
const maxLinkTarget = 4096

// maxTreeProblems bounds the problems checkTreeEntries reports.
const maxTreeProblems = 20

// checkTreeEntries walks the whole tree of a revision, as an export writes
// it, and reports the entries no checkout could hold: names git itself never
// writes (.., ., .git, a name with a slash; a tool that writes objects by
// hand can make them), a name twice in one folder, modes git does not know
// and link targets longer than a path. Such a revision would load but fail
// every run's checkout, so the sync stalls on it instead. Each problem's
// File is the folder holding the entry ("." for the root). The trees read
// stay in f's cache for the load that follows.
func (f *treeFS) checkTreeEntries() ([]Problem, error) {
	type dir struct {
		hash plumbing.Hash
		path string
	}
	var problems []Problem
	add := func(folder, format string, args ...any) {
		if len(problems) < maxTreeProblems {
			problems = append(problems, Problem{File: folder, Message: fmt.Sprintf(format, args...)})
		}
	}
	seen := map[plumbing.Hash]bool{f.root: true}
	queue := []dir{{f.root, "."}}
	for len(queue) > 0 && len(problems) < maxTreeProblems {
		d := queue[0]
		queue = queue[1:]
		t, err := f.dir(d.hash)
		if err != nil {
			return nil, fmt.Errorf("reading the tree of %s: %w", d.path, err)
		}
		names := make(map[string]bool, len(t.entries))
		for _, e := range t.entries {
			if !safeEntryName(e.Name) {
				add(d.path, "the commit holds an entry named %q, which git never writes and no checkout can hold: remove it with git rm and commit again", dayops.Truncate(e.Name, 60))
				continue
			}
			if names[e.Name] {
				add(d.path, "the commit holds two entries named %q in one folder, which no checkout can hold: rewrite the commit with git", dayops.Truncate(e.Name, 60))
				continue
			}
			names[e.Name] = true
			switch e.Mode {
			case filemode.Dir:
				if !seen[e.Hash] {
					seen[e.Hash] = true
					queue = append(queue, dir{e.Hash, path.Join(d.path, e.Name)})
				}
			case filemode.Regular, filemode.Deprecated, filemode.Executable, filemode.Submodule:
			case filemode.Symlink:
				size, err := f.r.blobSize(e.Hash)
				if err != nil {
					return nil, fmt.Errorf("reading the link %s: %w", path.Join(d.path, e.Name), err)
				}
				if size > maxLinkTarget {
					add(d.path, "the symbolic link %q points at a target of %d bytes, longer than any path: fix the link", dayops.Truncate(e.Name, 60), size)
				}
			default:
				add(d.path, "the entry %q has mode %o, which git does not know: rewrite the commit with git", dayops.Truncate(e.Name, 60), uint32(e.Mode))
			}
		}
	}
	return problems, nil
}
