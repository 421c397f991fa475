package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing/fstest"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/gitsync"
)

// syncDefinition is a small valid definition.
func syncDefinition(name, say string) string {
	return fmt.Sprintf(`apiVersion: dayops/v1
phase: day2
name: %s
description: Restart
steps:
  - name: Restart
    run: echo %s
`, name, say)
}

// definitionFiles returns n definitions under ops/, in ten folders.
func definitionFiles(n int, say string) map[string]string {
	files := make(map[string]string, n)
	for i := range n {
		name := fmt.Sprintf("def-%04d", i)
		files[fmt.Sprintf("ops/team-%d/%s.yaml", i%10, name)] = syncDefinition(name, say)
	}
	return files
}

// refspec is what the git CLI baseline fetches: the branch, as gitsync does.
const refspec = "+refs/heads/" + branch + ":refs/remotes/origin/" + branch

// syncEvents is a gitsync.Events that forwards events without blocking.
type syncEvents chan gitsync.Event

// SyncEvent implements gitsync.Events.
func (c syncEvents) SyncEvent(ev gitsync.Event) {
	select {
	case c <- ev:
	default:
	}
}

// syncOnce runs one sync and checks its outcome and definition count.
func syncOnce(ctx context.Context, s *gitsync.Syncer, want dayops.SyncOutcome, defs int) (float64, error) {
	var rec dayops.SyncRecord
	ns, err := timed(func() error {
		var err error
		rec, err = s.Sync(ctx)
		return err
	})
	if err != nil {
		return 0, err
	}
	if rec.Outcome != want || rec.Definitions != defs {
		return 0, fmt.Errorf("sync: %s with %d definitions, want %s with %d (errors %v)", rec.Outcome, rec.Definitions, want, defs, rec.Errors)
	}
	return ns, nil
}

// gitsyncFigures measures gitsync next to the git CLI on the same
// repositories.
func gitsyncFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	srv, err := startGitServer(ctx, filepath.Join(dir, "server"))
	if err != nil {
		return nil, err
	}
	defer srv.close()
	files := definitionFiles(100, "start")
	files["scripts/deploy.sh"] = "#!/bin/sh\necho deploy\n"
	if _, err := srv.commit(ctx, "100 definitions", files, ""); err != nil {
		return nil, err
	}
	var rows []Row
	for _, tr := range []struct{ id, name, url string }{
		{"sync-noop-http", "HTTP", srv.url},
		{"sync-noop-file", "local path", srv.bare},
	} {
		r, err := noopSync(ctx, cfg, tr.url, filepath.Join(dir, tr.id))
		if err != nil {
			return nil, fmt.Errorf("no-op sync over %s: %w", tr.name, err)
		}
		r.ID, r.Figure = tr.id, "no-op sync (100 definitions), "+tr.name
		r.Note = "git fetch starts several processes (git, git-remote-http or git-upload-pack, fetch-pack), so it carries this machine's process start-up cost (see exec true above)"
		if tr.id == "sync-noop-file" {
			r.Note = "gitsync serves local paths with go-git's in-process upload-pack; the git CLI starts git-upload-pack"
		}
		rows = append(rows, r)
	}
	clone := filepath.Join(dir, "clone.git")
	if _, err := git(ctx, "", "clone", "-q", "--bare", srv.url, clone); err != nil {
		return nil, err
	}
	r, err := sync1000(ctx, cfg, srv, clone, filepath.Join(dir, "cache-1000"))
	if err != nil {
		return nil, err
	}
	rows = append(rows, r)
	if r, err = load1000(cfg); err != nil {
		return nil, err
	}
	rows = append(rows, r)
	if r, err = pushToCatalog(ctx, cfg, srv, clone, filepath.Join(dir, "cache-push")); err != nil {
		return nil, err
	}
	rows = append(rows, r)
	first, err := firstSync(ctx, cfg, filepath.Join(dir, "history"))
	if err != nil {
		return nil, err
	}
	return append(rows, first...), nil
}

