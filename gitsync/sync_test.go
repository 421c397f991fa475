package gitsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

func TestSyncFirstCloneNoopAndNewCommit(t *testing.T) {
	srv, first := serve(t)
	s, rec := newSyncer(t, srv.URL(), nil)
	if s.Ready() || s.Catalog() != nil {
		t.Fatal("ready before the first sync")
	}

	r := mustSync(t, s, dayops.SyncUpdated)
	if r.Revision != first || r.Serving != first || r.Definitions != 1 || r.Duration <= 0 {
		t.Fatalf("first sync record %+v, want revision %s", r, first)
	}
	if !s.Ready() || s.Catalog().Revision() != first {
		t.Fatalf("catalog at %q, want %s", s.Catalog().Revision(), first)
	}
	d, ok := s.Catalog().Lookup("restart-web")
	if !ok || d.Source.File != "ops/restart-web.yaml" || d.Source.Revision != first {
		t.Fatalf("restart-web: %v %+v", ok, d)
	}

	// A no-op sync is one fetch (the ref advertisement) and nothing else:
	// no load, the same catalog pointer.
	cat, loads, reqs := s.Catalog(), s.loads.Load(), srv.Requests()
	r = mustSync(t, s, dayops.SyncUnchanged)
	if s.loads.Load() != loads {
		t.Fatalf("a no-op sync loaded the revision again (%d loads, want %d)", s.loads.Load(), loads)
	}
	if s.Catalog() != cat {
		t.Fatal("a no-op sync swapped the catalog")
	}
	if n := srv.Requests() - reqs; n != 1 {
		t.Fatalf("a no-op sync made %d HTTP requests, want 1", n)
	}
	if r.Revision != first || r.Serving != first {
		t.Fatalf("no-op record %+v", r)
	}

	second := srv.Commit("second", map[string]string{"ops/restart-api.yaml": def("restart-api", "two")})
	r = mustSync(t, s, dayops.SyncUpdated)
	if r.Revision != second || s.Catalog().Revision() != second || r.Definitions != 2 {
		t.Fatalf("after a new commit: record %+v, catalog %s", r, s.Catalog().Revision())
	}
	if diff := cmp.Diff([]string{"restart-api", "restart-web"}, s.Catalog().Names()); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
	if cat.Revision() != first || cat.Len() != 1 {
		t.Fatal("the old catalog changed under its reader")
	}

	var outcomes []dayops.SyncOutcome
	for i, r := range rec.Records() {
		outcomes = append(outcomes, r.Outcome)
		if r.ID != int64(i+1) {
			t.Errorf("record %d has ID %d", i, r.ID)
		}
	}
	if diff := cmp.Diff([]dayops.SyncOutcome{dayops.SyncUpdated, dayops.SyncUnchanged, dayops.SyncUpdated}, outcomes); diff != "" {
		t.Fatalf("history outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]EventKind{EventUpdated, EventUpdated}, rec.Kinds()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if ev := rec.Events()[1]; ev.Previous != first || ev.Revision != second {
		t.Fatalf("update event %+v", ev)
	}
}

func TestSyncForcePush(t *testing.T) {
	srv, _ := serve(t)
	second := srv.Commit("second", map[string]string{"ops/a.yaml": def("a", "a")})
	s, _ := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)
	if s.Catalog().Revision() != second {
		t.Fatalf("serving %s", s.Catalog().Revision())
	}
	rewritten := srv.ForcePush("rewrite", map[string]string{"ops/b.yaml": def("b", "b")})
	r := mustSync(t, s, dayops.SyncUpdated)
	if r.Revision != rewritten || s.Catalog().Revision() != rewritten {
		t.Fatalf("after force-push: %+v", r)
	}
	if diff := cmp.Diff([]string{"b", "restart-web"}, s.Catalog().Names()); diff != "" {
		t.Fatalf("names after force-push (-want +got):\n%s", diff)
	}
	// The revision pushed away is still readable for runs pinned to it.
	if d, err := s.DefinitionAt(context.Background(), second, "a"); err != nil || d.Name != "a" {
		t.Fatalf("DefinitionAt(force-pushed-away revision) = %v, %v", d, err)
	}
}

