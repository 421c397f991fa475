package bot

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// Pull request events: the pull_request triggers of the current catalog
// that match an event start a run each, as trigger:pull_request, through
// Submit. This is door-neutral: a door translates its code host's event
// into a dayops.PullRequest; the bot decides what it starts.

// PRMatch is a definition one of whose pull_request triggers matched an
// event: the run it asks for, with its parameters expanded.
type PRMatch struct {
	Definition  *dayops.Definition
	Trigger     dayops.PullRequestTrigger
	Environment string
	Params      map[string]string
}

// MatchPullRequest returns the pull_request triggers of cat that pr
// matches, in catalog order: the trigger's repository (any case), its
// action (on:), its base branch globs (branches:, any when none) and its
// labels (labels:, all on the pull request, in any case; for a labeled
// event the label just added must be one of them). A closed, unmerged pull request matches
// nothing. A definition and environment appear once, for the first trigger
// that matched.
func MatchPullRequest(cat *dayops.Catalog, pr dayops.PullRequest) []PRMatch {
	if cat == nil || pr.Action == dayops.PRClosed || pr.Action == "" {
		return nil
	}
	scope := dayops.Scope{PR: dayops.PRContext(pr.Context())}
	var out []PRMatch
	for _, def := range cat.All() {
		for _, tr := range def.Triggers.PullRequest {
			if !prTriggerMatches(tr, pr) {
				continue
			}
			if slices.ContainsFunc(out, func(m PRMatch) bool {
				return m.Definition.Name == def.Name && m.Environment == tr.Environment
			}) {
				continue
			}
			m := PRMatch{Definition: def, Trigger: tr, Environment: tr.Environment}
			s := scope
			s.Environment = tr.Environment
			for _, p := range tr.Params {
				// Trigger params were parsed when the catalog loaded; a
				// template that does not parse stays as written and the
				// parameter check says what is wrong with the value.
				v, err := dayops.Expand(p.Value, s)
				if err != nil {
					v = p.Value
				}
				if m.Params == nil {
					m.Params = map[string]string{}
				}
				m.Params[p.Name] = v
			}
			out = append(out, m)
		}
	}
	return out
}

// prTriggerMatches reports whether one trigger matches pr.
func prTriggerMatches(tr dayops.PullRequestTrigger, pr dayops.PullRequest) bool {
	if !strings.EqualFold(tr.Repo, pr.Repo) || tr.On != pr.Action {
		return false
	}
	if len(tr.Branches) > 0 && !slices.ContainsFunc(tr.Branches, func(glob string) bool {
		ok, err := path.Match(glob, pr.BaseRef)
		return err == nil && ok
	}) {
		return false
	}
	// GitHub label names are unique regardless of case.
	hasLabel := func(labels []string, l string) bool {
		return slices.ContainsFunc(labels, func(x string) bool { return strings.EqualFold(x, l) })
	}
	for _, l := range tr.Labels {
		if !hasLabel(pr.Labels, l) {
			return false
		}
	}
	if pr.Action == dayops.PRLabeled && len(tr.Labels) > 0 && !hasLabel(tr.Labels, pr.Label) {
		return false
	}
	return true
}

// PullRequestEvent starts, through Submit as trigger:pull_request, a run
// for each pull_request trigger of the current catalog that pr matches
// (MatchPullRequest), with the trigger's parameters expanded from the pull
// request and pr.Context() as the run's context. Each run is reported in
// where (the pull request's thread) and in Options.NotifyThread. It returns
// the IDs of the runs started; a trigger whose run the roles refuse is
// answered in where and audited, as any refusal. A pull request from a fork
// starts nothing unless Options.AllowForks, and its runs never get secrets.
func (b *Bot) PullRequestEvent(ctx context.Context, pr dayops.PullRequest, where dayops.Thread) []int64 {
	matches := MatchPullRequest(b.catalog(), pr)
	if len(matches) == 0 {
		return nil
	}
	actor := dayops.TriggerActor(dayops.TriggerPullRequest)
	if pr.Fork && !b.forks {
		for _, m := range matches {
			ev := dayops.AuditEvent{Time: b.now(), Actor: actor.ID, Where: where.String(), Action: "command." + string(commands.VerbRun),
				Target: runTargetOf(m.Definition, m.Environment), Trigger: dayops.TriggerPullRequest,
				Reason: pr.String() + " comes from a fork: forks trigger nothing unless github.allow_forks is set"}
			if err := b.store.Audit(ctx, ev); err != nil {
				b.log.Error("auditing a fork's pull request", "pr", pr.String(), "err", err)
			}
		}
		b.log.Info("pull request from a fork: nothing started", "pr", pr.String())
		return nil
	}
	var also []dayops.Thread
	if b.notify.Door != "" {
		also = []dayops.Thread{b.notify}
	}
	var ids []int64
	for _, m := range matches {
		cmd := &commands.Command{Verb: commands.VerbRun, Name: m.Definition.Name, Environment: m.Environment, Params: m.Params}
		cmd.Text = strings.TrimSpace(strings.Join([]string{"run", m.Definition.Name, m.Environment, dayops.FormatParams(m.Params)}, " "))
		var started *dayops.Run
		b.submit(ctx, Submission{
			Actor: actor, Thread: where, Trigger: dayops.TriggerPullRequest, Context: pr.Context(),
			Command: cmd, Also: also, NoSecrets: pr.Fork,
		}, func(r *dayops.Run) { started = r })
		if started != nil {
			ids = append(ids, started.ID)
			b.supersede(ctx, started, pr)
		}
	}
	return ids
}

// supersedeLimit bounds how many queued runs one new run looks at.
const supersedeLimit = 100

// supersede ends the older pull-request-triggered runs of run's definition
// and environment that are still queued: the newer deploy replaces them.
// The engine does it only while they are queued, as trigger:pull_request,
// with the reason "superseded by run N (PR org/repo#13)", which their
// messages then show.
func (b *Bot) supersede(ctx context.Context, run *dayops.Run, pr dayops.PullRequest) {
	older, err := b.store.Runs(ctx, dayops.RunFilter{Definition: run.Definition, Environment: run.Environment,
		States: []dayops.RunState{dayops.RunQueued}, BeforeID: run.ID, Limit: supersedeLimit})
	if err != nil {
		b.log.Error("looking for queued runs to supersede", "run_id", run.ID, "err", err)
		return
	}
	note := fmt.Sprintf("superseded by run %d (PR %s)", run.ID, pr.String())
	for _, old := range older {
		if old.Trigger != dayops.TriggerPullRequest || old.Environment != run.Environment {
			continue
		}
		ok, err := b.engine.Supersede(ctx, old.ID, dayops.TriggerActor(dayops.TriggerPullRequest), note)
		switch {
		case handedOn(err):
			b.log.Info("queued run's supersede handed on to the replica that drives it", "run_id", old.ID, "by", run.ID)
		case err != nil:
			b.log.Error("superseding a queued run", "run_id", old.ID, "by", run.ID, "err", err)
		}
		if ok {
			b.log.Info("queued run superseded", "run_id", old.ID, "by", run.ID)
		}
	}
}

// runTargetOf is how an audit row names a run that has not started:
// "day1:deploy-web:production".
func runTargetOf(def *dayops.Definition, env string) string {
	return dayops.Action{Kind: dayops.ActRun, Phase: def.Phase, Name: def.Name, Environment: env}.Target()
}
