package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestQuickRun runs the whole bench in -quick mode and checks that it
// produces every row, each with a measured figure, a baseline where one is
// promised and a verdict where there is a target. It asserts nothing about
// the figures themselves: they depend on the machine.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("the bench takes tens of seconds")
	}
	for _, tool := range []string{"git", "bash", "seq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	rows, err := run(ctx, quickConfig, &out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(rowIDs) {
		t.Errorf("%d rows, want %d", len(rows), len(rowIDs))
	}
	for i, id := range rowIDs {
		if i >= len(rows) {
			t.Errorf("row %s is missing", id)
			continue
		}
		r := rows[i]
		if r.ID != id {
			t.Errorf("row %d is %s, want %s", i, r.ID, id)
		}
		if r.Figure == "" || !strings.Contains(out.String(), r.Figure) {
			t.Errorf("row %s: figure %q is not in the table", id, r.Figure)
		}
		if strings.HasPrefix(r.Note, "skipped: ") && r.Value == 0 && os.Getenv("CI") != "true" {
			continue // PostgreSQL is not installed here: the note says so
		}
		if !(r.Value > 0) || math.IsInf(r.Value, 0) {
			t.Errorf("row %s: measured %v, want a positive finite figure", id, r.Value)
		}
		if r.Baseline == "" {
			t.Errorf("row %s has no baseline", id)
		}
		if r.Base < 0 || math.IsNaN(r.Base) || math.IsInf(r.Base, 0) {
			t.Errorf("row %s: baseline %v", id, r.Base)
		}
		if wantMet := r.Target != ""; wantMet != (r.Met == "yes" || r.Met == "no") {
			t.Errorf("row %s: target %q but met %q", id, r.Target, r.Met)
		}
	}
}

// TestMedian checks the statistic every figure is reported with.
func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{9, 9, 1, 9, 100}, 9},
	} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

// TestFormat checks the units the table prints.
func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		k    kind
		v    float64
		want string
	}{
		{kindTime, 850, "850 ns"},
		{kindTime, 4_722_900, "4722.9 µs"},
		{kindTime, 181_640_000, "181.64 ms"},
		{kindTime, 12e9, "12.00 s"},
		{kindRate, 99_759.4, "99,759/s"},
		{kindRate, 1_234_567, "1,234,567/s"},
		{kindBytes, 3 << 20, "3.00 MiB"},
		{kindBytes, 13_480, "13.2 KiB"},
	} {
		if got := format(tt.k, tt.v); got != tt.want {
			t.Errorf("format(%v, %v) = %q, want %q", tt.k, tt.v, got, tt.want)
		}
	}
}

// TestReplicaFigures measures the replicas set alone, small: six rows, the
// PostgreSQL ones measured when PostgreSQL is installed (always in CI).
func TestReplicaFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and replicas")
	}
	cfg := quickConfig
	cfg.SlackCommands = 160
	rows, err := replicaFigures(context.Background(), cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.ID)
		t.Logf("%s: %s (%s)", r.Figure, format(r.Kind, r.Value), r.Note)
		if r.Value <= 0 && !strings.HasPrefix(r.Note, "skipped: ") {
			t.Errorf("%s measured %v", r.ID, r.Value)
		}
	}
	if want := rowIDs[len(rowIDs)-6:]; strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("rows %v, want %v", ids, want)
	}
}