func TestSyncBranchDeleted(t *testing.T) {
	srv, first := serve(t)
	s, rec := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)

	srv.DeleteBranch()
	for range 3 {
		r := mustSync(t, s, dayops.SyncFailed)
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "branch main not found on origin") {
			t.Fatalf("errors %q", r.Errors)
		}
		if r.Serving != first || s.Catalog().Revision() != first {
			t.Fatalf("stopped serving %s: %+v", first, r)
		}
	}
	_, err := s.Sync(context.Background())
	if dayops.KindOf(err) != dayops.KindNotFound {
		t.Fatalf("error kind %q (%v), want not_found", dayops.KindOf(err), err)
	}
	srv.Push()
	mustSync(t, s, dayops.SyncUnchanged)
	if diff := cmp.Diff([]EventKind{EventUpdated, EventFault, EventRecovered}, rec.Kinds()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if msg := rec.Events()[1].Message; !strings.Contains(msg, "branch main not found on origin") {
		t.Fatalf("fault event message %q", msg)
	}
}

func TestSyncServerDownThenBack(t *testing.T) {
	srv, first := serve(t)
	s, rec := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)

	srv.Stop()
	for range 3 {
		r := mustSync(t, s, dayops.SyncFailed)
		if r.Revision != "" || r.Serving != first || !strings.Contains(r.Errors[0], "cannot fetch the ops repo") {
			t.Fatalf("record while down: %+v", r)
		}
	}
	if _, err := s.Sync(context.Background()); dayops.KindOf(err) != dayops.KindUnavailable {
		t.Fatalf("error kind %q, want unavailable", dayops.KindOf(err))
	}
	srv.Start()
	second := srv.Commit("while down", map[string]string{"ops/b.yaml": def("b", "b")})
	r := mustSync(t, s, dayops.SyncUpdated)
	if r.Revision != second {
		t.Fatalf("after recovery: %+v", r)
	}
	if diff := cmp.Diff([]EventKind{EventUpdated, EventFault, EventRecovered, EventUpdated}, rec.Kinds()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if msg := rec.Events()[2].Message; !strings.Contains(msg, "after 4 failed sync(s)") {
		t.Fatalf("recovery message %q", msg)
	}
}

func TestSyncWrongToken(t *testing.T) {
	const token = "ghs_correct-token-123456"
	const wrong = "ghs_wrong-token-654321"
	srv, first := serve(t)
	srv.RequireToken(token)

	s, rec := newSyncer(t, srv.URL(), func(o *Options) { o.Token = wrong })
	r, err := s.Sync(context.Background())
	if r.Outcome != dayops.SyncFailed || dayops.KindOf(err) != dayops.KindForbidden {
		t.Fatalf("wrong token: outcome %q, err %v", r.Outcome, err)
	}
	if !strings.Contains(r.Errors[0], "refused the credentials") {
		t.Fatalf("message %q does not say what is wrong", r.Errors[0])
	}
	for _, text := range []string{err.Error(), r.Errors[0], rec.Events()[0].Message} {
		if strings.Contains(text, wrong) || strings.Contains(text, token) {
			t.Fatalf("a token leaked into %q", text)
		}
	}
	if s.Ready() {
		t.Fatal("ready without a catalog")
	}

	// The token is also masked when it is written into the URL.
	withCreds := strings.Replace(srv.URL(), "http://", "http://x-access-token:"+wrong+"@", 1)
	s2, _ := newSyncer(t, withCreds, nil)
	if _, err := s2.Sync(context.Background()); err == nil || strings.Contains(err.Error(), wrong) {
		t.Fatalf("credentials in the URL: err %v", err)
	}

	good, _ := newSyncer(t, srv.URL(), func(o *Options) { o.Token = token })
	if r := mustSync(t, good, dayops.SyncUpdated); r.Revision != first {
		t.Fatalf("right token: %+v", r)
	}
}

