package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
	"github.com/dayops/dayops/config"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/storage"
)

// cliActor is the local user running a CLI verb.
func cliActor() dayops.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	return dayops.Actor{ID: "cli:" + name, Name: name}
}

// folderRequest parses NAME [ENV] [key=value…] for plan and run.
func folderRequest(io IO, verbName string, words []string) (dayops.RunRequest, bool) {
	pos, params, err := splitParams(words)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops %s: %v\n", verbName, err)
		return dayops.RunRequest{}, false
	}
	if len(pos) == 0 || len(pos) > 2 {
		v, _ := findVerb(verbName)
		fmt.Fprintf(io.Stderr, "usage: dayops %s %s\n", v.name, v.usage)
		return dayops.RunRequest{}, false
	}
	req := dayops.RunRequest{Definition: pos[0], Params: params, Actor: cliActor(), Thread: dayops.Thread{Door: "cli", Channel: hostname()}, Trigger: dayops.TriggerCLI}
	if len(pos) == 2 {
		req.Environment = pos[1]
	}
	return req, true
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func runPlan(ctx context.Context, io IO, args []string) int {
	io = safeOutput(io) // step output, reasons and names are shown, not obeyed
	v, _ := findVerb("plan")
	fs := newFlags(v.name)
	dir := fs.String("dir", ".", "folder of definitions (its root is the scripts' working directory)")
	cfgPath := fs.String("config", "", "server configuration `file`: SSH targets, vars (see docs/configuration.md)")
	db := databaseFlag(fs, io)
	words, code, ok := parseArgs(io, v, fs, args, 1, -1)
	if !ok {
		return code
	}
	req, ok := folderRequest(io, v.name, words)
	if !ok {
		return exitUsage
	}
	cfg, ok := cliConfig(io, v.name, *cfgPath, *dir)
	if !ok {
		return exitUsage
	}
	src, ok := loadFolder(io, *dir, "", false)
	if !ok {
		return exitFail
	}
	// A plan runs nothing and records nothing: it needs no database.
	secrets, err := stepSecrets()
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops plan: %s\n", dayops.UserMessage(err, ""))
		return exitFail
	}
	opts := executor.Options{Catalogs: src, Secrets: secrets, Vars: cliVars(cfg), Targets: executorTargets(cfg)}
	// Phase gates are read from the runs of an existing database; none is
	// created for a plan.
	if _, err := os.Stat(*db); err == nil {
		st, ok := openStore(ctx, io, *db)
		if !ok {
			return exitFail
		}
		defer st.Close()
		opts.Store = st
	}
	ex, err := executor.NewPlanner(opts)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops plan: %v\n", err)
		return exitFail
	}
	plan, err := ex.Plan(ctx, req)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops plan: %s\n", dayops.UserMessage(err, ""))
		return exitFail
	}
	printPlan(io, plan)
	return exitOK
}

// newLocalExecutor is the executor of `dayops run`; cfg (nil without
// --config) gives the SSH targets, vars and steps.run_as.
func newLocalExecutor(st *storage.Store, src *folderSource, cfg *config.Config) (*executor.Executor, error) {
	secrets, err := stepSecrets()
	if err != nil {
		return nil, err
	}
	runAs := os.Getenv("DAYOPS_STEPS_RUN_AS")
	if cfg != nil {
		runAs = cfg.RunAs // the environment's value is in it already
	}
	return executor.New(executor.Options{
		Store:     st,
		Catalogs:  src,
		Workspace: src,
		Secrets:   secrets,
		Vars:      cliVars(cfg),
		KillGrace: 5 * time.Second,
		RunAs:     runAs,
		Targets:   executorTargets(cfg),
	})
}

