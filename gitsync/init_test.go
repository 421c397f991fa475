package gitsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-git/v5"
)

func TestInitRepo(t *testing.T) {
	files := fstest.MapFS{
		"day2/restart.yaml":  {Data: []byte(def("restart-web", "x"))},
		"scripts/restart.sh": {Data: []byte("#!/bin/sh\necho restart\n")},
	}
	dir := filepath.Join(t.TempDir(), "ops-repo")
	reused, err := InitRepo(dir, "main", files, "example", time.Now())
	if err != nil || reused {
		t.Fatalf("InitRepo = %v, %v", reused, err)
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := repo.Head()
	if err != nil || head.Name().Short() != "main" {
		t.Fatalf("head %v, %v", head, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "scripts/restart.sh")); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("script not executable: %v %v", st, err)
	}
	if reused, err := InitRepo(dir, "main", files, "example", time.Now()); err != nil || !reused {
		t.Errorf("second InitRepo = %v, %v; want reused", reused, err)
	}
	siblings, _ := os.ReadDir(filepath.Dir(dir))
	if len(siblings) != 1 {
		t.Errorf("temporary folders left beside the repo: %v", siblings)
	}

	// A folder with other content is refused, and nothing is committed.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.env"), []byte("MY_SECRET=abc\n"), 0o600)
	if _, err := InitRepo(other, "main", files, "example", time.Now()); err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("InitRepo into a non-empty folder = %v", err)
	}
	if _, err := git.PlainOpen(other); err == nil {
		t.Error("a repository was made in a folder with other content")
	}
}
