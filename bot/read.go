package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// The verbs that only look.

// maxDiffLines bounds the diff a chat message quotes.
const maxDiffLines = 40

// historyLimit is how many runs history shows.
const historyLimit = 15

func (b *Bot) help(ctx context.Context, c *call) (*Message, error) {
	if err := b.open(ctx, c, "help"); err != nil {
		return nil, err
	}
	return &Message{Pre: b.redact(b.helpFor(c))}, nil
}

func (b *Bot) whoami(ctx context.Context, c *call) (*Message, error) {
	if err := b.open(ctx, c, "whoami"); err != nil {
		return nil, err
	}
	a := c.actor
	lines := []string{"you are " + a.String()}
	if a.Name != "" && a.Name != a.ID {
		lines[0] += " (" + a.ID + ")"
	}
	if len(a.Groups) > 0 {
		lines = append(lines, "groups: "+strings.Join(a.Groups, ", "))
	}
	roles := b.policy.RolesOf(a)
	if len(roles) == 0 {
		lines = append(lines, fmt.Sprintf("you have no role, so dayops lets you do nothing yet: an operator can add %s to a role in the server configuration", a.ID))
	}
	for _, r := range b.policy.Roles {
		if !slices.Contains(roles, r.Name) {
			continue
		}
		// How the asker is a member: by their ID, or through which groups.
		var through []string
		if !slices.Contains(r.Members, a.ID) {
			for _, g := range a.Groups {
				if slices.Contains(r.Members, g) {
					through = append(through, g)
				}
			}
		}
		via := ""
		if len(through) > 0 {
			via = " (through " + strings.Join(through, ", ") + ")"
		}
		lines = append(lines, fmt.Sprintf("role %s%s allows: %s", r.Name, via, strings.Join(r.Allow, ", ")))
	}
	for _, ch := range b.policy.Channels {
		if ch.Pattern != nil && ch.Pattern.MatchString(c.thread.Name) {
			lines = append(lines, fmt.Sprintf("in this channel only: %s", strings.Join(ch.Allow, ", ")))
		}
	}
	return &Message{Text: b.redact(strings.Join(lines, "\n"))}, nil
}

func (b *Bot) list(ctx context.Context, c *call) (*Message, error) {
	if err := b.authorizeRead(ctx, c, "catalog"); err != nil {
		return nil, err
	}
	cat := b.catalog()
	if cat == nil {
		return nil, dayops.Errorf(dayops.KindUnavailable, "no valid definitions are loaded yet; try: %s sync", b.prefix)
	}
	phases := dayops.Phases
	if c.cmd.Phase != "" {
		phases = []dayops.Phase{dayops.Phase(c.cmd.Phase)}
	}
	var lines []string
	n, hidden := 0, 0
	for _, p := range phases {
		var group []string
		for _, d := range cat.ByPhase(p) {
			// Only what the asker may run is listed.
			envs := b.runnableEnvs(c, d)
			if len(envs) == 0 {
				hidden++
				continue
			}
			var notes []string
			if d.Service != "" {
				notes = append(notes, "service "+d.Service)
			}
			if len(envs) < len(d.Environments) {
				notes = append(notes, "you may run it in "+strings.Join(envs, ", "))
			}
			line := "  " + d.Name
			if len(notes) > 0 {
				line += " (" + strings.Join(notes, "; ") + ")"
			}
			if d.Description != "" {
				line += " — " + d.Description
			}
			group = append(group, line)
			n++
		}
		if len(group) > 0 {
			lines = append(lines, string(p))
			lines = append(lines, group...)
		}
	}
	kind, noun := "", "definitions"
	if c.cmd.Phase != "" {
		kind = c.cmd.Phase + " "
	}
	if n == 1 {
		noun = "definition"
	}
	head := fmt.Sprintf("%d %s%s at revision %s", n, kind, noun, dayops.ShortRevision(cat.Revision()))
	footer := b.prefix + " describe NAME shows one"
	if hidden > 0 {
		footer = fmt.Sprintf("%d more that your roles do not let you run are left out; %s", hidden, footer)
	}
	return &Message{Text: b.redact(strings.TrimRight(head+"\n"+strings.Join(lines, "\n"), "\n")), Footer: footer}, nil
}

