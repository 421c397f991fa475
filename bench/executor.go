package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/gitsync"
	"github.com/dayops/dayops/storage"
)

// harness is a real executor on a real SQLite file, running definitions from
// a plain folder.
type harness struct {
	defs  string // the definitions folder, also the runs' working directory
	db    string
	store *storage.Store
	exec  *executor.Executor
	cat   *dayops.Catalog
}

// catalogs serves one catalog, loaded once.
type catalogs struct{ cat *dayops.Catalog }

// Catalog implements executor.Catalogs.
func (c catalogs) Catalog() *dayops.Catalog { return c.cat }

// DefinitionAt implements executor.Catalogs.
func (c catalogs) DefinitionAt(_ context.Context, revision, name string) (*dayops.Definition, error) {
	if revision != c.cat.Revision() {
		return nil, dayops.Errorf(dayops.KindNotFound, "no revision %s", revision)
	}
	return c.cat.Get(name)
}

// workspace serves the definitions folder for every revision.
type workspace struct{ dir string }

// Checkout implements executor.Workspace.
func (w workspace) Checkout(context.Context, string) (string, func(), error) {
	return w.dir, func() {}, nil
}

// benchActor starts every run.
var benchActor = dayops.Actor{ID: "bench:runner", Name: "bench"}

// newHarness writes files (name -> content) into dir/defs, loads them, opens
// dir/dayops.db and starts an executor.
func newHarness(ctx context.Context, dir string, files map[string]string) (*harness, error) {
	return newHarnessWith(ctx, dir, files, nil)
}

// newHarnessWith is newHarness with tune changing the executor's options.
func newHarnessWith(ctx context.Context, dir string, files map[string]string, tune func(*executor.Options)) (*harness, error) {
	return newHarnessOn(ctx, dir, filepath.Join(dir, "dayops.db"), files, tune)
}

