package gitsync

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

// def is a valid minimal definition named name whose step echoes say.
func def(name, say string) string {
	return fmt.Sprintf(`apiVersion: dayops/v1
phase: day2
name: %s
description: Restart
steps:
  - name: Restart
    run: echo %s
`, name, say)
}

// recorder is the History and Events of a test Syncer.
type recorder struct {
	mu      sync.Mutex
	records []dayops.SyncRecord
	events  []Event
}

func (r *recorder) RecordSync(_ context.Context, rec *dayops.SyncRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.ID = int64(len(r.records) + 1)
	r.records = append(r.records, *rec)
	return nil
}

func (r *recorder) SyncEvent(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) Records() []dayops.SyncRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dayops.SyncRecord(nil), r.records...)
}

// Kinds lists the kinds of the events published so far.
func (r *recorder) Kinds() []EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []EventKind
	for _, ev := range r.events {
		out = append(out, ev.Kind)
	}
	return out
}

func (r *recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// newSyncer makes a Syncer for url with a fresh cache, recording into rec.
func newSyncer(t testing.TB, url string, edit func(*Options)) (*Syncer, *recorder) {
	t.Helper()
	rec := &recorder{}
	opts := Options{
		URL:      url,
		CacheDir: t.TempDir(),
		Interval: time.Hour,
		History:  rec,
		Events:   rec,
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, rec
}

// testWriter sends log lines to the test log while the test runs.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	if !testing.Verbose() {
		return len(p), nil
	}
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// mustSync runs one sync and checks its outcome.
func mustSync(t testing.TB, s *Syncer, want dayops.SyncOutcome) dayops.SyncRecord {
	t.Helper()
	rec, err := s.Sync(context.Background())
	if rec.Outcome != want {
		t.Fatalf("sync outcome %q (err %v, errors %q), want %q", rec.Outcome, err, rec.Errors, want)
	}
	if (err != nil) != (want == dayops.SyncFailed) {
		t.Fatalf("sync error %v with outcome %q", err, rec.Outcome)
	}
	return rec
}

// readExport reads a file of an export.
func readExport(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatalf("reading %s from the export: %v", name, err)
	}
	return string(b)
}

// serve starts a git server with one valid definition committed.
func serve(t testing.TB) (*gitserver.Server, string) {
	t.Helper()
	srv := gitserver.New(t)
	sha := srv.Commit("first", map[string]string{"ops/restart-web.yaml": def("restart-web", "one")})
	return srv, sha
}