func (b *Bot) describe(ctx context.Context, c *call) (*Message, error) {
	def, err := b.definition(c.cmd.Name)
	if err != nil {
		return nil, err
	}
	if err := b.authorizeRead(ctx, c, string(def.Phase)+":"+def.Name); err != nil {
		return nil, err
	}
	head := fmt.Sprintf("%s (%s)", def.Name, def.Phase)
	if def.Description != "" {
		head += " — " + def.Description
	}
	var lines []string
	var fields []Field
	add := func(label, value string) {
		if value != "" {
			fields = append(fields, Field{Label: label, Value: value})
		}
	}
	add("service", def.Service)
	add("environments", describeEnvironments(def))
	add("phase gates", describeRequires(def.Requires))
	add("concurrency", def.Concurrency)
	if def.Timeout > 0 {
		add("timeout", def.Timeout.String())
	}
	add("secrets", strings.Join(def.Secrets, ", "))
	add("triggers", describeTriggers(def.Triggers))
	add("source", def.Source.File+"@"+dayops.ShortRevision(def.Source.Revision))
	if len(def.Params) > 0 {
		lines = append(lines, "params:")
		for _, p := range def.Params {
			lines = append(lines, "  "+describeParam(p))
		}
	}
	lines = append(lines, "steps:")
	lines = append(lines, describeSteps(def.Steps)...)
	if len(def.Rollback) > 0 {
		lines = append(lines, "rollback:")
		lines = append(lines, describeSteps(def.Rollback)...)
	}
	m := &Message{Text: b.redact(head), Fields: redactFields(b, fields)}
	// What changed since its last successful run, in any environment: what
	// an approver of the next run would be approving.
	since, diff, err := b.engine.Changes(ctx, def.Name, "")
	if err == nil && diff != "" {
		lines = append(lines, diffBlock(&dayops.Plan{ChangesSince: since, Changes: diff}))
	}
	m.Pre = b.redact(strings.Join(lines, "\n"))
	return m, nil
}

func describeEnvironments(def *dayops.Definition) string {
	parts := make([]string, len(def.Environments))
	for i, e := range def.Environments {
		parts[i] = e.Name
		if r := e.Approvals; r != nil {
			parts[i] += fmt.Sprintf(" (approvals: %d", max(r.Count, 1))
			if len(r.From) > 0 {
				parts[i] += " from " + strings.Join(r.From, ", ")
			}
			parts[i] += ")"
		}
		if len(e.Requires) > 0 {
			parts[i] += " (requires " + describeRequires(e.Requires) + ")"
		}
	}
	return strings.Join(parts, "; ")
}

// describeRequires renders phase gates: "review-web within 168h, preflight
// production within 24h".
func describeRequires(rs []dayops.Requirement) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strings.TrimSpace(r.Definition+" "+r.Environment) + " within " + dayops.FormatWithin(r.Within)
	}
	return strings.Join(parts, ", ")
}

func describeParam(p dayops.Param) string {
	attrs := []string{string(p.Type)}
	if p.Required {
		attrs = append(attrs, "required")
	}
	if p.HasDefault {
		attrs = append(attrs, fmt.Sprintf("default %q", p.Default))
	}
	if p.Pattern != nil {
		attrs = append(attrs, "pattern "+p.Pattern.String())
	}
	if len(p.Choices) > 0 {
		attrs = append(attrs, "one of "+strings.Join(p.Choices, ", "))
	}
	s := p.Name + " (" + strings.Join(attrs, ", ") + ")"
	if p.Description != "" {
		s += " — " + p.Description
	}
	return s
}