// printPlan renders a plan for the terminal.
func printPlan(io IO, p *dayops.Plan) {
	w := io.Stdout
	target := p.Definition.Name
	if p.Environment != "" {
		target += " " + p.Environment
	}
	fmt.Fprintf(w, "plan: %s (%s) at %s\n", target, p.Definition.Phase, dayops.ShortRevision(p.Revision))
	if p.Definition.Description != "" {
		fmt.Fprintf(w, "  %s\n", p.Definition.Description)
	}
	for _, k := range sortedKeys(p.Params) {
		fmt.Fprintf(w, "  param %s=%s\n", k, p.Params[k])
	}
	for _, e := range p.Env {
		fmt.Fprintf(w, "  env   %s=%s\n", e.Name, e.Value)
	}
	if len(p.Secrets) > 0 {
		fmt.Fprintf(w, "  secrets: %s\n", strings.Join(p.Secrets, ", "))
	}
	if p.ConcurrencyKey != "" {
		fmt.Fprintf(w, "  lock key: %s\n", p.ConcurrencyKey)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "  warning: %s (a run would be refused)\n", warn)
	}
	if p.Timeout > 0 {
		fmt.Fprintf(w, "  timeout: %s\n", p.Timeout)
	}
	printGates(io, p)
	if p.Approval != nil {
		from := "any role allowed to run it"
		if len(p.Approval.From) > 0 {
			from = strings.Join(p.Approval.From, ", ")
		}
		fmt.Fprintf(w, "  approvals: %d from %s", p.Approval.Count, from)
		if len(p.Approvers) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(p.Approvers, ", "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "  steps:")
	for _, s := range p.Steps {
		printPlannedStep(io, s)
	}
	if len(p.Rollback) > 0 {
		fmt.Fprintln(w, "  rollback:")
		for _, s := range p.Rollback {
			printPlannedStep(io, s)
		}
	}
	if p.Changes != "" {
		fmt.Fprintf(w, "  changed since the last successful run (%s):\n", dayops.ShortRevision(p.ChangesSince))
		for _, l := range strings.Split(strings.TrimRight(p.Changes, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	fmt.Fprintf(w, "  plan hash: %s\nnothing was run.\n", p.Hash[:min(12, len(p.Hash))])
}

// printGates lists the plan's phase gates: met, missing (with the command
// that meets it), or, without a database, not checked.
func printGates(io IO, p *dayops.Plan) {
	if len(p.Gates) == 0 {
		return
	}
	w := io.Stdout
	fmt.Fprintln(w, "  phase gates:")
	for _, g := range p.Gates {
		if p.GatesUnknown {
			fmt.Fprintf(w, "    %s within %s: not checked (this plan reads no database; `dayops run` checks it)\n",
				strings.TrimSpace(g.Definition+" "+g.Environment), dayops.FormatWithin(g.Within))
			continue
		}
		fmt.Fprintf(w, "    %s\n", g.String(time.Now()))
	}
}

func printPlannedStep(io IO, s dayops.PlannedStep) {
	extra := ""
	if s.If != "" && s.If != dayops.IfSuccess {
		extra += " if " + string(s.If)
	}
	if s.Timeout > 0 {
		extra += " timeout " + s.Timeout.String()
	}
	if s.Retries > 0 {
		extra += fmt.Sprintf(" retries %d", s.Retries)
	}
	fmt.Fprintf(io.Stdout, "    %d. [%s] %s%s\n", s.Index+1, s.Kind, s.Name, extra)
	if s.Detail != "" {
		fmt.Fprintf(io.Stdout, "         %s\n", dayops.Truncate(s.Detail, 100))
	}
}

func runRun(ctx context.Context, io IO, args []string) int {
	io = safeOutput(io) // step output, reasons and names are shown, not obeyed
	v, _ := findVerb("run")
	fs := newFlags(v.name)
	dir := fs.String("dir", ".", "folder of definitions (a private copy of it, made at start, is the scripts' working directory)")
	db := databaseFlag(fs, io)
	cfgPath := fs.String("config", "", "server configuration `file`: SSH targets and their keys, vars, steps.run_as (see docs/configuration.md)")
	words, code, ok := parseArgs(io, v, fs, args, 1, -1)
	if !ok {
		return code
	}
	req, ok := folderRequest(io, v.name, words)
	if !ok {
		return exitUsage
	}
	cfg, ok := cliConfig(io, v.name, *cfgPath, *dir)
	if !ok {
		return exitUsage
	}
	// A SQLite file inside the folder is left out of it; a PostgreSQL
	// database is no file.
	dbFile := *db
	if storage.IsPostgres(dbFile) {
		dbFile = ""
	}
	src, ok := loadFolder(io, *dir, dbFile, true)
	if !ok {
		return exitFail
	}
	defer src.Close()
	st, ok := openStore(ctx, io, *db)
	if !ok {
		return exitFail
	}
	defer st.Close()
	ex, err := newLocalExecutor(st, src, cfg)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops run: %v\n", err)
		return exitFail
	}
	defer ex.Close()
	plan, err := ex.Plan(ctx, req)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops run: %s\n", dayops.UserMessage(err, ""))
		return exitFail
	}
	if plan.Approval != nil || hasApprovalStep(plan) {
		fmt.Fprintf(io.Stderr, "dayops run: %s needs approval from someone other than you; start it from chat (%s run %s …) where approvers can answer\n", plan.Definition.Name, commands.DefaultPrefix, plan.Definition.Name)
		return exitFail
	}
	run, err := ex.Start(context.WithoutCancel(ctx), req)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops run: %s\n", dayops.UserMessage(err, ""))
		return exitFail
	}
	fmt.Fprintf(io.Stdout, "run #%d %s at %s (database %s)\n", run.ID, run.Definition, dayops.ShortRevision(run.Revision), storage.Redacted(*db))
	final := follow(ctx, io, st, ex, run.ID)
	if final == nil {
		return exitFail
	}
	if final.State != dayops.RunSucceeded {
		return exitFail
	}
	return exitOK
}

func hasApprovalStep(p *dayops.Plan) bool {
	for _, s := range p.Steps {
		if s.Kind == dayops.StepKindApproval {
			return true
		}
	}
	return false
}

