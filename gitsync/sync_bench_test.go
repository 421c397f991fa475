package gitsync

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

// benchRepo serves a repository with n definitions.
func benchRepo(b *testing.B, n int) *gitserver.Server {
	b.Helper()
	srv := gitserver.New(b)
	files := map[string]string{"scripts/deploy.sh": "#!/bin/sh\necho deploy\n"}
	for i := range n {
		name := fmt.Sprintf("def-%04d", i)
		files[fmt.Sprintf("ops/team-%d/%s.yaml", i%10, name)] = def(name, name)
	}
	srv.Commit("definitions", files)
	return srv
}

// BenchmarkNoopSync is a sync of an unchanged branch: one fetch, nothing
// else. Compare with BenchmarkGitFetch on the same kind of repository.
func BenchmarkNoopSync(b *testing.B) {
	srv := benchRepo(b, 100)
	for _, tt := range []struct{ name, url string }{{"http", srv.URL()}, {"file", srv.Path()}} {
		b.Run(tt.name, func(b *testing.B) {
			s, err := New(Options{URL: tt.url, CacheDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			mustSync(b, s, dayops.SyncUpdated)
			b.ReportAllocs()
			for b.Loop() {
				if rec, err := s.Sync(context.Background()); err != nil || rec.Outcome != dayops.SyncUnchanged {
					b.Fatalf("%v %v", rec.Outcome, err)
				}
			}
		})
	}
}

// BenchmarkGitFetch is the baseline: `git fetch` of the same branch by the
// git CLI into a bare clone, with nothing new to fetch.
func BenchmarkGitFetch(b *testing.B) {
	srv := benchRepo(b, 100)
	for _, tt := range []struct{ name, url string }{{"http", srv.URL()}, {"file", srv.Path()}} {
		b.Run(tt.name, func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "clone.git")
			git := func(args ...string) {
				cmd := exec.Command("git", args...)
				cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("git %v: %v\n%s", args, err, out)
				}
			}
			git("clone", "-q", "--bare", tt.url, dir)
			refspec := "+refs/heads/" + gitserver.Branch + ":refs/remotes/origin/" + gitserver.Branch
			for b.Loop() {
				git("-C", dir, "fetch", "-q", "--no-tags", tt.url, refspec)
			}
		})
	}
}

// BenchmarkLoad1000 loads and validates 1,000 definitions from a git tree,
// with a cold object cache, as a sync does for a new revision.
func BenchmarkLoad1000(b *testing.B) {
	srv := benchRepo(b, 1000)
	s, err := New(Options{URL: srv.Path(), CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	head, _, err := s.repo.fetch(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.repo.readMu.Lock()
		s.repo.reader = newStorage(s.repo.dir)
		s.repo.readMu.Unlock()
		cat, problems, err := s.loadRevision(head)
		if err != nil || len(problems) > 0 || cat.Len() != 1000 {
			b.Fatalf("%v %v %d", err, problems, cat.Len())
		}
	}
}

// BenchmarkSyncNewRevision1000 is a whole sync of a new revision of a
// repository of 1,000 definitions over HTTP: fetch, load, validate, swap.
func BenchmarkSyncNewRevision1000(b *testing.B) {
	srv := benchRepo(b, 1000)
	s, err := New(Options{URL: srv.URL(), CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	mustSync(b, s, dayops.SyncUpdated)
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		srv.Commit("change", map[string]string{"ops/team-0/def-0000.yaml": def("def-0000", fmt.Sprint("change-", i))})
		b.StartTimer()
		if rec, err := s.Sync(context.Background()); err != nil || rec.Outcome != dayops.SyncUpdated || rec.Definitions != 1000 {
			b.Fatalf("%+v %v", rec, err)
		}
	}
}

// BenchmarkFirstSync10000Commits clones a repository with 10,000 commits
// and loads its head, reporting the peak live heap while doing it.
func BenchmarkFirstSync10000Commits(b *testing.B) {
	srv := benchRepo(b, 100)
	srv.CommitMany(10_000)
	var peak uint64
	for b.Loop() {
		runtime.GC()
		stop := sampleHeap(&peak)
		s, err := New(Options{URL: srv.URL(), CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		mustSync(b, s, dayops.SyncUpdated)
		stop()
		s.Close()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// sampleHeap records the largest live heap seen every millisecond until
// stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			*peak = max(*peak, samples[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
