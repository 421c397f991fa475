package gitsync

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// treeFS is a read-only fs.FS over a git tree in the cache repository, so
// that a revision is loaded straight from git objects, without a work tree.
// Symbolic links are followed when they stay inside the tree (as os.DirFS
// follows them); ReadDir reports them as links. It is safe for concurrent
// use.
type treeFS struct {
	r    *repo
	root plumbing.Hash
	mod  time.Time // the commit time, reported as every file's ModTime

	mu   sync.Mutex
	dirs map[plumbing.Hash]*treeDir
}

// treeDir is a decoded tree with an index by name.
type treeDir struct {
	entries []object.TreeEntry
	index   map[string]int
}

// maxLinks bounds symbolic-link resolution, as the kernel's ELOOP does.
const maxLinks = 40

var (
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
)

func newTreeFS(r *repo, root plumbing.Hash, mod time.Time) *treeFS {
	return &treeFS{r: r, root: root, mod: mod, dirs: map[plumbing.Hash]*treeDir{}}
}

func (f *treeFS) dir(h plumbing.Hash) (*treeDir, error) {
	f.mu.Lock()
	d, ok := f.dirs[h]
	f.mu.Unlock()
	if ok {
		return d, nil
	}
	t, err := f.r.tree(h)
	if err != nil {
		return nil, err
	}
	d = &treeDir{entries: t.Entries, index: make(map[string]int, len(t.Entries))}
	for i, e := range t.Entries {
		d.index[e.Name] = i
	}
	f.mu.Lock()
	f.dirs[h] = d
	f.mu.Unlock()
	return d, nil
}

// node is a resolved path: its entry (the root has mode Dir) and its name.
type node struct {
	name string
	mode filemode.FileMode
	hash plumbing.Hash
}

func (n node) isDir() bool { return n.mode == filemode.Dir || n.mode == filemode.Submodule }

// lookup resolves name (a valid fs path) to a node, following symbolic links
// in every element, and in the last one only when follow is set.
func (f *treeFS) lookup(op, name string, follow bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	notExist := &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	root := node{name: ".", mode: filemode.Dir, hash: f.root}
	if name == "." {
		return root, nil
	}
	parts := strings.Split(name, "/")
	cur, curPath := root, "."
	links := 0
	for i := 0; i < len(parts); i++ {
		if cur.mode == filemode.Submodule {
			return node{}, notExist // a submodule is an empty folder here
		}
		d, err := f.dir(cur.hash)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		j, ok := d.index[parts[i]]
		if !ok {
			return node{}, notExist
		}
		e := d.entries[j]
		last := i == len(parts)-1
		if e.Mode == filemode.Symlink && (!last || follow) {
			if links++; links > maxLinks {
				return node{}, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
			}
			target, err := f.r.readBlob(e.Hash)
			if err != nil {
				return node{}, &fs.PathError{Op: op, Path: name, Err: err}
			}
			joined := path.Join(curPath, string(target))
			if path.IsAbs(string(target)) || joined == ".." || strings.HasPrefix(joined, "../") {
				return node{}, notExist // outside the tree
			}
			rest := parts[i+1:]
			parts = nil
			if joined != "." {
				parts = strings.Split(joined, "/")
			}
			parts = append(parts, rest...)
			if len(parts) == 0 {
				return root, nil
			}
			cur, curPath, i = root, ".", -1
			continue
		}
		n := node{name: e.Name, mode: e.Mode, hash: e.Hash}
		if last {
			return n, nil
		}
		if !n.isDir() {
			return node{}, notExist
		}
		cur, curPath = n, path.Join(curPath, e.Name)
	}
	return node{}, notExist
}

// Open implements fs.FS.
func (f *treeFS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		entries, err := f.readDir("open", name, n)
		if err != nil {
			return nil, err
		}
		return &dirFile{info: f.info(name, n, 0), entries: entries}, nil
	}
	b, err := f.r.readBlob(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &blobFile{info: f.info(name, n, int64(len(b))), Reader: bytes.NewReader(b)}, nil
}

// ReadFile implements fs.ReadFileFS.
func (f *treeFS) ReadFile(name string) ([]byte, error) {
	n, err := f.lookup("readfile", name, true)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	}
	b, err := f.r.readBlob(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return b, nil
}

// ReadDir implements fs.ReadDirFS: the entries sorted by name.
func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return f.readDir("readdir", name, n)
}

func (f *treeFS) readDir(op, name string, n node) ([]fs.DirEntry, error) {
	if n.mode == filemode.Submodule {
		return []fs.DirEntry{}, nil
	}
	d, err := f.dir(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	out := make([]fs.DirEntry, 0, len(d.entries))
	for _, e := range d.entries {
		out = append(out, &dirEntry{f: f, n: node{name: e.Name, mode: e.Mode, hash: e.Hash}})
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// Stat implements fs.StatFS.
func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return f.statNode("stat", name, n)
}

func (f *treeFS) statNode(op, name string, n node) (fs.FileInfo, error) {
	var size int64
	if !n.isDir() {
		var err error
		if size, err = f.r.blobSize(n.hash); err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
	}
	return f.info(name, n, size), nil
}

// info describes n under the name it was asked for (a followed link keeps
// the link's name, as os.Stat does).
func (f *treeFS) info(name string, n node, size int64) *fileInfo {
	return &fileInfo{name: path.Base(name), mode: fileMode(n.mode), size: size, mod: f.mod}
}

// fileMode maps git modes to fs modes: only the executable bit is kept by
// git, so files are 0644 or 0755.
func fileMode(m filemode.FileMode) fs.FileMode {
	switch m {
	case filemode.Dir, filemode.Submodule:
		return fs.ModeDir | 0o755
	case filemode.Executable:
		return 0o755
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	}
	return 0o644
}

type fileInfo struct {
	name string
	mode fs.FileMode
	size int64
	mod  time.Time
}

func (i *fileInfo) Name() string       { return i.name }
func (i *fileInfo) Size() int64        { return i.size }
func (i *fileInfo) Mode() fs.FileMode  { return i.mode }
func (i *fileInfo) ModTime() time.Time { return i.mod }
func (i *fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *fileInfo) Sys() any           { return nil }

type dirEntry struct {
	f *treeFS
	n node
}

func (d *dirEntry) Name() string      { return d.n.name }
func (d *dirEntry) IsDir() bool       { return d.n.isDir() }
func (d *dirEntry) Type() fs.FileMode { return fileMode(d.n.mode).Type() }

// Info describes the entry itself; a symbolic link is not followed.
func (d *dirEntry) Info() (fs.FileInfo, error) { return d.f.statNode("readdir", d.n.name, d.n) }

// blobFile is an open file: its content is read whole on Open (definitions
// and scripts are small).
type blobFile struct {
	info *fileInfo
	*bytes.Reader
}

func (b *blobFile) Stat() (fs.FileInfo, error) { return b.info, nil }
func (b *blobFile) Close() error               { return nil }

// dirFile is an open directory.
type dirFile struct {
	info    *fileInfo
	entries []fs.DirEntry
	offset  int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

// ReadDir implements fs.ReadDirFile.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.offset:]
	if n <= 0 {
		d.offset = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.offset += n
	return slices.Clone(rest[:n]), nil
}