// follow prints a run's steps and log lines as they happen, until it ends:
// the stored run and lines first, then the executor's live events (no
// polling, no gap, no line twice). Every line is printed under the step that
// wrote it. An interrupt cancels the run, whose rollback then runs, and
// follows it to its end.
func follow(ctx context.Context, io IO, st *storage.Store, ex *executor.Executor, id int64) *dayops.Run {
	bg := context.WithoutCancel(ctx)
	events := dayops.Follow(bg, st, ex.Events(), id, 0)
	p := &stepPrinter{io: io, steps: map[int]dayops.StepRun{}, started: map[int]bool{}, ended: map[int]bool{}, cur: -1}
	var final *dayops.Run
	interrupt := ctx.Done()
	for {
		select {
		case <-interrupt:
			interrupt = nil
			fmt.Fprintln(io.Stderr, "interrupted: cancelling the run (its rollback runs if it has one)…")
			if err := ex.Cancel(bg, id, cliActor(), dayops.Thread{Door: "cli"}); err != nil {
				fmt.Fprintf(io.Stderr, "dayops run: cancel: %s\n", dayops.UserMessage(err, ""))
			}
		case ev, ok := <-events:
			switch {
			case !ok && final == nil:
				fmt.Fprintln(io.Stderr, "dayops run: lost the run's events")
				return nil
			case !ok:
				p.finish(final)
				summary := fmt.Sprintf("run #%d %s in %s", final.ID, final.State, final.Duration(time.Now()).Round(time.Millisecond))
				if final.Rollback != dayops.RollbackNone {
					summary += " (" + string(final.Rollback) + ")"
				}
				if final.Reason != "" {
					summary += ": " + final.Reason
				}
				fmt.Fprintln(io.Stdout, summary)
				return final
			case ev.Kind == "":
				fmt.Fprintf(io.Stderr, "dayops run: %s\n", ev.Message)
				return nil
			case ev.Kind == dayops.EventLog && ev.Line != nil:
				p.line(*ev.Line)
			case ev.Step != nil:
				p.step(*ev.Step)
			case ev.Run != nil && ev.Run.State.Final():
				// Follow closes the feed once every line is out; the stored
				// run then has every step's end.
				for _, s := range ev.Run.Steps {
					p.record(s)
				}
				run, err := st.Run(bg, id)
				if err != nil {
					fmt.Fprintf(io.Stderr, "dayops run: %v\n", err)
					return nil
				}
				final = run
			case ev.Run != nil:
				// A snapshot: the lines of its steps may still come.
				for _, s := range ev.Run.Steps {
					p.record(s)
				}
			}
		}
	}
}

// stepPrinter prints steps and their lines in order. Steps run one after
// the other and every line of a step is stored before its end, so a step's
// end is printed when a later step shows up, or at the run's end: a line of
// it may still be on its way when its end is known.
type stepPrinter struct {
	io      IO
	steps   map[int]dayops.StepRun // the newest of each
	started map[int]bool
	ended   map[int]bool
	cur     int
}

// step takes a live step event: a step that starts is entered.
func (p *stepPrinter) step(s dayops.StepRun) {
	if p.record(s) && (s.State == dayops.StepRunning || s.State == dayops.StepAwaitingApproval) {
		p.enter(s.Index)
	}
}

// record keeps the newest state of a step; an older one does not count.
func (p *stepPrinter) record(s dayops.StepRun) bool {
	if old, ok := p.steps[s.Index]; ok && old.State.Final() && !s.State.Final() {
		return false
	}
	p.steps[s.Index] = s
	return true
}

func (p *stepPrinter) line(l dayops.LogLine) {
	if _, ok := p.steps[l.Step]; ok {
		p.enter(l.Step)
	}
	fmt.Fprintf(p.io.Stdout, "    %s %s\n", streamMark(l.Stream), l.Text)
}

// enter moves the printing to step i: the ends of the steps before it, then
// its start.
func (p *stepPrinter) enter(i int) {
	if i < p.cur {
		return
	}
	p.endBefore(i)
	if !p.started[i] {
		p.started[i] = true
		printStepStart(p.io, p.steps[i])
	}
	p.cur = i
}

func (p *stepPrinter) endBefore(i int) {
	for _, j := range slices.Sorted(maps.Keys(p.steps)) {
		s := p.steps[j]
		if j >= i || p.ended[j] || !s.State.Final() {
			continue
		}
		if !p.started[j] && s.State != dayops.StepSkipped {
			p.started[j] = true
			printStepStart(p.io, s)
		}
		p.ended[j] = true
		printStepEnd(p.io, s)
	}
}

// finish prints what is left of the ended run r.
func (p *stepPrinter) finish(r *dayops.Run) {
	for _, s := range r.Steps {
		p.steps[s.Index] = s
	}
	p.endBefore(math.MaxInt)
}

func stepLabel(s dayops.StepRun) string {
	if s.Rollback {
		return "rollback: " + s.Name
	}
	return s.Name
}

func printStepStart(io IO, s dayops.StepRun) {
	fmt.Fprintf(io.Stdout, "  ▸ %s\n", stepLabel(s))
}

func printStepEnd(io IO, s dayops.StepRun) {
	fmt.Fprintf(io.Stdout, "  %s %s%s\n", s.State, stepLabel(s), s.Details())
}
