package gitsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// exports keeps clean, read-only exports of commit trees in
// CacheDir/exports/<sha>, one per revision in use. An export is built in a
// temporary folder and renamed into place, so a reader never sees half a
// tree; it is shared by every run of its revision (counted) and removed when
// the last one releases it, unless it is the revision being served.
type exports struct {
	dir string
	r   *repo
	log *slog.Logger

	mu       sync.Mutex
	users    map[plumbing.Hash]int
	building map[plumbing.Hash]chan struct{} // closed when the build ends
	current  plumbing.Hash
	trash    int // names trash folders
}

// newExports prepares the exports folder. With exclusive use of the cache,
// exports left by an earlier process are removed: none is in use.
func newExports(dir string, r *repo, log *slog.Logger, exclusive bool) (*exports, error) {
	if exclusive {
		if err := removeTree(dir); err != nil {
			return nil, fmt.Errorf("clearing old exports: %w", err)
		}
	} else {
		log.Warn("the cache folder is in use by another process or Syncer: old exports are kept", "dir", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the exports folder: %w", err)
	}
	return &exports{
		dir:      dir,
		r:        r,
		log:      log,
		users:    map[plumbing.Hash]int{},
		building: map[plumbing.Hash]chan struct{}{},
	}, nil
}

func (e *exports) path(h plumbing.Hash) string { return filepath.Join(e.dir, h.String()) }

// checkout returns the export of commit h, building it if needed, and a
// release function to call when the caller no longer reads it.
func (e *exports) checkout(ctx context.Context, h plumbing.Hash, tree plumbing.Hash) (string, func(), error) {
	e.mu.Lock()
	e.users[h]++
	for {
		if ch, ok := e.building[h]; ok {
			e.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				e.release(h)
				return "", nil, ctx.Err()
			}
			e.mu.Lock()
			continue
		}
		if _, err := os.Stat(e.path(h)); err == nil {
			break
		}
		ch := make(chan struct{})
		e.building[h] = ch
		e.mu.Unlock()
		err := e.build(ctx, h, tree)
		e.mu.Lock()
		delete(e.building, h)
		close(ch)
		if err != nil {
			e.mu.Unlock()
			e.release(h)
			return "", nil, err
		}
		break
	}
	e.mu.Unlock()
	var once sync.Once
	return e.path(h), func() { once.Do(func() { e.release(h) }) }, nil
}

// build writes the tree of h into a temporary folder and renames it into
// place.
func (e *exports) build(ctx context.Context, h, tree plumbing.Hash) error {
	tmp, err := os.MkdirTemp(e.dir, ".tmp-"+h.String()[:12]+"-")
	if err != nil {
		return fmt.Errorf("exporting %s: %w", h, err)
	}
	if err := e.r.writeTree(ctx, tree, tmp); err != nil {
		_ = removeTree(tmp)
		return fmt.Errorf("exporting %s: %w", h, err)
	}
	if err := os.Chmod(tmp, 0o555); err != nil {
		_ = removeTree(tmp)
		return fmt.Errorf("exporting %s: %w", h, err)
	}
	if err := os.Rename(tmp, e.path(h)); err != nil {
		_ = removeTree(tmp)
		if _, statErr := os.Stat(e.path(h)); statErr == nil {
			return nil // another process exported it first
		}
		return fmt.Errorf("exporting %s: %w", h, err)
	}
	e.log.Debug("revision exported", "revision", h.String(), "dir", e.path(h))
	return nil
}

// release drops one user of h and removes the export when it was the last
// one and h is not the revision being served.
func (e *exports) release(h plumbing.Hash) {
	e.mu.Lock()
	e.users[h]--
	if e.users[h] > 0 {
		e.mu.Unlock()
		return
	}
	delete(e.users, h)
	trash := ""
	if h != e.current && e.building[h] == nil {
		trash = e.discard(h)
	}
	e.mu.Unlock()
	e.removeTrash(trash)
}

// setCurrent marks h as the served revision; the previous one's export is
// removed when no run uses it.
func (e *exports) setCurrent(h plumbing.Hash) {
	e.mu.Lock()
	prev := e.current
	e.current = h
	trash := ""
	if prev != h && !prev.IsZero() && e.users[prev] == 0 && e.building[prev] == nil {
		trash = e.discard(prev)
	}
	e.mu.Unlock()
	e.removeTrash(trash)
}

// discard moves h's export out of the way (under mu, so that a concurrent
// checkout builds a new one) and returns the folder to remove.
func (e *exports) discard(h plumbing.Hash) string {
	e.trash++
	trash := filepath.Join(e.dir, fmt.Sprintf(".trash-%s-%d", h.String()[:12], e.trash))
	if err := os.Rename(e.path(h), trash); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			e.log.Warn("export not removed", "revision", h.String(), "err", err)
		}
		return ""
	}
	return trash
}

func (e *exports) removeTrash(dir string) {
	if dir == "" {
		return
	}
	if err := removeTree(dir); err != nil {
		e.log.Warn("export not removed", "dir", dir, "err", err)
	}
}

// writeTree writes the tree h into dir: files read-only (0444), executables
// 0555, folders 0555 once filled, symbolic links as links, submodules as
// empty folders. Entry names are checked, so that a crafted tree cannot write
// outside dir, and files are created exclusively, never through a link.
func (r *repo) writeTree(ctx context.Context, h plumbing.Hash, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := r.tree(h)
	if err != nil {
		return err
	}
	for _, e := range t.Entries {
		if !safeEntryName(e.Name) {
			return fmt.Errorf("the tree has an unsafe entry name %q", e.Name)
		}
		p := filepath.Join(dir, e.Name)
		switch e.Mode {
		case filemode.Dir:
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			if err := r.writeTree(ctx, e.Hash, p); err != nil {
				return err
			}
			if err := os.Chmod(p, 0o555); err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			mode := fs.FileMode(0o444)
			if e.Mode == filemode.Executable {
				mode = 0o555
			}
			if err := r.writeBlob(e.Hash, p, mode); err != nil {
				return err
			}
		case filemode.Symlink:
			target, err := r.readBlob(e.Hash)
			if err != nil {
				return err
			}
			if err := os.Symlink(string(target), p); err != nil {
				return err
			}
		case filemode.Submodule:
			if err := os.Mkdir(p, 0o555); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q has an unknown mode %o", e.Name, uint32(e.Mode))
		}
	}
	return nil
}

func (r *repo) writeBlob(h plumbing.Hash, p string, mode fs.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = r.copyBlob(h, func(rd io.Reader, _ int64) error {
		_, err := io.Copy(f, rd)
		return err
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Chmod, not the create mode, so that the umask cannot drop the
	// executable bits of scripts.
	return os.Chmod(p, mode)
}

// safeEntryName refuses names git itself refuses to check out.
func safeEntryName(name string) bool {
	switch {
	case name == "", name == ".", name == "..", strings.EqualFold(name, ".git"):
		return false
	case strings.ContainsAny(name, "/\x00"):
		return false
	}
	return true
}

// removeTree removes a folder whose folders may be read-only.
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
