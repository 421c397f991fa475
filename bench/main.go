package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	quick := flag.Bool("quick", false, "smaller sizes and fewer repetitions (a smoke test, under ~30 s)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./bench [-quick]\n\nPrints dayops's figures next to baselines measured in the same run.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := fullConfig
	if *quick {
		cfg = quickConfig
	}
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// config holds the sizes of one bench run.
type config struct {
	Name     string
	Reps     int // repetitions of the quick measurements; the median is reported
	SlowReps int // repetitions of the measurements that take seconds
	Steps    int // `true` steps per run for the per-step overhead
	Execs    int // bare execs per repetition of the baselines
	LogLines int // lines printed by the log ingestion step
	Queued   int // runs queued behind one concurrency key
	Defs     int // definitions of the large revision
	Commits  int // commits of the repository first-synced for peak memory
	// SlackCommands are the signed slash commands sent for the ack latency;
	// ChattyLines what one run prints while its message's updates are counted.
	SlackCommands int
	ChattyLines   int
	WebLines      int // log lines of the run whose page is timed
	WebMidLines   int // and of a second, smaller one
	// MetricsDefs are the definitions with runs, steps and lock waits
	// when /metrics is measured.
	MetricsDefs int
	AlertGroups int // Alertmanager groups whose runbook's first step is timed
}

var fullConfig = config{Name: "full", Reps: 7, SlowReps: 3, Steps: 50, Execs: 50,
	LogLines: 200_000, Queued: 1000, Defs: 1000, Commits: 10_000, SlackCommands: 2000, ChattyLines: 100_000, WebLines: 1_000_000,
	WebMidLines: 100_000, MetricsDefs: 50, AlertGroups: 100}

var quickConfig = config{Name: "quick", Reps: 3, SlowReps: 1, Steps: 10, Execs: 10,
	LogLines: 20_000, Queued: 200, Defs: 1000, Commits: 2000, SlackCommands: 400, ChattyLines: 20_000, WebLines: 100_000,
	WebMidLines: 10_000, MetricsDefs: 10, AlertGroups: 20}

// Row is one figure of the table.
type Row struct {
	ID       string  // stable key, the same in quick and full runs
	Figure   string  // what was measured, with its size
	Kind     kind    // unit of Value and Base
	Value    float64 // the measured figure (median)
	Baseline string  // what the baseline is
	Base     float64 // the baseline's figure in the same unit; 0: none
	Target   string  // the target, "" when it sets none
	Met      string  // "yes", "no", or "" without target
	Note     string
}

// kind is the unit of a row's figures.
type kind int

const (
	kindTime  kind = iota // nanoseconds
	kindRate              // per second
	kindBytes             // bytes
)

// Ratio is Value over Base (0 without a baseline).
func (r Row) Ratio() float64 {
	if r.Base == 0 {
		return 0
	}
	return r.Value / r.Base
}

// check sets Met from ok.
func (r *Row) check(ok bool) {
	r.Met = "no"
	if ok {
		r.Met = "yes"
	}
}

// figureSet is one group of figures, run in order by run.
type figureSet struct {
	name string
	run  func(ctx context.Context, cfg config, dir string) ([]Row, error)
}

var figureSets = []figureSet{
	{"step start overhead", stepOverhead},
	{"log ingestion", logIngestion},
	{"memory", memoryFigures},
	{"gitsync", gitsyncFigures},
	{"command line", cliFigures},
	{"slack", slackFigures},
	{"github", githubFigures},
	{"web", webFigures},
	{"metrics", metricsFigures},
	{"ssh", sshFigures},
	{"alerts", alertFigures},
	{"replicas", replicaFigures},
}

// rowIDs are the rows run produces, in order.
var rowIDs = []string{
	"step-overhead", "run-overhead",
	"logs-executor", "logs-append",
	"mem-queued", "mem-output",
	"sync-noop-http", "sync-noop-file", "sync-1000", "load-1000", "push-to-catalog",
	"firstsync-heap", "firstsync-time",
	"cli-run",
	"slack-ack-p99", "slack-updates",
	"github-webhook-p50", "github-webhook-p99",
	"web-ttfb", "web-lastbyte", "web-heap", "web-logtxt", "web-sse-p50", "web-sse-p99", "web-ttfb-mid", "web-lastbyte-mid",
	"metrics-size",
	"ssh-step-overhead",
	"alert-first-step-p50",
	"replicas-rate-sqlite", "replicas-ack-sqlite", "replicas-rate-pg1", "replicas-ack-pg1", "replicas-rate-pg2", "replicas-ack-pg2",
}

// run measures every figure with cfg in a temporary folder it removes, and
// prints the table to w. It returns the rows.
func run(ctx context.Context, cfg config, w io.Writer) ([]Row, error) {
	for _, tool := range []string{"bash", "git", "true", "seq", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("bench needs %s on PATH: %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "dayops-bench-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(w, "dayops bench (%s): %s, %s/%s, %d CPUs, GOMAXPROCS %d\n\n",
		cfg.Name, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	var rows []Row
	for i, set := range figureSets {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		sub := fmt.Sprintf("%s/%d", dir, i)
		if err := os.Mkdir(sub, 0o755); err != nil {
			return rows, err
		}
		start := time.Now()
		got, err := set.run(ctx, cfg, sub)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", set.name, err)
		}
		fmt.Fprintf(w, "measured %-20s in %s\n", set.name, time.Since(start).Round(10*time.Millisecond))
		rows = append(rows, got...)
	}
	fmt.Fprintln(w)
	printTable(w, rows)
	return rows, nil
}

// printTable writes the rows as an aligned table, then their notes.
func printTable(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tMEASURED\tBASELINE (same run)\tRATIO\tTARGET\tMET")
	for _, r := range rows {
		base, ratio := "-", "-"
		if r.Base != 0 {
			base = r.Baseline + ": " + format(r.Kind, r.Base)
			ratio = fmt.Sprintf("%.2fx", r.Ratio())
		} else if r.Baseline != "" {
			base = r.Baseline
		}
		target, met := "-", "-"
		if r.Target != "" {
			target, met = r.Target, r.Met
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Figure, format(r.Kind, r.Value), base, ratio, target, met)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "RATIO is measured / baseline: for lines/s higher is better, for times and memory lower is better.")
	fmt.Fprintln(w, "Every figure is the median of its repetitions; timed baselines ran in this process, interleaved with their figure.")
	fmt.Fprintln(w)
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "- %s: %s\n", r.Figure, r.Note)
		}
	}
}

// format renders a figure in its unit.
func format(k kind, v float64) string {
	switch k {
	case kindRate:
		return fmt.Sprintf("%s/s", thousands(v))
	case kindBytes:
		if math.Abs(v) < 1<<20 {
			return fmt.Sprintf("%.1f KiB", v/(1<<10))
		}
		return fmt.Sprintf("%.2f MiB", v/(1<<20))
	}
	d := time.Duration(v)
	switch {
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f ms", v/1e6)
	}
	return fmt.Sprintf("%.2f s", v/1e9)
}

// thousands renders v rounded with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprint(int64(math.Round(v)))
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && c != '-' && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// median returns the median of xs (the mean of the middle two for an even
// count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// timed runs fn and returns its wall time in nanoseconds.
func timed(fn func() error) (float64, error) {
	start := time.Now()
	err := fn()
	return float64(time.Since(start).Nanoseconds()), err
}
