package executor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// prepared is a validated request: what Plan shows and Start records.
type prepared struct {
	def  *dayops.Definition
	cat  *dayops.Catalog // the catalog def was taken from, pinned for uses: steps
	req  dayops.RunRequest
	plan *dayops.Plan
}

// Plan validates req against the current catalog and returns what a run would
// do, with nothing recorded and nothing run. A declared secret that is not
// configured is a warning of the plan (a run would be refused).
func (e *Executor) Plan(ctx context.Context, req dayops.RunRequest) (*dayops.Plan, error) {
	p, err := e.prepare(e.catalogs.Catalog(), req, true)
	if err != nil {
		return nil, err
	}
	if err := e.addGates(ctx, p); err != nil {
		return nil, err
	}
	e.addChanges(ctx, p)
	return p.plan, nil
}

// Planner plans runs with no database: what `dayops plan` needs. It records
// nothing and runs nothing; its plans say nothing about earlier runs.
type Planner struct{ e *Executor }

// NewPlanner returns a planner; of opts it uses Catalogs, Policy, Secrets,
// Vars, DefaultTimeout and Store, only to read whether phase gates are met:
// without a Store its plans list the gates without knowing
// (Plan.GatesUnknown).
func NewPlanner(opts Options) (*Planner, error) {
	if opts.Catalogs == nil {
		return nil, errors.New("executor: Catalogs is required")
	}
	if opts.DefaultTimeout <= 0 {
		opts.DefaultTimeout = time.Hour
	}
	values := slices.Sorted(maps.Values(opts.Secrets))
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Planner{e: &Executor{opts: opts, catalogs: opts.Catalogs, store: opts.Store, now: now, redactor: dayops.NewRedactor(values...)}}, nil
}

// Plan is Executor.Plan without what changed since the last successful run.
func (p *Planner) Plan(ctx context.Context, req dayops.RunRequest) (*dayops.Plan, error) {
	pr, err := p.e.prepare(p.e.catalogs.Catalog(), req, true)
	if err != nil {
		return nil, err
	}
	if err := p.e.addGates(ctx, pr); err != nil {
		return nil, err
	}
	return pr.plan, nil
}

// prepare validates req against cat: the definition, the environment, the
// parameters and the secrets it declares. Nothing runs when it fails. With
// dry, missing secrets are warnings of the plan instead.
func (e *Executor) prepare(cat *dayops.Catalog, req dayops.RunRequest, dry bool) (*prepared, error) {
	if cat == nil {
		return nil, dayops.Errorf(dayops.KindUnavailable, "no valid definitions are loaded yet: run sync and fix the errors it reports")
	}
	def, err := cat.Get(req.Definition)
	if err != nil {
		return nil, err
	}
	return e.prepareDef(cat.Revision(), cat, def, req, dry)
}

