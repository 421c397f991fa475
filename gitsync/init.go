package gitsync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// InitRepo makes dir a git repository on branch holding the files of fsys
// in one commit, with no git binary needed. It is how `dayops demo` turns the
// embedded example ops repo into a real repository it then syncs from. An
// existing repository in dir is left alone (reused is true); any other
// non-empty folder is refused, never committed. The repository is made in a
// temporary folder beside dir and renamed into place, so a crash never leaves
// half a repository that a later start would take for a finished one.
func InitRepo(dir, branch string, files fs.FS, message string, now time.Time) (reused bool, err error) {
	if _, err := git.PlainOpen(dir); err == nil {
		return true, nil
	} else if !errors.Is(err, git.ErrRepositoryNotExists) {
		return false, fmt.Errorf("opening %s: %w", dir, err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return false, fmt.Errorf("%s exists and is not a git repository: choose another folder or remove it", dir)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+"-*")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left to remove
	if err := copyTree(files, tmp); err != nil {
		return false, err
	}
	repo, err := git.PlainInitWithOptions(tmp, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)},
	})
	if err != nil {
		return false, fmt.Errorf("initialising %s: %w", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return false, err
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return false, fmt.Errorf("adding files in %s: %w", dir, err)
	}
	sig := &object.Signature{Name: "dayops demo", Email: "demo@dayops.invalid", When: now}
	if _, err := wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		return false, fmt.Errorf("committing in %s: %w", dir, err)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return false, fmt.Errorf("moving the new repository into %s: %w", dir, err)
	}
	return false, nil
}

// copyTree writes the files of fsys below dir, keeping executable bits.
func copyTree(fsys fs.FS, dir string) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if info, err := d.Info(); err == nil && info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if filepath.Ext(p) == ".sh" {
			// embed.FS does not keep modes: scripts are executable by convention.
			mode = 0o755
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		_, werr := f.Write(data)
		return errors.Join(werr, f.Close())
	})
}
