package gitsync

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

func TestCheckoutPinnedWhileHeadMoves(t *testing.T) {
	srv := gitserver.New(t)
	a := srv.CommitFiles("A",
		gitserver.File{Path: "ops/deploy.yaml", Content: def("deploy", "a")},
		gitserver.File{Path: "scripts/deploy.sh", Content: "#!/bin/sh\necho version-a\n", Mode: 0o755},
		gitserver.File{Path: "scripts/only-in-a.txt", Content: "a\n"},
	)
	s, _ := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)

	// A run planned at A takes its export, then B is pushed and synced.
	dirA, releaseA, err := s.Checkout(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	b := srv.CommitFiles("B",
		gitserver.File{Path: "scripts/deploy.sh", Content: "#!/bin/sh\necho version-b\n", Mode: 0o755},
		gitserver.File{Path: "scripts/only-in-a.txt", Delete: true},
		gitserver.File{Path: "scripts/only-in-b.txt", Content: "b\n"},
	)
	mustSync(t, s, dayops.SyncUpdated)

	// The run still sees only A's files, and its script runs.
	out, err := exec.Command(filepath.Join(dirA, "scripts/deploy.sh")).CombinedOutput()
	if err != nil || string(out) != "version-a\n" {
		t.Fatalf("running A's script: %q, %v", out, err)
	}
	if got := readExport(t, dirA, "scripts/only-in-a.txt"); got != "a\n" {
		t.Fatalf("only-in-a = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dirA, "scripts/only-in-b.txt")); !os.IsNotExist(err) {
		t.Fatalf("A's export has B's file: %v", err)
	}
	dirB, releaseB, err := s.Checkout(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if dirB == dirA || readExport(t, dirB, "scripts/deploy.sh") != "#!/bin/sh\necho version-b\n" {
		t.Fatalf("B's export %s", dirB)
	}

	// A is no longer served: its export goes with its last user. B is
	// served: its export stays for the next run.
	releaseA()
	releaseA() // idempotent
	if _, err := os.Stat(dirA); !os.IsNotExist(err) {
		t.Fatalf("A's export still exists after release: %v", err)
	}
	releaseB()
	if _, err := os.Stat(dirB); err != nil {
		t.Fatalf("the served revision's export was removed: %v", err)
	}
	// A can be exported again later (a rollback run of an old revision).
	dirA2, release, err := s.Checkout(context.Background(), a)
	if err != nil || readExport(t, dirA2, "scripts/only-in-a.txt") != "a\n" {
		t.Fatalf("exporting A again: %v", err)
	}
	release()

	// A newer served revision removes the unused export of the old one.
	srv.Commit("C", map[string]string{"x.txt": "x"})
	mustSync(t, s, dayops.SyncUpdated)
	if _, err := os.Stat(dirB); !os.IsNotExist(err) {
		t.Fatalf("B's export survived the swap to C: %v", err)
	}
}

func TestCheckoutModesAndLinks(t *testing.T) {
	srv := gitserver.New(t)
	head := srv.CommitFiles("modes",
		gitserver.File{Path: "ops/a.yaml", Content: def("a", "a")},
		gitserver.File{Path: "scripts/run.sh", Content: "#!/bin/sh\necho ok\n", Mode: 0o755},
		gitserver.File{Path: "scripts/lib/plain.sh", Content: "echo lib\n"},
		gitserver.File{Path: "run-link", Content: "scripts/run.sh", Mode: fs.ModeSymlink},
	)
	s, _ := newSyncer(t, srv.Path(), nil)
	mustSync(t, s, dayops.SyncUpdated)
	dir, release, err := s.Checkout(context.Background(), head)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for name, want := range map[string]fs.FileMode{
		"scripts/run.sh":       0o555,
		"scripts/lib/plain.sh": 0o444,
		"ops/a.yaml":           0o444,
		"scripts":              fs.ModeDir | 0o555,
		".":                    fs.ModeDir | 0o555,
	} {
		st, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || st.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", name, st.Mode(), err, want)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "run-link")); err != nil || target != "scripts/run.sh" {
		t.Errorf("run-link -> %q, %v", target, err)
	}
	if out, err := exec.Command(filepath.Join(dir, "run-link")).Output(); err != nil || string(out) != "ok\n" {
		t.Errorf("running through the link: %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); !os.IsNotExist(err) {
		t.Errorf("the export has a .git: %v", err)
	}
}

func TestCheckoutConcurrentSameRevision(t *testing.T) {
	srv := gitserver.New(t)
	files := map[string]string{"ops/a.yaml": def("a", "a")}
	for i := range 200 {
		files[filepath.Join("scripts", strings.Repeat("d", i%7+1), "f"+string(rune('a'+i%26))+string(rune('a'+i/26)))] = "x\n"
	}
	old := srv.Commit("old", files)
	srv.Commit("new", map[string]string{"other.txt": "new"})
	s, _ := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)

	const n = 16
	dirs := make([]string, n)
	releases := make([]func(), n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			dir, release, err := s.Checkout(context.Background(), old)
			if err != nil {
				t.Error(err)
				return
			}
			dirs[i], releases[i] = dir, release
			if got := readExport(t, dir, "ops/a.yaml"); got != def("a", "a") {
				t.Errorf("goroutine %d read %q", i, got)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if dirs[i] != dirs[0] {
			t.Fatalf("export dirs differ: %s and %s", dirs[i], dirs[0])
		}
	}
	entries, err := os.ReadDir(filepath.Dir(dirs[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary export left behind: %s", e.Name())
		}
	}
	for i := range n - 1 {
		releases[i]()
	}
	if _, err := os.Stat(dirs[0]); err != nil {
		t.Fatalf("export removed while still in use: %v", err)
	}
	releases[n-1]()
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Fatalf("unused export of an old revision kept: %v", err)
	}
}

func TestCheckoutUnknownRevision(t *testing.T) {
	srv, _ := serve(t)
	s, _ := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)
	for _, rev := range []string{"0123456789abcdef0123456789abcdef01234567", "main", "sha256:abc", ""} {
		if _, _, err := s.Checkout(context.Background(), rev); dayops.KindOf(err) != dayops.KindNotFound {
			t.Errorf("Checkout(%q) = %v, want not_found", rev, err)
		}
	}
}

func TestCheckoutCancelled(t *testing.T) {
	srv, head := serve(t)
	s, _ := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Checkout(ctx, head); err == nil {
		t.Fatal("a cancelled checkout succeeded")
	}
	dir, release, err := s.Checkout(context.Background(), head)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if readExport(t, dir, "ops/restart-web.yaml") != def("restart-web", "one") {
		t.Fatal("export after a cancelled one is wrong")
	}
}

func TestSafeEntryName(t *testing.T) {
	for name, want := range map[string]bool{
		"run.sh": true, ".github": true, "..x": true,
		"": false, ".": false, "..": false, ".git": false, ".GIT": false, "a/b": false, "a\x00": false,
	} {
		if got := safeEntryName(name); got != want {
			t.Errorf("safeEntryName(%q) = %v", name, got)
		}
	}
}