// prepareDef validates req for def at revision; cat (nil for a run taken
// over after a restart) is pinned for the run's uses: steps.
func (e *Executor) prepareDef(revision string, cat *dayops.Catalog, def *dayops.Definition, req dayops.RunRequest, dry bool) (*prepared, error) {
	if err := def.CheckEnvironment(req.Environment); err != nil {
		return nil, err
	}
	params, err := def.ResolveParams(req.Params)
	if err != nil {
		return nil, err
	}
	for k, v := range req.Context {
		if !validValue(v) || len(v) > 4096 {
			return nil, dayops.Errorf(dayops.KindInvalid, "trigger field %s is not valid text", dayops.Truncate(k, 40))
		}
	}
	if req.NoSecrets {
		req.Context = maps.Clone(req.Context)
		if req.Context == nil {
			req.Context = map[string]string{}
		}
		req.Context[dayops.ContextNoSecrets] = "true"
	}
	noSecrets := req.Context[dayops.ContextNoSecrets] == "true"
	var missing []string
	for _, name := range def.Secrets {
		if noSecrets {
			break // none is handed over, so none need be configured
		}
		if _, ok := e.opts.Secrets[name]; !ok {
			missing = append(missing, fmt.Sprintf("secret %s is not configured: set DAYOPS_SECRET_%s", name, name))
		}
	}
	if len(missing) > 0 && !dry {
		return nil, dayops.Errorf(dayops.KindInvalid, "%s", strings.Join(missing, "; "))
	}
	hosts, unusable := e.stepHosts(def, req.Environment)
	if len(unusable) > 0 && !dry {
		return nil, dayops.Errorf(dayops.KindInvalid, "%s", strings.Join(unusable, "; "))
	}
	missing = append(missing, unusable...)
	if revision == "" {
		revision = def.Source.Revision
	}
	scope := dayops.Scope{
		Params: params, Environment: req.Environment, Vars: e.opts.Vars, PR: dayops.PRContext(req.Context),
		Run: map[string]string{"actor": req.Actor.ID, "revision": revision, "definition": def.Name},
	}
	if req.Trigger == "" {
		req.Trigger = dayops.TriggerChat
	}
	req.Params = params
	plan := &dayops.Plan{
		Definition: def, Revision: revision, Environment: req.Environment, Params: params,
		Secrets: slices.Clone(def.Secrets), Timeout: def.Timeout,
		Hash:     dayops.PlanHash(revision, def, req.Environment, params),
		Warnings: missing,
	}
	if noSecrets {
		plan.Secrets = nil
		if len(def.Secrets) > 0 {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("it runs without secrets (%s are not handed to its steps): it was started from a fork's pull request",
				strings.Join(def.Secrets, ", ")))
		}
	}
	if plan.Timeout <= 0 {
		plan.Timeout = e.opts.DefaultTimeout
	}
	if plan.ConcurrencyKey, err = dayops.Expand(def.Concurrency, scope); err != nil {
		return nil, fmt.Errorf("expanding concurrency of %s: %w", def.Name, err)
	}
	for _, v := range def.Env {
		val, err := dayops.Expand(v.Value, scope)
		if err != nil {
			return nil, fmt.Errorf("expanding env %s of %s: %w", v.Name, def.Name, err)
		}
		plan.Env = append(plan.Env, dayops.EnvVar{Name: v.Name, Value: e.redactor.Redact(val)})
	}
	placeholders := stepPlaceholders(def)
	scope.Steps = placeholders
	scope.Run["id"] = "${{ run.id }}"
	for i, st := range def.Steps {
		plan.Steps = append(plan.Steps, e.plannedStep(i, st, false, scope))
	}
	for i, st := range def.Rollback {
		plan.Rollback = append(plan.Rollback, e.plannedStep(len(def.Steps)+i, st, true, scope))
	}
	addHosts(plan.Steps, def.Steps, hosts)
	addHosts(plan.Rollback, def.Rollback, hosts)
	if env, ok := def.Environment(req.Environment); ok && env.Approvals != nil {
		rule := *env.Approvals
		rule.From = slices.Clone(rule.From)
		plan.Approval = &rule
		plan.Approvers = e.opts.Policy.Approvers(def, req.Environment, rule, req.Actor)
	}
	return &prepared{def: def, cat: cat, req: req, plan: plan}, nil
}

// stepPlaceholders makes step outputs show as their expressions in a plan,
// where they are not known yet.
func stepPlaceholders(def *dayops.Definition) map[string]map[string]string {
	out := map[string]map[string]string{}
	add := func(s string) {
		t, err := dayops.ParseTemplate(s)
		if err != nil {
			return
		}
		for _, r := range t.Refs() {
			if r.Root == "steps" {
				if out[r.Path[0]] == nil {
					out[r.Path[0]] = map[string]string{}
				}
				out[r.Path[0]][r.Path[2]] = "${{ " + r.String() + " }}"
			}
		}
	}
	for _, list := range [][]dayops.Step{def.Steps, def.Rollback} {
		for _, st := range list {
			for _, v := range append(slices.Clone(st.Env), st.With...) {
				add(v.Value)
			}
			add(st.Approval)
			if st.HTTP != nil {
				add(st.HTTP.URL)
				add(st.HTTP.BodyContains)
			}
		}
	}
	return out
}

