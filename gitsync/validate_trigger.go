package gitsync

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

var (
	repoPattern      = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	labelNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	prEvents         = []string{"merged", "opened", "synchronize", "labeled"}
)

// defaultIncidentChannel is the channel pattern of an incident trigger that
// names none; it matches the server's default incident channels.
const defaultIncidentChannel = "^inc-"

func (v *validator) triggers() {
	t, out := v.raw.Triggers, &v.def.Triggers
	for _, rt := range t.PullRequest {
		out.PullRequest = append(out.PullRequest, v.prTrigger(rt))
	}
	for _, rt := range t.Incident {
		it := dayops.IncidentTrigger{Auto: rt.Auto.v}
		it.Cooldown, it.Budget = v.guard(rt.Cooldown, rt.Budget)
		channel := defaultIncidentChannel
		if rt.Channel.set() {
			channel = rt.Channel.v
		}
		it.Channel = v.regexp(rt.Channel, channel, "incident channel")
		if rt.Match.set() {
			it.Match = v.regexp(rt.Match, rt.Match.v, "incident match")
		}
		out.Incident = append(out.Incident, it)
	}
	for _, rt := range t.Alert {
		at := dayops.AlertTrigger{AlertName: rt.AlertName.v, Auto: rt.Auto.v}
		at.Cooldown, at.Budget = v.guard(rt.Cooldown, rt.Budget)
		switch {
		case !rt.keys["alertname"] && isMapping(rt.node):
			v.addf(rt.node, "alert trigger needs an alertname: the Alertmanager alertname label to react to")
		case rt.AlertName.set() && strings.TrimSpace(rt.AlertName.v) == "":
			v.addf(rt.AlertName.n, "alertname is empty: name the Alertmanager alert to react to")
		}
		for _, l := range rt.Labels {
			if !labelNamePattern.MatchString(l.key.v) {
				v.addf(l.key.n, "label name %q is not a Prometheus label name", dayops.Truncate(l.key.v, 40))
			}
			if at.Labels == nil {
				at.Labels = map[string]string{}
			}
			at.Labels[l.key.v] = l.val.v
		}
		out.Alert = append(out.Alert, at)
	}
	for _, rs := range t.Schedule {
		out.Schedule = append(out.Schedule, v.schedule(rs))
	}
}

// maxBudget bounds a trigger's budget: more automatic runs an hour than
// this is no guard at all.
const maxBudget = 100

// guard reads a trigger's cooldown and budget, with their defaults.
func (v *validator) guard(cooldown dur, budget num) (time.Duration, int) {
	c, n := dayops.DefaultCooldown, dayops.DefaultBudget
	if cooldown.n != nil {
		c = cooldown.v
		if c < 0 {
			v.addf(cooldown.n, "cooldown %s is negative: use 0s for none, or a duration like 30m", cooldown.n.Value)
			c = 0
		}
	}
	if budget.n != nil {
		n = budget.v
		if n < 1 || n > maxBudget {
			v.addf(budget.n, "budget %d is not from 1 to %d: it is how many automatic runs an hour this trigger may start (set auto: false to never run by itself)", budget.v, maxBudget)
		}
	}
	return c, n
}

func (v *validator) schedule(rs rawScheduleTrigger) dayops.ScheduleTrigger {
	st := dayops.ScheduleTrigger{Cron: rs.Cron.v, Window: rs.Window.v}
	switch {
	case !rs.keys["cron"] && isMapping(rs.node):
		v.addf(rs.node, "schedule trigger needs a cron: a five-field cron expression such as '0 3 * * *'")
	case rs.Cron.set():
		if _, err := dayops.ParseCron(rs.Cron.v); err != nil {
			v.addf(rs.Cron.n, "schedule %q: %v", dayops.Truncate(rs.Cron.v, 40), err)
		}
	}
	if rs.Window.n != nil && rs.Window.v <= 0 {
		v.addf(rs.Window.n, "window %s must be more than zero: how late a missed firing may still run, such as 10m", rs.Window.n.Value)
	}
	return st
}

func (v *validator) prTrigger(rt rawPRTrigger) dayops.PullRequestTrigger {
	pt := dayops.PullRequestTrigger{Repo: rt.Repo.v, On: "merged", Environment: rt.Environment.v}
	switch {
	case !rt.keys["repo"] && isMapping(rt.node):
		v.addf(rt.node, "pull_request trigger needs a repo: owner/name of the application repository")
	case rt.Repo.set() && !repoPattern.MatchString(rt.Repo.v):
		v.addf(rt.Repo.n, "repo %q must be owner/name", dayops.Truncate(rt.Repo.v, 60))
	}
	if rt.On.set() {
		pt.On = rt.On.v
		if !slices.Contains(prEvents, rt.On.v) {
			msg := fmt.Sprintf("on %q is not one of %s", dayops.Truncate(rt.On.v, 40), strings.Join(prEvents, ", "))
			if s := dayops.Suggest(rt.On.v, prEvents); s != "" {
				msg += fmt.Sprintf(" — did you mean %q?", s)
			}
			v.addf(rt.On.n, "%s", msg)
		}
	}
	for _, b := range rt.Branches {
		if strings.TrimSpace(b.v) == "" {
			v.addf(b.n, "a branch name must not be empty")
		} else if _, err := path.Match(b.v, ""); err != nil {
			v.addf(b.n, "branch pattern %q is not a valid glob: use * and ? (a * does not cross /)", dayops.Truncate(b.v, 60))
		}
		pt.Branches = append(pt.Branches, b.v)
	}
	for _, l := range rt.Labels {
		if strings.TrimSpace(l.v) == "" {
			v.addf(l.n, "a label must not be empty")
		}
		pt.Labels = append(pt.Labels, l.v)
	}
	envs := v.def.EnvironmentNames()
	switch {
	case rt.Environment.set() && len(envs) == 0:
		v.addf(rt.Environment.n, "environment %q: this definition declares no environments", dayops.Truncate(rt.Environment.v, 40))
	case rt.Environment.set() && !slices.Contains(envs, rt.Environment.v):
		v.addf(rt.Environment.n, "environment %q is not declared: use one of %s", dayops.Truncate(rt.Environment.v, 40), strings.Join(envs, ", "))
	case !rt.keys["environment"] && len(envs) > 0 && isMapping(rt.node):
		v.addf(rt.node, "pull_request trigger needs an environment: one of %s", strings.Join(envs, ", "))
	}
	given := map[string]bool{}
	for _, p := range rt.Params {
		given[p.key.v] = true
		if !v.params[p.key.v] {
			v.addf(p.key.n, "params %q is not a parameter of this definition %s", dayops.Truncate(p.key.v, 40), v.paramHint())
		}
		pt.Params = append(pt.Params, dayops.EnvVar{Name: p.key.v, Value: v.template(p.val, scope{where: "trigger params", noParams: true})})
	}
	for _, p := range v.def.Params {
		if p.Required && !p.HasDefault && !given[p.Name] && isMapping(rt.node) {
			v.addf(rt.node, "pull_request trigger does not set the required parameter %s: add params: {%s: ...}", p.Name, p.Name)
		}
	}
	return pt
}

func (v *validator) regexp(s str, expr, what string) *regexp.Regexp {
	re, err := regexp.Compile(expr)
	if err != nil {
		v.addf(s.n, "%s does not compile: %v", what, err)
		return nil
	}
	return re
}
