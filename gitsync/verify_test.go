package gitsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

// newKey makes a PGP key and writes its armored public key to a file.
func newKey(t *testing.T, name string) (*openpgp.Entity, string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@dayops.invalid", nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".asc")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := armor.Encode(f, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return e, path
}

// commitSigned commits a file in the server's work clone with go-git,
// signed by key (unsigned when key is nil), and pushes it.
func commitSigned(t *testing.T, srv *gitserver.Server, key *openpgp.Entity, file, content string) string {
	t.Helper()
	repo, err := git.PlainOpen(srv.WorkDir())
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(srv.WorkDir(), filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add(file); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: gitserver.AuthorName, Email: gitserver.AuthorEmail, When: time.Unix(1_800_000_000, 0)}
	h, err := wt.Commit("signed "+file, &git.CommitOptions{Author: sig, Committer: sig, SignKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv.Push()
	return h.String()
}

func TestSyncVerifiesSignatures(t *testing.T) {
	trusted, ring := newKey(t, "trusted")
	stranger, _ := newKey(t, "stranger")
	srv := gitserver.New(t)
	good := commitSigned(t, srv, trusted, "ops/a.yaml", def("a", "a"))

	s, rec := newSyncer(t, srv.URL(), func(o *Options) { o.VerifyKeysPath = ring })
	if r := mustSync(t, s, dayops.SyncUpdated); r.Revision != good {
		t.Fatalf("signed head: %+v", r)
	}

	unsigned := commitSigned(t, srv, nil, "ops/b.yaml", def("b", "b"))
	r := mustSync(t, s, dayops.SyncInvalid)
	want := "commit " + dayops.ShortRevision(unsigned) + " is not signed by a trusted key"
	if len(r.Errors) != 1 || !strings.HasPrefix(r.Errors[0], want) || s.Catalog().Revision() != good {
		t.Fatalf("unsigned head: errors %q, serving %s", r.Errors, s.Catalog().Revision())
	}

	foreign := commitSigned(t, srv, stranger, "ops/c.yaml", def("c", "c"))
	r = mustSync(t, s, dayops.SyncInvalid)
	want = "commit " + dayops.ShortRevision(foreign) + " is not signed by a trusted key"
	if len(r.Errors) != 1 || !strings.HasPrefix(r.Errors[0], want) || s.Catalog().Revision() != good {
		t.Fatalf("head signed by an unknown key: errors %q", r.Errors)
	}

	// The CLI's unsigned commits are stalled too.
	cli := srv.Commit("cli", map[string]string{"ops/d.yaml": def("d", "d")})
	r = mustSync(t, s, dayops.SyncInvalid)
	if !strings.Contains(r.Errors[0], dayops.ShortRevision(cli)) {
		t.Fatalf("errors %q", r.Errors)
	}

	fixed := commitSigned(t, srv, trusted, "ops/e.yaml", def("e", "e"))
	if r := mustSync(t, s, dayops.SyncUpdated); r.Revision != fixed || s.Catalog().Len() != 5 {
		t.Fatalf("signed again: %+v", r)
	}
	if diff := cmp.Diff([]EventKind{EventUpdated, EventInvalid, EventInvalid, EventInvalid, EventUpdated}, rec.Kinds()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestReadKeyRing(t *testing.T) {
	_, ring := newKey(t, "ok")
	if k, err := readKeyRing(ring); err != nil || k.keys != 1 {
		t.Fatalf("readKeyRing: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.asc")
	if err := os.WriteFile(bad, []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readKeyRing(bad); dayops.KindOf(err) != dayops.KindInvalid {
		t.Fatalf("bad ring: %v", err)
	}
}