func describeSteps(steps []dayops.Step) []string {
	lines := make([]string, len(steps))
	for i, s := range steps {
		detail := string(s.Kind)
		switch s.Kind {
		case dayops.StepKindRun:
			first, _, _ := strings.Cut(strings.TrimSpace(s.Run), "\n")
			detail += ": " + dayops.Truncate(first, 80)
		case dayops.StepKindHTTP:
			if s.HTTP != nil {
				method := s.HTTP.Method
				if method == "" {
					method = "GET"
				}
				detail += ": " + method + " " + s.HTTP.URL
			}
		case dayops.StepKindApproval:
			detail += ": " + dayops.Truncate(s.Approval, 80)
		case dayops.StepKindUses:
			detail += ": " + s.Uses
		case dayops.StepKindChecklist:
			if c := s.Checklist; c != nil {
				detail += fmt.Sprintf(": %d questions for %s", len(c.Questions), strings.Join(c.From, ", "))
			}
		}
		var extra []string
		if s.If != "" && s.If != dayops.IfSuccess {
			extra = append(extra, "if "+string(s.If))
		}
		if s.Timeout > 0 {
			extra = append(extra, "timeout "+s.Timeout.String())
		}
		if s.Retries > 0 {
			extra = append(extra, fmt.Sprintf("retries %d", s.Retries))
		}
		if s.ContinueOnError {
			extra = append(extra, "continue on error")
		}
		lines[i] = fmt.Sprintf("  %d. %s — %s", i+1, s.Name, detail)
		if len(extra) > 0 {
			lines[i] += " (" + strings.Join(extra, ", ") + ")"
		}
	}
	return lines
}

func describeTriggers(t dayops.Triggers) string {
	var parts []string
	for _, p := range t.PullRequest {
		s := fmt.Sprintf("pull request %s %s", p.Repo, p.On)
		if p.Environment != "" {
			s += " → " + p.Environment
		}
		parts = append(parts, s)
	}
	for _, i := range t.Incident {
		s := "incident"
		if i.Channel != nil {
			s += " in " + i.Channel.String()
		}
		if i.Auto {
			s += " (auto)"
		}
		parts = append(parts, s)
	}
	for _, a := range t.Alert {
		s := "alert " + a.AlertName
		if a.Auto {
			s += " (auto)"
		}
		parts = append(parts, s)
	}
	for _, s := range t.Schedule {
		parts = append(parts, "schedule "+s.String())
	}
	return strings.Join(parts, "; ")
}

func (b *Bot) plan(ctx context.Context, c *call) (*Message, error) {
	def, err := b.definition(c.cmd.Name)
	if err != nil {
		return nil, err
	}
	if err := checkEnvironment(def, c.cmd.Environment); err != nil {
		return nil, err
	}
	act := dayops.Action{Kind: dayops.ActRead, Phase: def.Phase, Name: def.Name, Environment: c.cmd.Environment}
	if err := b.authorize(ctx, c, act, act.Target(), 0); err != nil {
		return nil, err
	}
	p, err := b.engine.Plan(ctx, dayops.RunRequest{
		Definition: def.Name, Environment: c.cmd.Environment, Params: paramsFor(def, c.cmd.Params),
		Actor: c.actor, Thread: c.thread, Trigger: dayops.TriggerChat,
	})
	if err != nil {
		return nil, err
	}
	return b.planMessage(p), nil
}

// planMessage renders a plan: what would run, where, under which lock and
// whose approval. Nothing has run.
func (b *Bot) planMessage(p *dayops.Plan) *Message {
	name := p.Definition.Name
	if p.Environment != "" {
		name += " " + p.Environment
	}
	text := fmt.Sprintf("Plan for %s at revision %s — nothing has run", name, dayops.ShortRevision(p.Revision))
	var fields []Field
	add := func(label, value string) {
		if value != "" {
			fields = append(fields, Field{Label: label, Value: value})
		}
	}
	add("params", dayops.FormatParams(p.Params))
	add("lock key", p.ConcurrencyKey)
	if p.Timeout > 0 {
		add("timeout", p.Timeout.String())
	}
	if p.Approval != nil {
		s := fmt.Sprintf("%d", max(p.Approval.Count, 1))
		if len(p.Approval.From) > 0 {
			s += " from " + strings.Join(p.Approval.From, ", ")
		}
		s += ", never the requester"
		if len(p.Approvers) > 0 {
			s += "; may approve: " + strings.Join(p.Approvers, ", ")
		}
		add("approvals", s)
	} else {
		add("approvals", "none")
	}
	add("secrets", strings.Join(p.Secrets, ", "))
	add("phase gates", b.gatesField(p))
	if len(p.Warnings) > 0 {
		add("warning", strings.Join(p.Warnings, "; ")+" — a run would be refused")
	}
	var pre []string
	if len(p.Env) > 0 {
		pre = append(pre, "env:")
		for _, e := range p.Env {
			pre = append(pre, "  "+e.Name+"="+dayops.Truncate(e.Value, 120))
		}
	}
	pre = append(pre, "steps:")
	pre = append(pre, plannedSteps(p.Steps)...)
	if len(p.Rollback) > 0 {
		pre = append(pre, "rollback:")
		pre = append(pre, plannedSteps(p.Rollback)...)
	}
	switch {
	case p.Changes != "":
		pre = append(pre, diffBlock(p))
	case p.ChangesSince != "":
		pre = append(pre, "no change to the definition since its last successful run at "+dayops.ShortRevision(p.ChangesSince))
	}
	return &Message{Text: b.redact(text), Fields: redactFields(b, fields), Pre: b.redact(strings.Join(pre, "\n"))}
}

