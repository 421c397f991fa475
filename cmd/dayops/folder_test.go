package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writesIntoItsFolder is a definition whose step writes into its working
// folder, as terraform init does with .terraform/, after a pause that lets a
// second run queue behind it on the concurrency key.
const writesIntoItsFolder = `apiVersion: dayops/v1
phase: day0
name: infra
concurrency: infra
steps:
  - name: init
    run: |
      if [ -e .terraform/plugins ]; then echo "another run's .terraform is here" >&2; exit 1; fi
      echo "init in $PWD"
      sleep 1
      mkdir -p .terraform && echo provider > .terraform/plugins
      ./scripts/apply.sh
`

// TestQueuedRunsOfADefinitionThatWritesIntoItsFolder: two runs of it, the
// second queued behind the first, both succeed; each works in a private copy
// of the folder, the folder itself is left as it was and the copies are gone.
func TestQueuedRunsOfADefinitionThatWritesIntoItsFolder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := writeDefs(t, map[string]string{
		"infra.yaml":       writesIntoItsFolder,
		"scripts/apply.sh": "#!/usr/bin/env bash\necho applied\n",
	})
	db := filepath.Join(dir, "dayops.db") // the default place: inside the folder

	first, firstOut := dayopsProcess(t, "init in ", "run", "infra", "--dir", dir, "--database", db)
	// The second is planned while the first is running, before it writes.
	code, out, stderr := cli(t, "", "run", "infra", "--dir", dir, "--database", db)
	if code != exitOK || !strings.Contains(out, "applied") || !strings.Contains(out, "run #2 succeeded") {
		t.Errorf("the queued run: exit %d\n%s%s", code, out, stderr)
	}
	got := <-firstOut
	if err := first.Wait(); err != nil || !strings.Contains(got, "run #1 succeeded") {
		t.Errorf("the first run: %v\n%s", err, got)
	}
	if code, out, _ := cli(t, "", "history", "--database", db); code != exitOK || strings.Count(out, "succeeded") != 2 {
		t.Errorf("history:\n%s", out)
	}
	if hist, _ := os.ReadFile(db); len(hist) == 0 {
		t.Errorf("the database in the folder is empty")
	}

	// Where the runs worked: a private folder each, not the user's.
	for _, out := range []string{got, out} {
		i := strings.Index(out, "init in ")
		if i < 0 {
			continue
		}
		wd := strings.TrimSpace(strings.SplitN(out[i+len("init in "):], "\n", 2)[0])
		if wd == dir || !strings.HasPrefix(wd, tmp) {
			t.Errorf("a run worked in %s, want a private copy under %s", wd, tmp)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".terraform")); err == nil {
		t.Errorf("a run wrote into the folder itself")
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "dayops-folder-*")); len(left) > 0 {
		t.Errorf("copies left behind: %v", left)
	}
}

// TestFolderSnapshotIsPrivateAndExact: the copy is 0700, keeps executables
// executable and symbolic links as links, leaves out .git and the database,
// and has the folder's revision.
func TestFolderSnapshotIsPrivateAndExact(t *testing.T) {
	dir := writeDefs(t, map[string]string{
		"hi.yaml":       "apiVersion: dayops/v1\nphase: day2\nname: hi\nsteps:\n  - run: ./run.sh\n",
		"run.sh":        "#!/bin/sh\necho hi\n",
		".git/config":   "[core]\n",
		"d.db":          "not copied",
		"notes/a.txt":   "a",
		".hidden/b.txt": "b",
	})
	os.Symlink("notes/a.txt", filepath.Join(dir, "link"))
	plain, ok := loadFolder(IO{Stderr: os.Stderr}, dir, filepath.Join(dir, "d.db"), false)
	if !ok {
		t.Fatal("loading the folder")
	}
	src, ok := loadFolder(IO{Stderr: os.Stderr}, dir, filepath.Join(dir, "d.db"), true)
	if !ok {
		t.Fatal("loading the folder into a copy")
	}
	if src.Catalog().Revision() != plain.Catalog().Revision() {
		t.Errorf("the copy's revision %s differs from the folder's %s", src.Catalog().Revision(), plain.Catalog().Revision())
	}
	snap, release, err := src.Checkout(t.Context(), src.Catalog().Revision())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if fi, err := os.Stat(snap); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the copy %s: %v, mode %v, want 0700", snap, err, fi.Mode())
	}
	if fi, err := os.Stat(filepath.Join(snap, "run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh in the copy: %v %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(snap, "link")); err != nil || target != "notes/a.txt" {
		t.Errorf("link in the copy: %q %v", target, err)
	}
	for _, name := range []string{".hidden/b.txt", "notes/a.txt"} {
		if _, err := os.Stat(filepath.Join(snap, name)); err != nil {
			t.Errorf("%s was not copied: %v", name, err)
		}
	}
	for _, name := range []string{".git", "d.db"} {
		if _, err := os.Stat(filepath.Join(snap, name)); err == nil {
			t.Errorf("%s was copied", name)
		}
	}
	if _, _, err := src.Checkout(t.Context(), "sha256:other"); err == nil {
		t.Errorf("a checkout of another revision was served")
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snap); err == nil {
		t.Errorf("Close left the copy %s", snap)
	}
}
