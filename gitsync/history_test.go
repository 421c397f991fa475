package gitsync

import (
	"context"
	"strings"
	"testing"

	"github.com/dayops/dayops"
)

func TestDefinitionAt(t *testing.T) {
	srv, first := serve(t)
	s, _ := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)
	second := srv.Commit("change", map[string]string{"ops/restart-web.yaml": def("restart-web", "two")})
	broken := srv.Commit("break", map[string]string{"ops/broken.yaml": "name: [\n"})
	mustSync(t, s, dayops.SyncInvalid)
	ctx := context.Background()

	old, err := s.DefinitionAt(ctx, first, "restart-web")
	if err != nil || old.Source.Revision != first || !strings.Contains(string(old.Source.Content), "echo one") {
		t.Fatalf("DefinitionAt(first) = %+v, %v", old, err)
	}
	cur, err := s.DefinitionAt(ctx, second, "restart-web")
	if err != nil || !strings.Contains(string(cur.Source.Content), "echo two") {
		t.Fatalf("DefinitionAt(second) = %+v, %v", cur, err)
	}
	// The cached catalog answers again with the same definition.
	again, err := s.DefinitionAt(ctx, first, "restart-web")
	if err != nil || again != old {
		t.Fatalf("second DefinitionAt(first) = %p, %v; want the cached %p", again, err, old)
	}
	diff := dayops.UnifiedDiff("a/"+old.Source.File, "b/"+cur.Source.File, old.Source.Content, cur.Source.Content, 3)
	if !strings.Contains(diff, "-    run: echo one\n+    run: echo two\n") {
		t.Fatalf("diff between revisions:\n%s", diff)
	}

	for _, tt := range []struct {
		rev, name string
		kind      dayops.Kind
	}{
		{first, "no-such-def", dayops.KindNotFound},
		{"0123456789abcdef0123456789abcdef01234567", "restart-web", dayops.KindNotFound},
		{"sha256:0123", "restart-web", dayops.KindNotFound},
		{broken, "restart-web", dayops.KindInvalid},
	} {
		if _, err := s.DefinitionAt(ctx, tt.rev, tt.name); dayops.KindOf(err) != tt.kind {
			t.Errorf("DefinitionAt(%s, %s) = %v, want kind %s", tt.rev, tt.name, err, tt.kind)
		}
	}
}

func TestRevisionCacheEvicts(t *testing.T) {
	c := revisionCache{max: 2}
	cats := make([]*dayops.Catalog, 3)
	for i, rev := range []string{"a", "b", "c"} {
		cat, err := dayops.NewCatalog(rev, nil)
		if err != nil {
			t.Fatal(err)
		}
		cats[i] = cat
		c.put(cat)
	}
	if c.get("a") != nil || c.get("b") != cats[1] || c.get("c") != cats[2] {
		t.Fatal("the cache kept the wrong catalogs")
	}
	c.get("b") // b is now the most recent: d evicts c
	d, _ := dayops.NewCatalog("d", nil)
	c.put(d)
	if c.get("c") != nil || c.get("b") == nil {
		t.Fatal("least recently used catalog not evicted")
	}
}