func plannedSteps(steps []dayops.PlannedStep) []string {
	lines := make([]string, len(steps))
	for i, s := range steps {
		lines[i] = fmt.Sprintf("  %d. %s — %s", i+1, s.Name, s.Kind)
		if s.Detail != "" {
			lines[i] += ": " + dayops.Truncate(s.Detail, 100)
		}
		var extra []string
		if s.If != "" && s.If != dayops.IfSuccess {
			extra = append(extra, "if "+string(s.If))
		}
		if s.Timeout > 0 {
			extra = append(extra, "timeout "+s.Timeout.String())
		}
		if s.Retries > 0 {
			extra = append(extra, fmt.Sprintf("retries %d", s.Retries))
		}
		if len(extra) > 0 {
			lines[i] += " (" + strings.Join(extra, ", ") + ")"
		}
	}
	return lines
}

// diffBlock is the plan's change of definition, cut to maxDiffLines.
func diffBlock(p *dayops.Plan) string {
	lines := strings.Split(strings.TrimRight(p.Changes, "\n"), "\n")
	head := "changed since its last successful run"
	if p.ChangesSince != "" {
		head += " at " + dayops.ShortRevision(p.ChangesSince)
	}
	if len(lines) > maxDiffLines {
		more := len(lines) - maxDiffLines
		lines = append(lines[:maxDiffLines], fmt.Sprintf("… %d more lines", more))
	}
	return head + ":\n" + strings.Join(lines, "\n")
}

func (b *Bot) status(ctx context.Context, c *call) (*Message, error) {
	if c.cmd.RunID != 0 {
		r, err := b.store.Run(ctx, c.cmd.RunID)
		if err != nil {
			return nil, err
		}
		if err := b.authorizeRead(ctx, c, runTarget(r)); err != nil {
			return nil, err
		}
		m := b.runMessage(ctx, r)
		return &m, nil
	}
	if err := b.authorizeRead(ctx, c, "active runs"); err != nil {
		return nil, err
	}
	runs, err := b.store.Runs(ctx, dayops.RunFilter{States: []dayops.RunState{
		dayops.RunPending, dayops.RunAwaitingApproval, dayops.RunQueued, dayops.RunRunning,
	}})
	if err != nil {
		return nil, fmt.Errorf("listing active runs: %w", err)
	}
	locks, err := b.store.EnvironmentLocks(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing environment locks: %w", err)
	}
	var lines []string
	if len(runs) == 0 {
		lines = append(lines, "no active runs")
	} else {
		lines = append(lines, fmt.Sprintf("%d active runs", len(runs)))
		for _, r := range runs {
			lines = append(lines, "  "+b.runLine(r))
		}
	}
	for _, l := range locks {
		s := fmt.Sprintf("%s is locked by %s since %s", l.Environment, l.Actor.String(), formatTime(l.CreatedAt))
		if l.Reason != "" {
			s += ": " + l.Reason
		}
		lines = append(lines, s)
	}
	return &Message{Text: b.redact(strings.Join(lines, "\n")), Footer: b.prefix + " status RUN shows one run"}, nil
}