// noopSync times a sync of an unchanged branch next to `git fetch` of the
// same branch by the git CLI into a bare clone.
func noopSync(ctx context.Context, cfg config, url, dir string) (Row, error) {
	s, err := gitsync.New(gitsync.Options{URL: url, CacheDir: filepath.Join(dir, "cache"), Interval: time.Hour})
	if err != nil {
		return Row{}, err
	}
	defer s.Close()
	if _, err := syncOnce(ctx, s, dayops.SyncUpdated, 100); err != nil {
		return Row{}, err
	}
	clone := filepath.Join(dir, "clone.git")
	if _, err := git(ctx, "", "clone", "-q", "--bare", url, clone); err != nil {
		return Row{}, err
	}
	fetch := func() error {
		_, err := git(ctx, clone, "fetch", "-q", "--no-tags", url, refspec)
		return err
	}
	var syncs, fetches []float64
	for i := range 2 * cfg.Reps {
		ns, err := syncOnce(ctx, s, dayops.SyncUnchanged, 100)
		if err != nil {
			return Row{}, err
		}
		fns, err := timed(fetch)
		if err != nil {
			return Row{}, err
		}
		if i > 0 { // the first of each warms up
			syncs, fetches = append(syncs, ns), append(fetches, fns)
		}
	}
	r := Row{Kind: kindTime, Value: median(syncs), Baseline: "git fetch", Base: median(fetches), Target: "<= 1.5x git fetch"}
	r.check(r.Ratio() <= 1.5)
	return r, nil
}

// sync1000 times syncs of new revisions that each change all of 1,000
// definitions, next to `git fetch` of the same commits by the git CLI.
func sync1000(ctx context.Context, cfg config, srv *gitServer, clone, cache string) (Row, error) {
	s, err := gitsync.New(gitsync.Options{URL: srv.url, CacheDir: cache, Interval: time.Hour})
	if err != nil {
		return Row{}, err
	}
	defer s.Close()
	if _, err := syncOnce(ctx, s, dayops.SyncUpdated, 100); err != nil {
		return Row{}, err
	}
	var syncs, fetches []float64
	for i := range cfg.Reps {
		sha, err := srv.commit(ctx, "1000 definitions", definitionFiles(cfg.Defs, fmt.Sprint("version-", i)), "ops")
		if err != nil {
			return Row{}, err
		}
		ns, err := syncOnce(ctx, s, dayops.SyncUpdated, cfg.Defs)
		if err != nil {
			return Row{}, err
		}
		if got := s.Catalog().Revision(); got != sha {
			return Row{}, fmt.Errorf("catalog at %s after the sync, want %s", got, sha)
		}
		fns, err := timed(func() error {
			_, err := git(ctx, clone, "fetch", "-q", "--no-tags", srv.url, refspec)
			return err
		})
		if err != nil {
			return Row{}, err
		}
		syncs, fetches = append(syncs, ns), append(fetches, fns)
	}
	r := Row{ID: "sync-1000", Kind: kindTime,
		Figure:   fmt.Sprintf("sync of a new revision changing all %s definitions, HTTP", thousands(float64(cfg.Defs))),
		Value:    median(syncs),
		Baseline: "git fetch of it", Base: median(fetches), Target: "< 300 ms",
		Note: "fetch, load from the git tree, validate, swap; every definition file is new in each revision",
	}
	r.check(r.Value < 300e6)
	return r, nil
}

// load1000 times loading and validating 1,000 definitions from memory, next
// to decoding the same files with yaml.v3 into maps and nothing else.
func load1000(cfg config) (Row, error) {
	fsys := fstest.MapFS{}
	for p, c := range definitionFiles(cfg.Defs, "load") {
		fsys[p] = &fstest.MapFile{Data: []byte(c), Mode: 0o644}
	}
	var loads, decodes []float64
	for range cfg.Reps + 1 {
		ns, err := timed(func() error {
			cat, problems := gitsync.LoadFS(fsys, "ops", "bench")
			if len(problems) > 0 || cat.Len() != cfg.Defs {
				return fmt.Errorf("loading %d definitions: %d loaded, problems %v", cfg.Defs, cat.Len(), problems)
			}
			return nil
		})
		if err != nil {
			return Row{}, err
		}
		dns, err := timed(func() error {
			for p, f := range fsys {
				var m map[string]any
				if err := yaml.Unmarshal(f.Data, &m); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
			}
			return nil
		})
		if err != nil {
			return Row{}, err
		}
		loads, decodes = append(loads, ns), append(decodes, dns)
	}
	r := Row{ID: "load-1000", Kind: kindTime,
		Figure:   fmt.Sprintf("load + validate %s definitions alone (gitsync.LoadFS, in memory)", thousands(float64(cfg.Defs))),
		Value:    median(loads[1:]),
		Baseline: "yaml.v3 decode into maps", Base: median(decodes[1:]), Target: "< 300 ms",
	}
	r.check(r.Value < 300e6)
	return r, nil
}