func TestSyncInvalidThenFixed(t *testing.T) {
	srv, first := serve(t)
	s, rec := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)
	good := s.Catalog()

	bad := srv.Commit("break it", map[string]string{"ops/broken.yaml": "apiVersion: dayops/v1\nphase: day2\nname: broken\n  steps: [\n"})
	for i := range 2 {
		r := mustSync(t, s, dayops.SyncInvalid)
		if r.Revision != bad || r.Serving != first || len(r.Errors) == 0 || !strings.HasPrefix(r.Errors[0], "ops/broken.yaml:") {
			t.Fatalf("invalid sync %d: %+v", i, r)
		}
		if s.Catalog() != good {
			t.Fatal("an invalid revision replaced the good catalog")
		}
	}
	if n := s.loads.Load(); n != 2 {
		t.Fatalf("the stalled revision was loaded %d times in all, want 2 (first + bad)", n)
	}
	fixed := srv.Commit("fix it", map[string]string{"ops/broken.yaml": def("broken", "fixed")})
	r := mustSync(t, s, dayops.SyncUpdated)
	if r.Revision != fixed || s.Catalog().Len() != 2 {
		t.Fatalf("fixing commit: %+v", r)
	}
	if diff := cmp.Diff([]EventKind{EventUpdated, EventInvalid, EventUpdated}, rec.Kinds()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	ev := rec.Events()[1]
	if ev.Revision != bad || ev.Serving != first || len(ev.Problems) == 0 || !strings.Contains(ev.Message, "stalled") {
		t.Fatalf("invalid event %+v", ev)
	}
	records := rec.Records()
	if records[1].Outcome != dayops.SyncInvalid || records[2].Outcome != dayops.SyncInvalid || len(records[2].Errors) == 0 {
		t.Fatalf("history %+v", records)
	}
}

func TestSyncMissingFolderIsInvalid(t *testing.T) {
	srv := gitserver.New(t)
	srv.Commit("no ops folder", map[string]string{"README.md": "hi\n"})
	s, _ := newSyncer(t, srv.URL(), nil)
	r := mustSync(t, s, dayops.SyncInvalid)
	if s.Ready() || len(r.Errors) == 0 || !strings.HasPrefix(r.Errors[0], "ops") {
		t.Fatalf("record %+v", r)
	}
}

func TestSyncThousandDefinitions(t *testing.T) {
	srv := gitserver.New(t)
	files := map[string]string{}
	for i := range 1000 {
		name := fmt.Sprintf("def-%04d", i)
		files[fmt.Sprintf("ops/team-%d/%s.yaml", i%10, name)] = def(name, name)
	}
	head := srv.Commit("thousand", files)
	s, _ := newSyncer(t, srv.URL(), nil)
	r := mustSync(t, s, dayops.SyncUpdated)
	if r.Definitions != 1000 || s.Catalog().Len() != 1000 || r.Revision != head {
		t.Fatalf("record %+v", r)
	}
	d, ok := s.Catalog().Lookup("def-0999")
	if !ok || d.Source.File != "ops/team-9/def-0999.yaml" {
		t.Fatalf("def-0999: %v %+v", ok, d)
	}
}

func TestRunTriggerPicksUpPush(t *testing.T) {
	srv, first := serve(t)
	s, rec := newSyncer(t, srv.URL(), nil) // interval 1h: only triggers sync
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, 5*time.Second, func() bool { return s.Catalog().Revision() == first })

	second := srv.Commit("push", map[string]string{"ops/b.yaml": def("b", "b")})
	start := time.Now()
	s.Trigger()
	s.Trigger() // coalesced, never blocks
	waitFor(t, 5*time.Second, func() bool { return s.Catalog().Revision() == second })
	if d := time.Since(start); d > time.Second {
		t.Errorf("push to catalog took %v with a trigger, want < 1s", d)
	}
	t.Logf("push to catalog with a trigger: %v", time.Since(start))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if n := len(rec.Records()); n < 2 || n > 3 {
		t.Fatalf("%d syncs, want 2 or 3 (a coalesced trigger may add one)", n)
	}
}