// runLine is one run in a list: "#12 deploy-web staging — running (step
// Deploy) · alice · 2025-01-02 15:04 · 3.1s".
func (b *Bot) runLine(r *dayops.Run) string {
	s := fmt.Sprintf("#%d %s", r.ID, r.Definition)
	if r.Environment != "" {
		s += " " + r.Environment
	}
	s += " — " + StateText(r.State)
	if r.State == dayops.RunRunning && r.CurrentStep != "" {
		s += " (step " + r.CurrentStep + ")"
	}
	parts := []string{s, r.Actor.String(), formatTime(r.CreatedAt)}
	if d := FormatDuration(r.Duration(b.now())); d != "" {
		parts = append(parts, d)
	}
	if v, ok := r.Params["version"]; ok {
		parts = append(parts, "version="+dayops.Truncate(v, 40))
	}
	return strings.Join(parts, " · ")
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func (b *Bot) history(ctx context.Context, c *call) (*Message, error) {
	name := c.cmd.Name
	if name != "" {
		if _, ok := b.catalog().Lookup(name); !ok {
			if d, ok := b.catalog().ForService(name); ok {
				name = d.Name // history web = history deploy-web
			}
		}
	}
	target := "runs"
	if name != "" {
		target = "runs of " + name
	}
	if err := b.authorizeRead(ctx, c, target); err != nil {
		return nil, err
	}
	runs, err := b.store.Runs(ctx, dayops.RunFilter{Definition: name, Environment: c.cmd.Environment, Limit: historyLimit})
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	if len(runs) == 0 && name != "" {
		if _, err := b.definition(name); err != nil {
			return nil, err // a typo gets its did-you-mean rather than "no runs"
		}
	}
	if len(runs) == 0 {
		return &Message{Text: "no runs yet"}, nil
	}
	lines := []string{fmt.Sprintf("last %d runs", len(runs))}
	for _, r := range runs {
		lines = append(lines, "  "+b.runLine(r))
	}
	return &Message{Text: b.redact(strings.Join(lines, "\n"))}, nil
}

func (b *Bot) sync(ctx context.Context, c *call) (*Message, error) {
	if err := b.authorizeRead(ctx, c, "sync"); err != nil {
		return nil, err
	}
	rec, err := b.catalogs.Sync(ctx)
	if err != nil && rec.Outcome == "" {
		return nil, err
	}
	var text string
	switch rec.Outcome {
	case dayops.SyncUpdated:
		text = fmt.Sprintf("synced: now at revision %s with %d definitions", dayops.ShortRevision(rec.Serving), rec.Definitions)
	case dayops.SyncUnchanged:
		text = fmt.Sprintf("already up to date at revision %s (%d definitions)", dayops.ShortRevision(rec.Serving), rec.Definitions)
	case dayops.SyncInvalid:
		text = fmt.Sprintf("revision %s is invalid, so dayops keeps serving %s", dayops.ShortRevision(rec.Revision), dayops.ShortRevision(rec.Serving))
	default:
		text = "the sync failed; dayops keeps serving revision " + dayops.ShortRevision(rec.Serving)
	}
	m := &Message{Text: b.redact(text)}
	if len(rec.Errors) > 0 {
		errs := rec.Errors
		if len(errs) > 20 {
			errs = append(errs[:20:20], fmt.Sprintf("… %d more", len(rec.Errors)-20))
		}
		m.Pre = b.redact(strings.Join(errs, "\n"))
	}
	if hist, err := b.store.Syncs(ctx, recentSyncs); err != nil {
		b.log.Warn("reading sync history", "err", err)
	} else if len(hist) > 0 {
		lines := []string{"recent syncs:"}
		for _, h := range hist {
			lines = append(lines, syncLine(h))
		}
		m.Footer = b.redact(strings.Join(lines, "\n"))
	}
	return m, nil
}

// recentSyncs is how much sync history the sync reply shows.
const recentSyncs = 5

// syncLine is one row of sync history: when, outcome, head, duration.
func syncLine(r dayops.SyncRecord) string {
	rev := dayops.ShortRevision(r.Revision)
	if rev == "" {
		rev = "no revision"
	}
	line := fmt.Sprintf("  %s  %-9s %s  %d definitions  %s", r.Time.UTC().Format("2006-01-02 15:04:05Z"), r.Outcome, rev, r.Definitions, FormatDuration(r.Duration))
	if n := len(r.Errors); n > 0 {
		line += fmt.Sprintf("  (%d problem(s))", n)
	}
	return line
}

func redactFields(b *Bot, fs []Field) []Field {
	for i := range fs {
		fs[i].Value = b.redact(fs[i].Value)
	}
	return fs
}