// newHarnessOn is newHarnessWith on the database db (a SQLite file or a
// postgres:// URL).
func newHarnessOn(ctx context.Context, dir, db string, files map[string]string, tune func(*executor.Options)) (*harness, error) {
	h := &harness{defs: filepath.Join(dir, "defs"), db: db}
	if err := os.MkdirAll(h.defs, 0o755); err != nil {
		return nil, err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(h.defs, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	cat, problems, err := gitsync.LoadDir(h.defs)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("bench definitions are invalid: %v", problems)
	}
	h.cat = cat
	if h.store, err = storage.Open(ctx, h.db, storage.Options{}); err != nil {
		return nil, err
	}
	opts := executor.Options{
		Store: h.store, Catalogs: catalogs{cat}, Workspace: workspace{h.defs},
		KillGrace: 200 * time.Millisecond, DefaultTimeout: 10 * time.Minute,
		// The ingestion figure stores every line it prints (200,000 lines,
		// about 28 MiB charged): budgets above it, so that it measures the
		// output path and not the budget.
		StepOutputBudget: 1 << 30, RunOutputBudget: 1 << 30,
	}
	if tune != nil {
		tune(&opts)
	}
	h.exec, err = executor.New(opts)
	if err != nil {
		h.store.Close()
		return nil, err
	}
	return h, nil
}

// close stops the executor (cancelling what still runs) and the store.
func (h *harness) close() error {
	err := h.exec.Close()
	if cerr := h.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// start starts a run of definition with params.
func (h *harness) start(ctx context.Context, definition string, params map[string]string) (*dayops.Run, error) {
	return h.exec.Start(ctx, dayops.RunRequest{
		Definition: definition, Params: params, Actor: benchActor,
		Thread: dayops.Thread{Door: "bench", Channel: "bench"}, Trigger: dayops.TriggerCLI,
	})
}

// runToEnd starts a run, waits for the executor to be idle and checks that
// the run succeeded. It returns the wall time from Start to the end.
func (h *harness) runToEnd(ctx context.Context, definition string, params map[string]string) (float64, *dayops.Run, error) {
	var run *dayops.Run
	ns, err := timed(func() error {
		var err error
		if run, err = h.start(ctx, definition, params); err != nil {
			return err
		}
		return h.exec.Wait(ctx)
	})
	if err != nil {
		return 0, nil, err
	}
	got, err := h.store.Run(ctx, run.ID)
	if err != nil {
		return 0, nil, err
	}
	if got.State != dayops.RunSucceeded {
		return 0, nil, fmt.Errorf("run %d of %s ended %s: %s", got.ID, definition, got.State, got.Reason)
	}
	return ns, got, nil
}

// definition renders a day2 definition with body (params, steps …).
func definition(name, body string) string {
	return "apiVersion: dayops/v1\nphase: day2\nname: " + name + "\ndescription: bench\n" + body
}

// trueSteps renders n steps that run `true`.
func trueSteps(n int) string {
	var b strings.Builder
	b.WriteString("steps:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: step-%d\n    run: \"true\"\n", i)
	}
	return b.String()
}

// stepOverhead measures runs of `true` steps through the executor next to
// bare execs of true and of bash -c true.
func stepOverhead(ctx context.Context, cfg config, dir string) ([]Row, error) {
	h, err := newHarness(ctx, dir, map[string]string{
		"many.yaml": definition("many-true", trueSteps(cfg.Steps)),
		"one.yaml":  definition("one-true", trueSteps(1)),
	})
	if err != nil {
		return nil, err
	}
	defer h.close()
	bash, err := exec.LookPath("bash")
	if err != nil {
		return nil, err
	}
	execs := func(name string, args ...string) (float64, error) {
		ns, err := timed(func() error {
			for range cfg.Execs {
				if err := exec.Command(name, args...).Run(); err != nil {
					return fmt.Errorf("%s %v: %w", name, args, err)
				}
			}
			return nil
		})
		return ns / float64(cfg.Execs), err
	}
	// One of each first, to warm the page cache and the database.
	if _, _, err := h.runToEnd(ctx, "one-true", nil); err != nil {
		return nil, err
	}
	var perStep, perRun, bare, viaBash []float64
	for range cfg.Reps {
		ns, run, err := h.runToEnd(ctx, "many-true", nil)
		if err != nil {
			return nil, err
		}
		if len(run.Steps) != cfg.Steps {
			return nil, fmt.Errorf("run %d has %d steps, want %d", run.ID, len(run.Steps), cfg.Steps)
		}
		perStep = append(perStep, ns/float64(cfg.Steps))
		ns, _, err = h.runToEnd(ctx, "one-true", nil)
		if err != nil {
			return nil, err
		}
		perRun = append(perRun, ns)
		ns, err = execs("true")
		if err != nil {
			return nil, err
		}
		bare = append(bare, ns)
		ns, err = execs(bash, "-c", "true")
		if err != nil {
			return nil, err
		}
		viaBash = append(viaBash, ns)
	}
	b, vb := median(bare), median(viaBash)
	step := Row{ID: "step-overhead", Kind: kindTime,
		Figure:   fmt.Sprintf("step start: run of %d `true` steps / %d", cfg.Steps, cfg.Steps),
		Value:    median(perStep),
		Baseline: "exec true", Base: b, Target: "<= 2x exec true",
		Note: fmt.Sprintf("executor + SQLite per step %s; against `bash -c true` (%s, what the executor starts) it is %.2fx; the executor runs `bash --noprofile --norc -eo pipefail -c`, records each step twice and reads its pipes",
			format(kindTime, median(perStep)), format(kindTime, vb), median(perStep)/vb),
	}
	step.check(step.Ratio() <= 2)
	runRow := Row{ID: "run-overhead", Kind: kindTime,
		Figure:   "whole run of one `true` step (Start to end)",
		Value:    median(perRun),
		Baseline: "bash -c true", Base: vb,
		Note: fmt.Sprintf("includes recording the run, its state changes and audit rows; %.2fx exec true", median(perRun)/b),
	}
	return []Row{step, runRow}, nil
}

// logText is the text of output line i, as the log step prints it with seq.
func logText(i int) string {
	return fmt.Sprintf("%06d deployment.apps/web image updated to registry.example.com/web:v1.2.3", i)
}

// logsDefinition prints $lines lines like logText with seq.
var logsDefinition = definition("print-lines", `params:
  lines: {type: int, required: true}
steps:
  - name: print
    run: seq -f '%06g deployment.apps/web image updated to registry.example.com/web:v1.2.3' 1 "$DAYOPS_PARAM_LINES"
`)

// logIngestion measures lines stored per second through the executor and
// through storage.AppendLogs, next to a plain batched insert loop.
func logIngestion(ctx context.Context, cfg config, dir string) ([]Row, error) {
	h, err := newHarness(ctx, dir, map[string]string{"print.yaml": logsDefinition})
	if err != nil {
		return nil, err
	}
	defer h.close()
	plain, err := openPlain(ctx, filepath.Join(dir, "plain.db"))
	if err != nil {
		return nil, err
	}
	defer plain.close()
	counter, err := openCounter(h.db)
	if err != nil {
		return nil, err
	}
	defer counter.Close()
	n := cfg.LogLines
	texts := make([]string, n)
	for i := range texts {
		texts[i] = logText(i + 1)
	}
	params := map[string]string{"lines": fmt.Sprint(n)}
	var viaExec, viaAppend, viaPlain []float64
	for range cfg.SlowReps {
		ns, run, err := h.runToEnd(ctx, "print-lines", params)
		if err != nil {
			return nil, err
		}
		var stored int
		var last string
		if err := counter.QueryRowContext(ctx, "SELECT COUNT(*) FROM log_lines WHERE run_id = ? AND stream = 'stdout'", run.ID).Scan(&stored); err != nil {
			return nil, err
		}
		if err := counter.QueryRowContext(ctx, "SELECT line FROM log_lines WHERE run_id = ? AND stream = 'stdout' ORDER BY seq DESC LIMIT 1", run.ID).Scan(&last); err != nil {
			return nil, err
		}
		if stored != n || last != texts[n-1] {
			return nil, fmt.Errorf("run %d stored %d lines ending %q, want %d ending %q", run.ID, stored, last, n, texts[n-1])
		}
		viaExec = append(viaExec, float64(stored)/(ns/1e9))

		ns, err = appendLogs(ctx, h.store, texts)
		if err != nil {
			return nil, err
		}
		viaAppend = append(viaAppend, float64(n)/(ns/1e9))

		ns, err = plain.insert(ctx, texts, 500)
		if err != nil {
			return nil, err
		}
		viaPlain = append(viaPlain, float64(n)/(ns/1e9))
	}
	p := median(viaPlain)
	execRow := Row{ID: "logs-executor", Kind: kindRate,
		Figure:   fmt.Sprintf("log lines stored: step printing %s lines (executor)", thousands(float64(n))),
		Value:    median(viaExec),
		Baseline: "plain insert loop", Base: p,
		Target: ">= 0.5x plain and >= 100,000/s",
		Note:   "run wall time from Start to end, lines counted in the database afterwards; the plain loop is database/sql + modernc sqlite, the same pragmas and table, one prepared single-row INSERT in one tx per 500 rows",
	}
	execRow.check(execRow.Ratio() >= 0.5 && execRow.Value >= 100_000)
	appendRow := Row{ID: "logs-append", Kind: kindRate,
		Figure:   fmt.Sprintf("log lines stored: storage.AppendLogs, %s lines in 500-line batches", thousands(float64(n))),
		Value:    median(viaAppend),
		Baseline: "plain insert loop", Base: p,
		Target: ">= 0.5x plain and >= 100,000/s",
	}
	appendRow.check(appendRow.Ratio() >= 0.5 && appendRow.Value >= 100_000)
	return []Row{execRow, appendRow}, nil
}

// appendLogs stores texts as the lines of a new run with AppendLogs in
// batches of 500, as the executor flushes them, and returns the time taken.
func appendLogs(ctx context.Context, st *storage.Store, texts []string) (float64, error) {
	run := &dayops.Run{Definition: "append-logs", Phase: dayops.Day2, State: dayops.RunRunning,
		Params: map[string]string{}, Actor: benchActor, Trigger: dayops.TriggerCLI}
	if err := st.CreateRun(ctx, run, dayops.AuditEvent{Actor: benchActor.ID}); err != nil {
		return 0, err
	}
	batch := make([]dayops.LogLine, 0, 500)
	now := time.Now()
	return timed(func() error {
		for start := 0; start < len(texts); start += 500 {
			batch = batch[:0]
			for i, t := range texts[start:min(start+500, len(texts))] {
				batch = append(batch, dayops.LogLine{RunID: run.ID, Step: 0, Seq: int64(start + i + 1), Time: now, Stream: dayops.Stdout, Text: t})
			}
			if err := st.AppendLogs(ctx, batch); err != nil {
				return err
			}
		}
		return nil
	})
}
