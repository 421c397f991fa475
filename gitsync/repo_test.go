package gitsync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/dayops/dayops"
)

// TestRepackKeepsServedRevision lets fetches gather packs past the limit:
// the cache is repacked into one pack, and the served revision survives
// even though a force-push took it off the branch.
func TestRepackKeepsServedRevision(t *testing.T) {
	srv, _ := serve(t)
	s, _ := newSyncer(t, srv.URL(), nil)
	s.repo.maxPacks = 3
	mustSync(t, s, dayops.SyncUpdated)
	served := srv.Commit("served", map[string]string{"ops/a.yaml": def("a", "served")})
	mustSync(t, s, dayops.SyncUpdated)
	// Rewrite the branch to an invalid revision: served is no longer on it.
	srv.ForcePush("rewrite", map[string]string{"ops/bad.yaml": "name: [\n"})
	mustSync(t, s, dayops.SyncInvalid)
	for i := range 4 {
		srv.Commit(fmt.Sprint("more ", i), map[string]string{"notes.txt": fmt.Sprint(i)})
		mustSync(t, s, dayops.SyncInvalid)
	}
	packs, err := filepath.Glob(filepath.Join(s.repo.dir, "objects", "pack", "*.pack"))
	if err != nil || len(packs) > s.repo.maxPacks {
		t.Fatalf("%d packs after repacking (limit %d): %v", len(packs), s.repo.maxPacks, err)
	}
	if s.Catalog().Revision() != served {
		t.Fatalf("serving %s, want %s", s.Catalog().Revision(), served)
	}
	dir, release, err := s.Checkout(context.Background(), served)
	if err != nil {
		t.Fatalf("checkout of the served revision after a repack: %v", err)
	}
	defer release()
	if got := readExport(t, dir, "ops/a.yaml"); got != def("a", "served") {
		t.Fatalf("served export: %q", got)
	}
	// Fetching and loading still work on the repacked cache.
	fixed := srv.Commit("fix", map[string]string{"ops/bad.yaml": def("bad", "fixed")})
	if r := mustSync(t, s, dayops.SyncUpdated); r.Revision != fixed {
		t.Fatalf("after repack: %+v", r)
	}
}

func TestLocalPath(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url   string
		want  string
		local bool
	}{
		{"/srv/ops.git", "/srv/ops.git", true},
		{"file:///srv/ops.git", "/srv/ops.git", true},
		{"./ops", filepath.Join(wd, "ops"), true},
		{"ops-repo", filepath.Join(wd, "ops-repo"), true},
		{"https://github.com/org/ops.git", "", false},
		{"ssh://git@github.com/org/ops.git", "", false},
		{"git@github.com:org/ops.git", "", false},
		{"github.com:org/ops.git", "", false},
	}
	for _, tt := range tests {
		got, local, err := localPath(tt.url)
		if err != nil || local != tt.local || got != tt.want {
			t.Errorf("localPath(%q) = %q, %v, %v; want %q, %v", tt.url, got, local, err, tt.want, tt.local)
		}
	}
}

func TestClassifyFetch(t *testing.T) {
	redact := dayops.NewRedactor("tok-secret-123")
	url := "https://x-access-token:tok-secret-123@example.com/org/ops.git"
	tests := []struct {
		err   error
		class string
		kind  dayops.Kind
		want  string
	}{
		{fmt.Errorf("x: %w", transport.ErrAuthenticationRequired), "auth", dayops.KindForbidden, "refused the credentials"},
		{transport.ErrAuthorizationFailed, "auth", dayops.KindForbidden, "denied access"},
		{transport.ErrRepositoryNotFound, "repository", dayops.KindNotFound, "no repository at"},
		{transport.ErrEmptyRemoteRepository, "branch", dayops.KindNotFound, "branch main not found on origin"},
		{context.Canceled, "cancelled", dayops.KindUnavailable, "cancelled"},
		{errors.New(`Get "` + url + `": dial tcp: connection refused`), "network", dayops.KindUnavailable, "connection refused"},
	}
	for _, tt := range tests {
		f := classifyFetch(tt.err, url, "main", redact)
		if f.class != tt.class || f.err.Kind != tt.kind || !strings.Contains(f.err.Message, tt.want) {
			t.Errorf("classify(%v) = %s %s %q", tt.err, f.class, f.err.Kind, f.err.Message)
		}
		if strings.Contains(f.err.Error(), "tok-secret-123") {
			t.Errorf("the token leaked: %s", f.err.Error())
		}
	}
}
