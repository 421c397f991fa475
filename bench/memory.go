package main

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// heapObjects is the runtime metric sampled for peak heap: the bytes of heap
// objects, live ones and dead ones not yet swept, so it is what the heap
// really held at the moment, garbage included.
const heapObjects = "/memory/classes/heap/objects:bytes"

// heapNow returns the bytes of heap objects now.
func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// settle collects garbage twice, so that the next reading holds only live
// objects.
func settle() {
	runtime.GC()
	runtime.GC()
}

// memStats returns runtime.MemStats after settle.
func memStats() runtime.MemStats {
	settle()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

// heapInUse returns runtime.MemStats.HeapInuse after settle.
func heapInUse() uint64 { return memStats().HeapInuse }

// peakHeap samples heap objects every millisecond until stop is called,
// which returns the largest value seen.
func peakHeap() (stop func() uint64) {
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, heapNow())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return max(peak, heapNow())
	}
}

// memoryFigures measures the heap of runs queued behind one concurrency key
// and the peak heap of a run printing 1 MiB.
func memoryFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	out, err := outputMemory(ctx, cfg, dir+"/output")
	if err != nil {
		return nil, err
	}
	queued, err := queuedMemory(ctx, cfg, dir+"/queued")
	if err != nil {
		return nil, err
	}
	return []Row{queued, out}, nil
}

// oneMiB prints 16,384 lines of 63 characters and a newline: 1 MiB.
var oneMiB = definition("one-mib", `steps:
  - name: print
    run: seq -f '%063g' 1 16384
`)

// outputMemory measures the peak heap growth during a run printing 1 MiB.
func outputMemory(ctx context.Context, cfg config, dir string) (Row, error) {
	h, err := newHarness(ctx, dir, map[string]string{"mib.yaml": oneMiB})
	if err != nil {
		return Row{}, err
	}
	defer h.close()
	if _, _, err := h.runToEnd(ctx, "one-mib", nil); err != nil { // warm up
		return Row{}, err
	}
	var peaks, kept []float64
	for range cfg.Reps {
		before := heapInUse()
		base := heapNow()
		stop := peakHeap()
		_, run, err := h.runToEnd(ctx, "one-mib", nil)
		peak := stop()
		if err != nil {
			return Row{}, err
		}
		if len(run.Steps) != 1 {
			return Row{}, fmt.Errorf("run %d has %d steps", run.ID, len(run.Steps))
		}
		peaks = append(peaks, float64(peak)-float64(base))
		kept = append(kept, float64(heapInUse())-float64(before))
	}
	r := Row{ID: "mem-output", Kind: kindBytes,
		Figure:   "peak heap growth during a run printing 1 MiB (16,384 lines)",
		Value:    median(peaks),
		Baseline: "the output itself", Base: 1 << 20,
		Target: "< 10 MB",
		Note: fmt.Sprintf("heap objects sampled every 1 ms from a collected heap, garbage not yet collected included; heap in use kept after the run and a GC: %s",
			format(kindBytes, median(kept))),
	}
	r.check(r.Value < 10e6)
	return r, nil
}

// queuedDefinition holds its concurrency key for 300 s.
var queuedDefinition = definition("queued", `concurrency: bench-queue
steps:
  - name: hold
    run: sleep 300
`)

// queuedMemory measures the heap in use of cfg.Queued runs waiting behind a
// long first run with the same concurrency key.
func queuedMemory(ctx context.Context, cfg config, dir string) (Row, error) {
	h, err := newHarness(ctx, dir, map[string]string{"queued.yaml": queuedDefinition})
	if err != nil {
		return Row{}, err
	}
	defer h.close()
	counter, err := openCounter(h.db)
	if err != nil {
		return Row{}, err
	}
	defer counter.Close()
	first, err := h.start(ctx, "queued", nil)
	if err != nil {
		return Row{}, err
	}
	if err := waitCount(ctx, counter, "SELECT COUNT(*) FROM step_runs WHERE run_id = ? AND state = 'running'", 1, first.ID); err != nil {
		return Row{}, fmt.Errorf("waiting for the first run to hold the key: %w", err)
	}
	goroutines := runtime.NumGoroutine()
	before := memStats()
	for range cfg.Queued {
		if _, err := h.start(ctx, "queued", nil); err != nil {
			return Row{}, err
		}
	}
	if err := waitCount(ctx, counter, "SELECT COUNT(*) FROM runs WHERE state = 'queued' AND id > ?", cfg.Queued, first.ID); err != nil {
		return Row{}, fmt.Errorf("waiting for the runs to queue: %w", err)
	}
	after := memStats()
	delta := float64(after.HeapInuse) - float64(before.HeapInuse)
	stacks := float64(after.StackInuse) - float64(before.StackInuse)
	return Row{ID: "mem-queued", Kind: kindBytes,
		Figure:   fmt.Sprintf("heap in use of %s runs queued behind one key", thousands(float64(cfg.Queued))),
		Value:    delta,
		Baseline: fmt.Sprintf("heap in use before: %s", format(kindBytes, float64(before.HeapInuse))),
		Note: fmt.Sprintf("%s B per queued run; runtime.MemStats.HeapInuse after two GCs, while run %d sleeps holding the key; not counted: %d more goroutines whose stacks take %s more (StackInuse)",
			thousands(delta/float64(cfg.Queued)), first.ID, runtime.NumGoroutine()-goroutines, format(kindBytes, stacks)),
	}, nil
}

// waitCount polls query (with args) until it counts want rows, for at most a
// minute.
func waitCount(ctx context.Context, db *sql.DB, query string, want int, args ...any) error {
	deadline := time.Now().Add(time.Minute)
	var got int
	for {
		if err := db.QueryRowContext(ctx, query, args...).Scan(&got); err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d rows, want %d", got, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
