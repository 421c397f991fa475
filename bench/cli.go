package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
)

// cliFigures times the built binary: `dayops run` of a one-step `true`
// definition beside `dayops version` (process start, no work). What `run`
// adds beyond both and the step itself is the cost of recording and
// following the run; before run events, following alone polled every 100 ms.
func cliFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	bin := filepath.Join(dir, "dayops")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/dayops")
	build.Dir = moduleRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building dayops: %v\n%s", err, out)
	}
	defs := filepath.Join(dir, "defs")
	if err := os.MkdirAll(defs, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(defs, "one.yaml"), []byte(definition("one-true", trueSteps(1))), 0o644); err != nil {
		return nil, err
	}
	db := filepath.Join(dir, "cli.db")
	runOnce := func(args ...string) (float64, error) {
		return timed(func() error {
			cmd := exec.CommandContext(ctx, bin, args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("dayops %v: %v\n%s", args, err, out)
			}
			return nil
		})
	}
	// Warm the page cache and create the database.
	if _, err := runOnce("run", "one-true", "--dir", defs, "--database", db); err != nil {
		return nil, err
	}
	var version, run []float64
	for range cfg.Reps * 3 {
		ns, err := runOnce("version")
		if err != nil {
			return nil, err
		}
		version = append(version, ns)
		ns, err = runOnce("run", "one-true", "--dir", defs, "--database", db)
		if err != nil {
			return nil, err
		}
		run = append(run, ns)
	}
	step, err := stepTimes(ctx, db)
	if err != nil {
		return nil, err
	}
	v, r, s := median(version), median(run), median(step)
	extra := r - v - s
	row := Row{ID: "cli-run", Kind: kindTime,
		Figure:   "`dayops run` of one `true` step, wall",
		Value:    r,
		Baseline: "dayops version", Base: v,
		Target: "<= version + step + 20 ms",
		Note: fmt.Sprintf("the step itself took %s (stored start to end); run - version - step = %s: opening the database, loading the folder, recording and following the run",
			format(kindTime, s), format(kindTime, extra)),
	}
	row.check(extra <= 20e6)
	return []Row{row}, nil
}

// stepTimes are the durations of the steps the database recorded.
func stepTimes(ctx context.Context, db string) ([]float64, error) {
	st, err := storage.Open(ctx, db, storage.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	runs, err := st.Runs(ctx, dayops.RunFilter{Limit: 200})
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, r := range runs {
		full, err := st.Run(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		for _, s := range full.Steps {
			if !s.StartedAt.IsZero() && !s.EndedAt.IsZero() {
				out = append(out, float64(s.EndedAt.Sub(s.StartedAt).Nanoseconds()))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no step durations recorded in %s", db)
	}
	return out, nil
}

// moduleRoot is the folder of go.mod, found from the working directory up.
func moduleRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
