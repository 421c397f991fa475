package gitsync

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

// pushPR pushes files to ref only, as GitHub keeps a pull request's head.
func pushPR(t *testing.T, srv *gitserver.Server, ref string, files map[string]string) string {
	t.Helper()
	return srv.PushPullRequest(ref, files)
}

// TestCheck: a pull request's head, pushed only to refs/pull/N/head, is
// fetched and validated without touching what is served; its problems
// name files from the repository root; bad refs are refused.
func TestCheck(t *testing.T) {
	srv, served := serve(t)
	s, rec := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)
	ctx := context.Background()

	broken := "apiVersion: dayops/v1\nphase: day2\nname: Bad_Name\nsteps:\n  - run: echo\n"
	bad := pushPR(t, srv, "refs/pull/1/head", map[string]string{
		"ops/sub/bad.yaml":     broken,
		"ops/restart-web.yaml": def("restart-web", "two") + "bogus: 1\n",
	})
	good := pushPR(t, srv, "refs/pull/2/head", map[string]string{"ops/flush.yaml": def("flush-cache", "x")})

	c, err := s.Check(ctx, "refs/pull/1/head")
	if err != nil {
		t.Fatal(err)
	}
	// The list of known keys after the first message is left out: it grows
	// with the format.
	wantProblems := []string{
		`ops/restart-web.yaml:8:1: unknown key "bogus" in definition`,
		`ops/sub/bad.yaml:3:7: name "Bad_Name" must be lowercase letters, digits and dashes, starting with a letter or digit`,
	}
	if len(c.Problems) > 0 {
		c.Problems[0], _, _ = strings.Cut(c.Problems[0], " (known keys:")
	}
	if c.Revision != bad || c.Catalog != nil || len(c.Located) != len(c.Problems) {
		t.Errorf("check of a broken head: revision %s (want %s), catalog %v, %d located", c.Revision, bad, c.Catalog, len(c.Located))
	}
	if diff := cmp.Diff(wantProblems, c.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if len(c.Located) > 0 && (c.Located[0].File != "ops/restart-web.yaml" || c.Located[0].Line != 8) {
		t.Errorf("first located problem %+v", c.Located[0])
	}

	c, err = s.Check(ctx, "refs/pull/2/head")
	if err != nil {
		t.Fatal(err)
	}
	if c.Revision != good || c.Catalog == nil || len(c.Problems) != 0 {
		t.Fatalf("check of a good head: %s %v %q", c.Revision, c.Catalog, c.Problems)
	}
	if diff := cmp.Diff([]string{"flush-cache", "restart-web"}, c.Catalog.Names()); diff != "" {
		t.Errorf("checked catalog (-want +got):\n%s", diff)
	}
	// By SHA, now that it is in the cache.
	if c, err := s.Check(ctx, good); err != nil || c.Revision != good || c.Catalog == nil {
		t.Errorf("check by SHA: %+v %v", c, err)
	}

	// Nothing served changed, and no sync was recorded.
	if got := s.Catalog().Revision(); got != served {
		t.Errorf("serving %s after checks, want %s", got, served)
	}
	if n := len(rec.Records()); n != 1 {
		t.Errorf("%d syncs recorded, want 1", n)
	}
	mustSync(t, s, dayops.SyncUnchanged)
	if _, err := s.repo.fetcher.Storer.Reference(checkRef); err == nil {
		t.Errorf("%s is left behind in the cache", checkRef)
	}

	for _, tc := range []struct {
		ref  string
		kind dayops.Kind
		say  string
	}{
		{"refs/pull/3/head", dayops.KindNotFound, "the ops repo has no refs/pull/3/head"},
		{"main..evil", dayops.KindInvalid, "is not something to check"},
		{"refs/pull/0/head", dayops.KindInvalid, "is not something to check"},
		{"refs/heads/../x", dayops.KindInvalid, "is not something to check"},
		{strings.Repeat("ab", 20), dayops.KindNotFound, "is not in the ops repo's cache and the remote did not send it"},
	} {
		_, err := s.Check(ctx, tc.ref)
		if dayops.KindOf(err) != tc.kind || !strings.Contains(dayops.UserMessage(err, ""), tc.say) {
			t.Errorf("Check(%q) = %v (%s), want %s saying %q", tc.ref, err, dayops.KindOf(err), tc.kind, tc.say)
		}
	}
}
