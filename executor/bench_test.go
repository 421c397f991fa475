package executor_test

import (
	"context"
	"io"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

// BenchmarkBareExecTrue is the floor: starting and waiting for `true`.
func BenchmarkBareExecTrue(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareExecBash is bash itself, started bare: what a step costs
// before dayops adds anything.
func BenchmarkBareExecBash(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("bash", "--noprofile", "--norc", "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepStart is a `true` step through the local runner: bash in its
// own process group, pipes read to their end, the group reaped.
func BenchmarkStepStart(b *testing.B) {
	dir := b.TempDir()
	env := []string{"PATH=/usr/bin:/bin"}
	ctx := context.Background()
	for b.Loop() {
		p, err := executor.LocalRunner{}.Start(ctx, executor.ProcessSpec{Script: "true", Dir: dir, Env: env, KillGrace: time.Second, TempDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); io.Copy(io.Discard, p.Stdout()) }()
		go func() { defer wg.Done(); io.Copy(io.Discard, p.Stderr()) }()
		if code, err := p.Wait(); err != nil || code != 0 {
			b.Fatal(code, err)
		}
		wg.Wait()
	}
}

// BenchmarkRunOneStep is a whole run of one `true` step: plan, record,
// queue, run, and every transition stored with its audit row in SQLite.
func BenchmarkRunOneStep(b *testing.B) {
	h := newHarness(b, map[string]string{"t.yaml": def("noop", "steps:\n  - name: Nothing\n    run: \"true\"\n")}, nil)
	for b.Loop() {
		r := h.start(dayops.RunRequest{Definition: "noop"})
		if err := h.exec.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
		if got := h.done(r.ID); got.State != dayops.RunSucceeded {
			b.Fatal(got.State, got.Reason)
		}
	}
}

// BenchmarkQueuedRunsMemory measures the memory of 1,000 runs waiting for
// one concurrency key.
func BenchmarkQueuedRunsMemory(b *testing.B) {
	const n = 1000
	h := newHarness(b, map[string]string{"q.yaml": def("q", `
params:
  hold: {type: bool, default: false}
concurrency: one
steps:
  - name: Work
    run: if $DAYOPS_PARAM_HOLD; then sleep 300; fi
`)}, func(o *executor.Options) { o.KillGrace = 50 * time.Millisecond })
	ctx := context.Background()
	for b.Loop() {
		holder := h.start(dayops.RunRequest{Definition: "q", Params: map[string]string{"hold": "true"}})
		h.wait(holder.ID, dayops.RunRunning)
		before := heapInUse()
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = h.start(dayops.RunRequest{Definition: "q"}).ID
		}
		h.wait(ids[n-1], dayops.RunQueued)
		after := heapInUse()
		b.ReportMetric(float64(after-before)/n, "heap-B/queued-run")
		b.ReportMetric(float64(after-before), "heap-B/1000-queued")
		b.StopTimer()
		if err := h.exec.Cancel(ctx, holder.ID, actor("alice"), thread); err != nil {
			b.Fatal(err)
		}
		if err := h.exec.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkOneMegabyteOfOutput runs a step printing 1 MB (10,000 lines of 100
// bytes) and reports the heap it cost at its peak, and lines stored per second.
func BenchmarkOneMegabyteOfOutput(b *testing.B) {
	h := newHarness(b, map[string]string{"o.yaml": def("loud", `
steps:
  - name: Talk
    run: head -c 1000000 /dev/zero | tr '\0' x | fold -w 100
`)}, nil)
	for b.Loop() {
		base := heapInUse()
		stop := make(chan struct{})
		peak := peakHeap(stop)
		start := time.Now()
		r := h.start(dayops.RunRequest{Definition: "loud"})
		if err := h.exec.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		close(stop)
		p := <-peak
		b.StopTimer()
		if got := h.done(r.ID); got.State != dayops.RunSucceeded {
			b.Fatal(got.State, got.Reason)
		}
		lines, err := h.store.Logs(context.Background(), r.ID, 0, 0)
		if err != nil || len(lines) != 10000 {
			b.Fatalf("%d lines stored (%v)", len(lines), err)
		}
		b.ReportMetric(float64(p-min(p, base)), "peak-heap-B/1MB-run")
		b.ReportMetric(float64(len(lines))/d.Seconds(), "lines/s")
		b.StartTimer()
	}
}

// BenchmarkLogIngestion pushes 100,000 short lines through a run, next to
// BenchmarkAppendLogsDirect, the same rows stored in batches of 500 straight
// into the store.
func BenchmarkLogIngestion(b *testing.B) {
	h := newHarness(b, map[string]string{"o.yaml": def("lines", `
steps:
  - name: Talk
    run: seq 1 100000
`)}, nil)
	for b.Loop() {
		start := time.Now()
		r := h.start(dayops.RunRequest{Definition: "lines"})
		if err := h.exec.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(100000/time.Since(start).Seconds(), "lines/s")
		if got := h.done(r.ID); got.State != dayops.RunSucceeded {
			b.Fatal(got.State)
		}
	}
}

func BenchmarkAppendLogsDirect(b *testing.B) {
	h := newHarness(b, map[string]string{"o.yaml": def("lines", "steps:\n  - name: Nothing\n    run: \"true\"\n")}, nil)
	r := h.start(dayops.RunRequest{Definition: "lines"})
	h.done(r.ID)
	ctx := context.Background()
	seq := int64(1000)
	for b.Loop() {
		start := time.Now()
		batch := make([]dayops.LogLine, 0, 500)
		for i := 0; i < 100000; i++ {
			seq++
			batch = append(batch, dayops.LogLine{RunID: r.ID, Seq: seq, Time: start, Stream: dayops.Stdout, Text: "123456"})
			if len(batch) == 500 {
				if err := h.store.AppendLogs(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		b.ReportMetric(100000/time.Since(start).Seconds(), "lines/s")
	}
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// peakHeap samples the heap until stop is closed and returns the highest.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var m runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}
