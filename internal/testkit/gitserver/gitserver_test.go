package gitserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// clone clones url with the git CLI and reports its error output.
func clone(t *testing.T, url string, extra ...string) (string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "c")
	args := append([]string{"-c", "credential.helper=", "clone", "-q"}, extra...)
	cmd := exec.Command("git", append(args, url, dir)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), err
	}
	return dir, nil
}

func TestServer(t *testing.T) {
	s := New(t)
	if s.Head() != "" {
		t.Fatalf("a new repository has head %q", s.Head())
	}
	first := s.Commit("first", map[string]string{"ops/a.yaml": "a\n"})
	if s.Head() != first || len(first) != 40 {
		t.Fatalf("head %q after commit %q", s.Head(), first)
	}
	second := s.CommitFiles("second",
		File{Path: "scripts/run.sh", Content: "#!/bin/sh\necho hi\n", Mode: 0o755},
		File{Path: "ops/a.yaml", Delete: true})
	dir, err := clone(t, s.URL())
	if err != nil {
		t.Fatalf("cloning over HTTP: %v\n%s", err, dir)
	}
	if st, err := os.Stat(filepath.Join(dir, "scripts/run.sh")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Fatalf("scripts/run.sh: %v, mode %v", err, st.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, "ops/a.yaml")); !os.IsNotExist(err) {
		t.Fatalf("ops/a.yaml should be deleted: %v", err)
	}

	// A rewrite replaces the head: its parent is the first commit.
	third := s.ForcePush("rewrite", map[string]string{"ops/b.yaml": "b\n"})
	if third == second || s.Head() != third {
		t.Fatalf("force-push: head %s, second %s, third %s", s.Head(), second, third)
	}
	if parent := s.Git(s.Path(), "rev-parse", third+"^"); parent != first {
		t.Fatalf("parent of the rewrite is %s, want %s", parent, first)
	}

	last := s.CommitMany(200)
	if n := s.Git(s.Path(), "rev-list", "--count", last); n != "202" {
		t.Fatalf("%s commits after CommitMany(200), want 202", n)
	}
	if got := s.Git(s.WorkDir(), "rev-parse", "HEAD"); got != last {
		t.Fatalf("work clone at %s, want %s", got, last)
	}
	if c := s.Commit("after many", map[string]string{"x": "y"}); s.Head() != c {
		t.Fatal("committing after CommitMany failed")
	}

	s.DeleteBranch()
	if s.Head() != "" {
		t.Fatal("branch still exists after DeleteBranch")
	}
	s.Push()
	if s.Head() == "" {
		t.Fatal("Push did not restore the branch")
	}
}

func TestServerTokenAndRestart(t *testing.T) {
	s := New(t)
	s.Commit("first", map[string]string{"a": "a"})
	s.RequireToken("s3cret-token")
	if out, err := clone(t, s.URL()); err == nil {
		t.Fatal("clone without the token succeeded")
	} else if !strings.Contains(out, "401") && !strings.Contains(out, "Authentication failed") && !strings.Contains(out, "could not read Username") {
		t.Fatalf("unexpected refusal: %s", out)
	}
	authURL := strings.Replace(s.URL(), "http://", "http://x-access-token:s3cret-token@", 1)
	if out, err := clone(t, authURL); err != nil {
		t.Fatalf("clone with the token: %v\n%s", err, out)
	}
	if _, err := clone(t, strings.Replace(s.URL(), "http://", "http://x:wrong@", 1)); err == nil {
		t.Fatal("clone with a wrong token succeeded")
	}
	s.RequireToken("")

	s.Stop()
	if _, err := clone(t, s.URL()); err == nil {
		t.Fatal("clone from a stopped server succeeded")
	}
	s.Start()
	if out, err := clone(t, s.URL()); err != nil {
		t.Fatalf("clone after Start: %v\n%s", err, out)
	}
	if s.Requests() == 0 {
		t.Fatal("no requests counted")
	}
}
