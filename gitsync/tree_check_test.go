package gitsync

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

func TestSyncStallsOnEntriesNoCheckoutCanHold(t *testing.T) {
	// A commit made with git's plumbing (or a hostile tool) can hold names
	// git never writes. Such a revision used to be served and then failed
	// every run's checkout; it stalls instead, naming the entry, and the
	// last good revision keeps serving and checking out.
	tests := []struct {
		name, dir string
		entry     string
		want      string
	}{
		{"dot dot", "", "..", `.: the commit holds an entry named "..", which git never writes and no checkout can hold: remove it with git rm and commit again`},
		{"dot git", "ops", ".git", `ops: the commit holds an entry named ".git", which git never writes and no checkout can hold: remove it with git rm and commit again`},
		{"dot git in capitals", "", ".GIT", `.: the commit holds an entry named ".GIT", which git never writes and no checkout can hold: remove it with git rm and commit again`},
		{"slash", "ops", "../../escape", `ops: the commit holds an entry named "../../escape", which git never writes and no checkout can hold: remove it with git rm and commit again`},
		{"twice", "ops", "restart-web.yaml", `ops: the commit holds two entries named "restart-web.yaml" in one folder, which no checkout can hold: rewrite the commit with git`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, first := serve(t)
			s, rec := newSyncer(t, srv.URL(), nil)
			mustSync(t, s, dayops.SyncUpdated)

			bad := srv.CommitRawEntries("crafted", tt.dir, gitserver.RawEntry{Name: tt.entry, Content: "x\n"})
			r := mustSync(t, s, dayops.SyncInvalid)
			if diff := cmp.Diff([]string{tt.want}, r.Errors); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if r.Revision != bad || r.Serving != first || s.Catalog().Revision() != first {
				t.Fatalf("record %+v, serving %s: want %s stalled and %s served", r, s.Catalog().Revision(), bad, first)
			}
			dir, release, err := s.Checkout(context.Background(), first)
			if err != nil {
				t.Fatalf("checking out the served revision: %v", err)
			}
			release()
			if !strings.HasPrefix(dir, s.exports.dir) {
				t.Fatalf("export at %s", dir)
			}
			if _, err := s.DefinitionAt(context.Background(), bad, "restart-web"); err == nil {
				t.Fatalf("DefinitionAt served the crafted revision")
			}

			fixed := srv.Commit("fix", map[string]string{"ops/restart-api.yaml": def("restart-api", "two")})
			if r := mustSync(t, s, dayops.SyncUpdated); r.Revision != fixed {
				t.Fatalf("after the fix: %+v", r)
			}
			if diff := cmp.Diff([]EventKind{EventUpdated, EventInvalid, EventUpdated}, rec.Kinds()); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
		})
	}
}
