package gitsync

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops/internal/testkit/gitserver"
)

// fetchedTree fetches srv into a fresh cache and returns a treeFS of head.
func fetchedTree(t *testing.T, srv *gitserver.Server) *treeFS {
	t.Helper()
	r, err := openRepo(filepath.Join(t.TempDir(), "repo.git"), srv.Path(), gitserver.Branch, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := r.fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.commit(h)
	if err != nil {
		t.Fatal(err)
	}
	return newTreeFS(r, c.TreeHash, c.Committer.When)
}

func TestTreeFS(t *testing.T) {
	srv := gitserver.New(t)
	srv.CommitFiles("tree",
		gitserver.File{Path: "ops/a.yaml", Content: def("a", "a")},
		gitserver.File{Path: "ops/sub/b.yml", Content: def("b", "b")},
		gitserver.File{Path: "ops/.hidden/c.yaml", Content: "hidden\n"},
		gitserver.File{Path: "scripts/run.sh", Content: "#!/bin/sh\necho run\n", Mode: 0o755},
		gitserver.File{Path: "README.md", Content: "# ops\n"},
		gitserver.File{Path: "empty.txt", Content: ""},
	)
	fsys := fetchedTree(t, srv)
	if err := fstest.TestFS(fsys, "ops/a.yaml", "ops/sub/b.yml", "ops/.hidden/c.yaml", "scripts/run.sh", "README.md", "empty.txt"); err != nil {
		t.Fatal(err)
	}

	b, err := fsys.ReadFile("ops/sub/b.yml")
	if err != nil || string(b) != def("b", "b") {
		t.Fatalf("ReadFile: %q, %v", b, err)
	}
	st, err := fsys.Stat("scripts/run.sh")
	if err != nil || st.Mode() != 0o755 || st.Size() != int64(len("#!/bin/sh\necho run\n")) || st.Name() != "run.sh" {
		t.Fatalf("Stat(scripts/run.sh) = %v, %v", st, err)
	}
	if st, err := fsys.Stat("README.md"); err != nil || st.Mode() != 0o644 {
		t.Fatalf("Stat(README.md) = %v, %v", st, err)
	}
	entries, err := fsys.ReadDir("ops")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{".hidden", "a.yaml", "sub"}, names); diff != "" {
		t.Fatalf("ReadDir(ops) (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name string
		want error
	}{
		{"nope.yaml", fs.ErrNotExist},
		{"ops/a.yaml/x", fs.ErrNotExist},
		{"/ops/a.yaml", fs.ErrInvalid},
		{"ops/../ops/a.yaml", fs.ErrInvalid},
	} {
		if _, err := fsys.Open(tt.name); !errors.Is(err, tt.want) {
			t.Errorf("Open(%q) = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := fsys.ReadFile("ops"); err == nil {
		t.Error("ReadFile of a folder succeeded")
	}
	if _, err := fsys.ReadDir("README.md"); err == nil {
		t.Error("ReadDir of a file succeeded")
	}
}

func TestTreeFSSymlinks(t *testing.T) {
	srv := gitserver.New(t)
	srv.CommitFiles("links",
		gitserver.File{Path: "scripts/run.sh", Content: "#!/bin/sh\n", Mode: 0o755},
		gitserver.File{Path: "ops/a.yaml", Content: def("a", "a")},
		gitserver.File{Path: "link.sh", Content: "scripts/run.sh", Mode: fs.ModeSymlink},
		gitserver.File{Path: "shared", Content: "ops", Mode: fs.ModeSymlink},
		gitserver.File{Path: "scripts/up", Content: "../ops/a.yaml", Mode: fs.ModeSymlink},
		gitserver.File{Path: "escape", Content: "../outside", Mode: fs.ModeSymlink},
		gitserver.File{Path: "absolute", Content: "/etc/passwd", Mode: fs.ModeSymlink},
		gitserver.File{Path: "loop", Content: "loop", Mode: fs.ModeSymlink},
	)
	fsys := fetchedTree(t, srv)
	for name, want := range map[string]string{
		"link.sh":       "#!/bin/sh\n",
		"shared/a.yaml": def("a", "a"),
		"scripts/up":    def("a", "a"),
	} {
		if b, err := fsys.ReadFile(name); err != nil || string(b) != want {
			t.Errorf("ReadFile(%s) = %q, %v", name, b, err)
		}
	}
	if st, err := fsys.Stat("shared"); err != nil || !st.IsDir() || st.Name() != "shared" {
		t.Errorf("Stat(shared) = %v, %v", st, err)
	}
	for _, name := range []string{"escape", "absolute"} {
		if _, err := fsys.ReadFile(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%s) = %v, want not exist (outside the tree)", name, err)
		}
	}
	if _, err := fsys.ReadFile("loop"); err == nil {
		t.Error("a link loop was read")
	}
	entries, err := fsys.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]fs.FileMode{}
	for _, e := range entries {
		types[e.Name()] = e.Type()
	}
	if types["link.sh"] != fs.ModeSymlink || types["shared"] != fs.ModeSymlink || types["ops"] != fs.ModeDir {
		t.Errorf("entry types %v", types)
	}
}

// TestTreeFSConcurrent reads one tree from many goroutines (run with -race).
func TestTreeFSConcurrent(t *testing.T) {
	srv := gitserver.New(t)
	files := map[string]string{}
	for i := range 50 {
		files["ops/d"+string(rune('a'+i%26))+"/"+string(rune('a'+i/26))+".yaml"] = def("x", "y")
	}
	srv.Commit("many", files)
	fsys := fetchedTree(t, srv)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for p := range files {
				f, err := fsys.Open(p)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := io.ReadAll(f); err != nil {
					t.Error(err)
				}
				f.Close()
			}
		})
	}
	wg.Wait()
	if _, err := newTreeFS(fsys.r, plumbing.ZeroHash, fsys.mod).ReadDir("."); err == nil {
		t.Error("a missing tree was read")
	}
}