func TestRunBacksOffAndRecovers(t *testing.T) {
	srv, _ := serve(t)
	srv.Stop()
	s, rec := newSyncer(t, srv.URL(), func(o *Options) { o.Interval = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, 5*time.Second, func() bool { return len(rec.Records()) >= 3 })
	srv.Start()
	s.Trigger()
	waitFor(t, 5*time.Second, s.Ready)
	cancel()
	<-done
	if diff := cmp.Diff([]EventKind{EventFault, EventRecovered, EventUpdated}, rec.Kinds()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		interval time.Duration
		n        int
		r        float64
		want     time.Duration
	}{
		{time.Minute, 1, 0, 2500 * time.Millisecond},
		{time.Minute, 1, 0.999999, 5 * time.Second},
		{time.Minute, 2, 0, 5 * time.Second},
		{time.Minute, 4, 0, 20 * time.Second},
		{time.Minute, 100, 0, 150 * time.Second},
		{time.Minute, 100, 0.5, 225 * time.Second},
		{20 * time.Minute, 100, 0, 10 * time.Minute},
		{100 * time.Millisecond, 1, 0, 50 * time.Millisecond},
		{100 * time.Millisecond, 3, 0, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(tt.interval, tt.n, tt.r); got.Round(time.Millisecond) != tt.want {
			t.Errorf("backoff(%v, %d, %v) = %v, want %v", tt.interval, tt.n, tt.r, got, tt.want)
		}
	}
}

func TestSyncLocalPath(t *testing.T) {
	srv, first := serve(t)
	for _, url := range []string{srv.Path(), "file://" + srv.Path(), srv.WorkDir()} {
		t.Run(url, func(t *testing.T) {
			s, _ := newSyncer(t, url, nil)
			if r := mustSync(t, s, dayops.SyncUpdated); r.Revision != first {
				t.Fatalf("record %+v", r)
			}
			mustSync(t, s, dayops.SyncUnchanged)
		})
	}
	s, _ := newSyncer(t, srv.Path(), nil)
	mustSync(t, s, dayops.SyncUpdated)
	second := srv.Commit("second", map[string]string{"ops/b.yaml": def("b", "b")})
	if r := mustSync(t, s, dayops.SyncUpdated); r.Revision != second {
		t.Fatalf("record %+v", r)
	}
	third := srv.ForcePush("rewrite", map[string]string{"ops/c.yaml": def("c", "c")})
	if r := mustSync(t, s, dayops.SyncUpdated); r.Revision != third {
		t.Fatalf("record after force-push %+v", r)
	}

	missing, _ := newSyncer(t, t.TempDir()+"/nothing-here", nil)
	if _, err := missing.Sync(context.Background()); dayops.KindOf(err) != dayops.KindNotFound {
		t.Fatalf("missing local repo: %v", err)
	}
}

func TestSyncRestartServesCachedHeadWhileDown(t *testing.T) {
	srv, first := serve(t)
	cache := t.TempDir()
	s, _ := newSyncer(t, srv.URL(), func(o *Options) { o.CacheDir = cache })
	mustSync(t, s, dayops.SyncUpdated)

	// A second Syncer on a cache in use works but keeps the exports, which
	// the first may be handing out.
	dir, release, err := s.Checkout(context.Background(), first)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	shared, err := New(Options{URL: srv.URL(), CacheDir: cache})
	if err != nil {
		t.Fatalf("a second Syncer on a cache in use: %v", err)
	}
	if readExport(t, dir, "ops/restart-web.yaml") != def("restart-web", "one") {
		t.Fatal("the export in use was cleared")
	}
	if err := shared.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	again, rec := newSyncer(t, srv.URL(), func(o *Options) { o.CacheDir = cache })
	r := mustSync(t, again, dayops.SyncFailed)
	if !again.Ready() || r.Serving != first || again.Catalog().Revision() != first {
		t.Fatalf("restart while down: %+v", r)
	}
	loads := again.loads.Load()
	mustSync(t, again, dayops.SyncFailed)
	if again.loads.Load() != loads {
		t.Fatal("the cached head was loaded again")
	}
	srv.Start()
	mustSync(t, again, dayops.SyncUnchanged)
	// The served revision was restored at New, before any sync: nothing new
	// was swapped in, so no update is announced.
	if diff := cmp.Diff([]EventKind{EventFault, EventRecovered}, rec.Kinds()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

// TestSyncRestartWithBrokenHeadServesLastGood: a process that starts while
// the branch head is invalid serves the revision the previous process served,
// never nothing and never the broken one.
func TestSyncRestartWithBrokenHeadServesLastGood(t *testing.T) {
	srv, first := serve(t)
	cache := t.TempDir()
	s, _ := newSyncer(t, srv.URL(), func(o *Options) { o.CacheDir = cache })
	mustSync(t, s, dayops.SyncUpdated)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	broken := srv.Commit("broken", map[string]string{"ops/bad.yaml": "name: bad\n"})

	again, _ := newSyncer(t, srv.URL(), func(o *Options) { o.CacheDir = cache })
	if !again.Ready() || again.Catalog().Revision() != first {
		t.Fatalf("before the first sync: serving %q, want %s", again.Catalog().Revision(), first)
	}
	r := mustSync(t, again, dayops.SyncInvalid)
	if r.Revision != broken || r.Serving != first || again.Catalog().Revision() != first {
		t.Fatalf("broken head after restart: %+v", r)
	}
	if _, _, err := again.Checkout(context.Background(), first); err != nil {
		t.Fatalf("checkout of the served revision: %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	key := t.TempDir() + "/missing-key"
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no cache", Options{URL: "https://example.com/ops.git"}, "cache folder"},
		{"no url", Options{CacheDir: t.TempDir()}, "URL is empty"},
		{"path outside", Options{URL: "/tmp/x", CacheDir: t.TempDir(), Path: "../etc"}, "inside the repository"},
		{"token over ssh", Options{URL: "git@github.com:org/ops.git", CacheDir: t.TempDir(), Token: "tok-1234"}, "ssh URL"},
		{"ssh without key", Options{URL: "ssh://git@github.com/org/ops.git", CacheDir: t.TempDir()}, "no SSH key"},
		{"ssh key missing", Options{URL: "ssh://git@github.com/org/ops.git", CacheDir: t.TempDir(), SSHKeyPath: key}, "reading the SSH key"},
		{"key over https", Options{URL: "https://example.com/ops.git", CacheDir: t.TempDir(), SSHKeyPath: key}, "not an ssh URL"},
		{"bad scheme", Options{URL: "ftp://example.com/ops.git", CacheDir: t.TempDir()}, "use https, ssh or a local path"},
		{"bad keys file", Options{URL: "/tmp/x", CacheDir: t.TempDir(), VerifyKeysPath: key}, "signing keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			var de *dayops.Error
			if !errors.As(err, &de) || de.Kind != dayops.KindInvalid || !strings.Contains(de.Message, tt.want) {
				t.Fatalf("New: %v, want an invalid error containing %q", err, tt.want)
			}
		})
	}
}

func waitFor(t testing.TB, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSyncCancelledIsNotAnOutage(t *testing.T) {
	srv, _ := serve(t)
	s, rec := newSyncer(t, srv.URL(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		if r, err := s.Sync(ctx); r.Outcome != dayops.SyncFailed || err == nil {
			t.Fatalf("cancelled sync: %+v %v", r, err)
		}
	}
	if len(rec.Events()) != 0 {
		t.Fatalf("a cancelled sync published %v", rec.Kinds())
	}
	mustSync(t, s, dayops.SyncUpdated)
	if diff := cmp.Diff([]EventKind{EventUpdated}, rec.Kinds()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}