func (e *Executor) plannedStep(i int, st dayops.Step, rollback bool, scope dayops.Scope) dayops.PlannedStep {
	ps := dayops.PlannedStep{Index: i, StepID: st.ID, Name: st.Name, Kind: st.Kind, If: st.If,
		Timeout: st.Timeout, Retries: st.Retries, Rollback: rollback}
	switch st.Kind {
	case dayops.StepKindRun:
		first, _, _ := strings.Cut(strings.TrimSpace(st.Run), "\n")
		ps.Detail = dayops.Truncate(first, 120)
	case dayops.StepKindHTTP:
		if st.HTTP != nil {
			u, _ := dayops.Expand(st.HTTP.URL, scope)
			ps.Detail = httpMethod(st.HTTP) + " " + u
		}
	case dayops.StepKindApproval:
		ps.Detail, _ = dayops.Expand(st.Approval, scope)
	case dayops.StepKindChecklist:
		if c := st.Checklist; c != nil {
			ps.Detail = fmt.Sprintf("%d questions answered yes or no by role %s: %s", len(c.Questions), strings.Join(c.From, " or "), strings.Join(c.Questions, " / "))
		}
	case dayops.StepKindUses:
		var with []string
		for _, w := range st.With {
			v, _ := dayops.Expand(w.Value, scope)
			with = append(with, w.Name+"="+strconv.Quote(v))
		}
		ps.Detail = st.Uses
		if len(with) > 0 {
			ps.Detail += " with " + strings.Join(with, " ")
		}
	}
	ps.Detail = e.redactor.Redact(ps.Detail)
	return ps
}

// addChanges fills the plan's diff of the definition since its last
// successful run in the same environment. Failing to tell is not an error.
func (e *Executor) addChanges(ctx context.Context, p *prepared) {
	p.plan.ChangesSince, p.plan.Changes = e.changes(ctx, p.def, p.req.Environment, p.plan.Revision, false)
}

// Changes is what changed in the named definition of the current catalog
// since its last successful run in env (with env "", in any environment): the
// revision of that run and a unified diff of the definition's file, both ""
// when there is no such run, nothing changed, or the old revision is gone.
// It lets describe show what an approver would approve without a plan.
func (e *Executor) Changes(ctx context.Context, name, env string) (since, diff string, err error) {
	cat := e.catalogs.Catalog()
	def, err := cat.Get(name)
	if err != nil {
		return "", "", err
	}
	since, diff = e.changes(ctx, def, env, cat.Revision(), env == "")
	return since, diff, nil
}

func (e *Executor) changes(ctx context.Context, def *dayops.Definition, env, revision string, anyEnv bool) (since, diff string) {
	var last *dayops.Run
	var err error
	if anyEnv {
		var runs []*dayops.Run
		runs, err = e.store.Runs(ctx, dayops.RunFilter{Definition: def.Name, States: []dayops.RunState{dayops.RunSucceeded}, Limit: 1})
		if len(runs) > 0 {
			last = runs[0]
		}
	} else {
		last, err = e.store.LastSucceeded(ctx, def.Name, env, 0)
	}
	if err != nil || last == nil || last.Revision == revision {
		if err != nil {
			e.logger.Warn("finding the last successful run for a diff", "definition", def.Name, "err", err)
		}
		return "", ""
	}
	old, err := e.catalogs.DefinitionAt(ctx, last.Revision, def.Name)
	if err != nil {
		if dayops.KindOf(err) != dayops.KindNotFound {
			e.logger.Warn("reading a definition at an old revision", "definition", def.Name, "revision", last.Revision, "err", err)
		}
		return "", ""
	}
	return last.Revision, e.redactor.Redact(dayops.UnifiedDiff(
		old.Source.File+"@"+dayops.ShortRevision(last.Revision),
		def.Source.File+"@"+dayops.ShortRevision(revision),
		old.Source.Content, def.Source.Content, 3))
}

func httpMethod(h *dayops.HTTPCheck) string {
	if h.Method == "" {
		return "GET"
	}
	return strings.ToUpper(h.Method)
}

// validValue reports whether s may become an environment value: valid UTF-8
// without NUL or other control characters except tab.
func validValue(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' || (r < 0x20 && r != '\t') || r == 0x7f {
			return false
		}
	}
	return true
}

// planTimeout is the run's time budget.
func (e *Executor) planTimeout(def *dayops.Definition) time.Duration {
	if def.Timeout > 0 {
		return def.Timeout
	}
	return e.opts.DefaultTimeout
}