// pushToCatalog times from Trigger (as a push webhook calls it) to the new
// revision serving, while Run loops with a one-hour interval; each push
// changes one definition of the 1,000.
func pushToCatalog(ctx context.Context, cfg config, srv *gitServer, clone, cache string) (Row, error) {
	events := make(syncEvents, 64)
	s, err := gitsync.New(gitsync.Options{URL: srv.url, CacheDir: cache, Interval: time.Hour, Events: events})
	if err != nil {
		return Row{}, err
	}
	defer s.Close()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(rctx) })
	defer wg.Wait()
	defer cancel()
	updated := func(sha string) error {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.Kind == gitsync.EventUpdated && (sha == "" || ev.Revision == sha) {
					return nil
				}
			case <-timeout:
				return fmt.Errorf("revision %q not serving after 30 s", sha)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if err := updated(""); err != nil { // Run's first sync
		return Row{}, err
	}
	var lats, fetches []float64
	for i := range cfg.Reps {
		change := map[string]string{"ops/team-0/def-0000.yaml": syncDefinition("def-0000", fmt.Sprint("push-", i))}
		sha, err := srv.commit(ctx, "push", change, "")
		if err != nil {
			return Row{}, err
		}
		ns, err := timed(func() error {
			s.Trigger()
			return updated(sha)
		})
		if err != nil {
			return Row{}, err
		}
		fns, err := timed(func() error {
			_, err := git(ctx, clone, "fetch", "-q", "--no-tags", srv.url, refspec)
			return err
		})
		if err != nil {
			return Row{}, err
		}
		lats, fetches = append(lats, ns), append(fetches, fns)
	}
	r := Row{ID: "push-to-catalog", Kind: kindTime,
		Figure:   fmt.Sprintf("push-to-catalog with Trigger (%s definitions, HTTP)", thousands(float64(cfg.Defs))),
		Value:    median(lats),
		Baseline: "git fetch of it", Base: median(fetches), Target: "< 1 s",
		Note: "from Trigger() to the updated event of the pushed revision, Run looping with a 1 h interval",
	}
	r.check(r.Value < 1e9)
	return r, nil
}

// firstSync measures the peak heap and the time of a first sync of a
// repository with cfg.Commits commits, next to `git clone --bare`.
func firstSync(ctx context.Context, cfg config, dir string) ([]Row, error) {
	srv, err := startGitServer(ctx, filepath.Join(dir, "server"))
	if err != nil {
		return nil, err
	}
	defer srv.close()
	if _, err := srv.history(ctx, definitionFiles(100, "start"), cfg.Commits); err != nil {
		return nil, err
	}
	// Memory and time are measured in separate syncs and clones, so that
	// the samplers slow neither timed one.
	first := func(name string) (float64, error) {
		s, err := gitsync.New(gitsync.Options{URL: srv.url, CacheDir: filepath.Join(dir, name), Interval: time.Hour})
		if err != nil {
			return 0, err
		}
		defer s.Close()
		return syncOnce(ctx, s, dayops.SyncUpdated, 100)
	}
	var peaks, times, rss, clones []float64
	for i := range cfg.SlowReps {
		settle()
		base := heapNow()
		stop := peakHeap()
		_, err := first(fmt.Sprint("cache-mem-", i))
		peak := stop()
		if err != nil {
			return nil, err
		}
		ns, err := first(fmt.Sprint("cache-time-", i))
		if err != nil {
			return nil, err
		}
		peakRSS, err := gitPeakRSS(ctx, "", "clone", "-q", "--bare", srv.url, filepath.Join(dir, fmt.Sprint("clone-mem-", i, ".git")))
		if err != nil {
			return nil, err
		}
		cns, err := timed(func() error {
			_, err := git(ctx, "", "clone", "-q", "--bare", srv.url, filepath.Join(dir, fmt.Sprint("clone-time-", i, ".git")))
			return err
		})
		if err != nil {
			return nil, err
		}
		peaks, times = append(peaks, float64(peak)-float64(base)), append(times, ns)
		rss, clones = append(rss, peakRSS), append(clones, cns)
	}
	n := thousands(float64(cfg.Commits + 1))
	return []Row{{ID: "firstsync-heap", Kind: kindBytes,
		Figure:   fmt.Sprintf("peak heap growth, first sync of %s commits, HTTP", n),
		Value:    median(peaks),
		Baseline: "git clone --bare peak RSS", Base: median(rss),
		Note: "Go heap objects (garbage included, and the in-process HTTP server's buffers) against the resident memory of git and its helpers (sum of each process's VmHWM): a reference, not like for like",
	}, {ID: "firstsync-time", Kind: kindTime,
		Figure:   fmt.Sprintf("first sync of %s commits (clone + load), HTTP", n),
		Value:    median(times),
		Baseline: "git clone --bare", Base: median(clones),
	}}, nil
}
