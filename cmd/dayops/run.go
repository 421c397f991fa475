package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/dayops/dayops"
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
	v, _ := findVerb("plan")
	fs := newFlags(v.name)
	dir := fs.String("dir", ".", "folder of definitions (its root is the scripts' working directory)")
	words, code, ok := parseArgs(io, v, fs, args, 1, -1)
	if !ok {
		return code
	}
	req, ok := folderRequest(io, v.name, words)
	if !ok {
		return exitUsage
	}
	src, ok := loadFolder(io, *dir, "")
	if !ok {
		return exitFail
	}
	// A plan runs nothing and records nothing: a throw-away database keeps
	// the executor's interface whole without touching the user's.
	tmp, err := os.MkdirTemp("", "dayops-plan-")
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops plan: %v\n", err)
		return exitFail
	}
	defer os.RemoveAll(tmp)
	st, ok := openStore(ctx, io, tmp+"/plan.db")
	if !ok {
		return exitFail
	}
	defer st.Close()
	ex, err := newLocalExecutor(st, src, nil)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops plan: %v\n", err)
		return exitFail
	}
	defer ex.Close()
	plan, err := ex.Plan(ctx, req)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops plan: %s\n", dayops.UserMessage(err, ""))
		return exitFail
	}
	printPlan(io, plan)
	return exitOK
}

func newLocalExecutor(st *storage.Store, src *folderSource, n executor.Notifier) (*executor.Executor, error) {
	secrets, err := stepSecrets()
	if err != nil {
		return nil, err
	}
	return executor.New(executor.Options{
		Store:     st,
		Catalogs:  src,
		Workspace: src,
		Notifier:  n,
		Secrets:   secrets,
		Vars:      envWithPrefix("DAYOPS_VAR_"),
		KillGrace: 5 * time.Second,
		RunAs:     os.Getenv("DAYOPS_STEPS_RUN_AS"),
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
	if p.Timeout > 0 {
		fmt.Fprintf(w, "  timeout: %s\n", p.Timeout)
	}
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
	v, _ := findVerb("run")
	fs := newFlags(v.name)
	dir := fs.String("dir", ".", "folder of definitions (its root is the scripts' working directory)")
	db := databaseFlag(fs, io)
	words, code, ok := parseArgs(io, v, fs, args, 1, -1)
	if !ok {
		return code
	}
	req, ok := folderRequest(io, v.name, words)
	if !ok {
		return exitUsage
	}
	src, ok := loadFolder(io, *dir, *db)
	if !ok {
		return exitFail
	}
	st, ok := openStore(ctx, io, *db)
	if !ok {
		return exitFail
	}
	defer st.Close()
	ex, err := newLocalExecutor(st, src, nil)
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
		fmt.Fprintf(io.Stderr, "dayops run: %s needs approval from someone other than you; start it from chat (/ops run %s …) where approvers can answer\n", plan.Definition.Name, plan.Definition.Name)
		return exitFail
	}
	run, err := ex.Start(context.WithoutCancel(ctx), req)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops run: %s\n", dayops.UserMessage(err, ""))
		return exitFail
	}
	fmt.Fprintf(io.Stdout, "run #%d %s at %s (database %s)\n", run.ID, run.Definition, dayops.ShortRevision(run.Revision), *db)
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

// follow prints a run's steps and log lines as the store records them,
// until it ends. Reading the store (not a live feed) means nothing is missed
// between start and subscription; printing step by step keeps every line
// under the step that wrote it. An interrupt cancels the run, whose rollback
// then runs, and follows it to its end.
func follow(ctx context.Context, io IO, st *storage.Store, ex *executor.Executor, id int64) *dayops.Run {
	var (
		afterSeq  int64
		started   = map[int]bool{}
		ended     = map[int]bool{}
		cancelled bool
		tick      = time.NewTicker(100 * time.Millisecond)
	)
	defer tick.Stop()
	bg := context.WithoutCancel(ctx)
	for {
		run, err := st.Run(bg, id)
		if err != nil {
			fmt.Fprintf(io.Stderr, "dayops run: %v\n", err)
			return nil
		}
		// The run is read before its lines: every line of a step that the
		// run shows ended is then already stored.
		lines, err := st.Logs(bg, id, afterSeq, 0)
		if err != nil {
			fmt.Fprintf(io.Stderr, "dayops run: %v\n", err)
			return nil
		}
		byStep := map[int][]dayops.LogLine{}
		for _, l := range lines {
			byStep[l.Step] = append(byStep[l.Step], l)
			afterSeq = max(afterSeq, l.Seq)
		}
		for _, s := range run.Steps {
			if s.State != dayops.StepPending && s.State != dayops.StepSkipped && !started[s.Index] {
				started[s.Index] = true
				printStepStart(io, s)
			}
			for _, l := range byStep[s.Index] {
				fmt.Fprintf(io.Stdout, "    %s %s\n", streamMark(l.Stream), l.Text)
			}
			delete(byStep, s.Index)
			if s.State.Final() && !ended[s.Index] {
				ended[s.Index] = true
				printStepEnd(io, s)
			}
		}
		for _, rest := range byStep { // lines of no listed step: dayops's own notes
			for _, l := range rest {
				fmt.Fprintf(io.Stdout, "    %s %s\n", streamMark(l.Stream), l.Text)
			}
		}
		if run.State.Final() {
			summary := fmt.Sprintf("run #%d %s in %s", run.ID, run.State, run.Duration(time.Now()).Round(time.Millisecond))
			if run.Rollback != dayops.RollbackNone {
				summary += " (" + string(run.Rollback) + ")"
			}
			if run.Reason != "" {
				summary += ": " + run.Reason
			}
			fmt.Fprintln(io.Stdout, summary)
			return run
		}
		select {
		case <-ctx.Done():
			if !cancelled {
				cancelled = true
				fmt.Fprintln(io.Stderr, "interrupted: cancelling the run (its rollback runs if it has one)…")
				if err := ex.Cancel(bg, id, cliActor(), dayops.Thread{Door: "cli"}); err != nil {
					fmt.Fprintf(io.Stderr, "dayops run: cancel: %s\n", dayops.UserMessage(err, ""))
				}
			}
			<-tick.C
		case <-tick.C:
		}
	}
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
	fmt.Fprintf(io.Stdout, "  %s %s%s\n", s.State, stepLabel(s), stepSuffix(s))
}
