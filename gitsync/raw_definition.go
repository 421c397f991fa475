package gitsync

import (
	"fmt"

	"github.com/dayops/dayops"
	"gopkg.in/yaml.v3"
)

type rawDefinition struct {
	node         *yaml.Node
	keys         map[string]bool // keys present
	APIVersion   str
	Phase        str
	Name         str
	Description  str
	Service      str
	Environments []rawEnvironment
	Params       []rawParam
	Concurrency  str
	Timeout      dur
	Secrets      []str
	Env          []kv
	Steps        []rawStep
	stepsNode    *yaml.Node // nil when steps: is absent
	Rollback     []rawStep
	Triggers     rawTriggers
	Requires     []rawRequirement
	rawHosts     // on, parallel, continue_on_host_error: defaults of its run steps
}

// rawHosts are the keys that run a step on SSH targets.
type rawHosts struct {
	On                  str
	Parallel            num
	ContinueOnHostError boolean
}

func (d *decoder) hostFields(h *rawHosts) []field {
	return []field{d.textField("on", &h.On, ""), d.numField("parallel", &h.Parallel, ""),
		d.boolField("continue_on_host_error", &h.ContinueOnHostError, "")}
}

type rawEnvironment struct {
	Name      str
	Approvals *rawApprovals
	URL       str
	Requires  []rawRequirement
}

type rawApprovals struct {
	node     *yaml.Node
	Count    num
	hasCount bool // count: is present (Count.n is nil when it is not a number)
	From     []str
	fromNode *yaml.Node // nil when from: is absent
}

type rawParam struct {
	Name        str
	Description str
	Type        str
	Pattern     str
	Required    boolean
	Default     str
	Choices     []str
	choicesNode *yaml.Node
}

type rawStep struct {
	node            *yaml.Node
	kinds           []pair // the run/http/approval/uses keys present
	ID              str
	Name            str
	If              str
	Run             str
	Approval        str
	Uses            str
	HTTP            *rawHTTP
	Checklist       *rawChecklist
	With            []kv
	withNode        *yaml.Node
	Env             []kv
	Timeout         dur
	Retries         num
	RetryDelay      dur
	ContinueOnError boolean
	rawHosts
}

type rawHTTP struct {
	node         *yaml.Node
	keys         map[string]bool
	URL          str
	Method       str
	Status       num
	BodyContains str
	Attempts     num
	Interval     dur
	Timeout      dur
}

type rawTriggers struct {
	PullRequest []rawPRTrigger
	Incident    []rawIncidentTrigger
	Alert       []rawAlertTrigger
	Schedule    []rawScheduleTrigger
}

// rawScheduleTrigger is a cron string, or {cron: '…', window: 10m}.
type rawScheduleTrigger struct {
	node   *yaml.Node
	keys   map[string]bool
	Cron   str
	Window dur
}

type rawPRTrigger struct {
	node        *yaml.Node
	keys        map[string]bool
	Repo        str
	On          str
	Branches    []str
	Labels      []str
	Environment str
	Params      []kv
}

type rawIncidentTrigger struct {
	node     *yaml.Node
	Channel  str
	Match    str
	Auto     boolean
	Cooldown dur
	Budget   num
}

type rawAlertTrigger struct {
	node      *yaml.Node
	keys      map[string]bool
	AlertName str
	Labels    []kv
	Auto      boolean
	Cooldown  dur
	Budget    num
}

// field is one key of a mapping with a fixed set of keys, and what to do
// with its value.
type field struct {
	key string
	set func(p pair)
}

// object decodes a mapping with the given keys, in that order in messages:
// unknown keys are errors with a suggestion. It returns the keys present.
func (d *decoder) object(n *yaml.Node, what string, fs ...field) map[string]bool {
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	return d.fields(n, what, keys, func(p pair) {
		for _, f := range fs {
			if f.key == p.name {
				f.set(p)
				return
			}
		}
	})
}

// The field makers: key's value decoded into dst, named what in messages
// ("" for the key itself).
func (d *decoder) textField(key string, dst *str, what string) field {
	return field{key, func(p pair) { *dst = d.str(p.v, or(what, key)) }}
}

func (d *decoder) numField(key string, dst *num, what string) field {
	return field{key, func(p pair) { *dst = d.num(p.v, or(what, key)) }}
}

func (d *decoder) boolField(key string, dst *boolean, what string) field {
	return field{key, func(p pair) { *dst = d.boolean(p.v, or(what, key)) }}
}

func (d *decoder) durField(key string, dst *dur, what string) field {
	return field{key, func(p pair) { *dst = d.dur(p.v, or(what, key)) }}
}

func (d *decoder) textsField(key string, dst *[]str, what string) field {
	return field{key, func(p pair) { *dst = d.strs(p.v, or(what, key)) }}
}

func (d *decoder) mapField(key string, dst *[]kv, what string) field {
	return field{key, func(p pair) { *dst = d.strMap(p.v, or(what, key)) }}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// decodeDefinition reads the root mapping of a definition file.
func (d *decoder) decodeDefinition(n *yaml.Node) *rawDefinition {
	n = d.resolve(n)
	if n.Kind != yaml.MappingNode {
		d.addf(n, "a definition must be a mapping with apiVersion, phase, name and steps, not %s", kindName(n))
		return nil
	}
	r := &rawDefinition{node: n}
	r.keys = d.object(n, "definition", append([]field{
		d.textField("apiVersion", &r.APIVersion, ""),
		d.textField("phase", &r.Phase, ""),
		d.textField("name", &r.Name, ""),
		d.textField("description", &r.Description, ""),
		d.textField("service", &r.Service, ""),
		field{"environments", func(p pair) {
			for _, e := range d.pairs(p.v, "environments") {
				r.Environments = append(r.Environments, d.decodeEnvironment(e))
			}
		}},
		field{"params", func(p pair) {
			for _, e := range d.pairs(p.v, "params") {
				r.Params = append(r.Params, d.decodeParam(e))
			}
		}},
		d.textField("concurrency", &r.Concurrency, ""),
		d.durField("timeout", &r.Timeout, ""),
		d.textsField("secrets", &r.Secrets, ""),
		d.mapField("env", &r.Env, ""),
		field{"steps", func(p pair) {
			r.stepsNode = d.resolve(p.v)
			r.Steps = d.decodeSteps(p.v, "steps")
		}},
		field{"rollback", func(p pair) { r.Rollback = d.decodeSteps(p.v, "rollback") }},
		field{"triggers", func(p pair) { r.Triggers = d.decodeTriggers(p.v) }},
		d.requiresField(&r.Requires),
	}, d.hostFields(&r.rawHosts)...)...,
	)
	return r
}

func (d *decoder) decodeEnvironment(e pair) rawEnvironment {
	env := rawEnvironment{Name: str{v: e.name, n: e.k}}
	what := fmt.Sprintf("environment %q", dayops.Truncate(e.name, 40))
	d.object(e.v, what, field{"approvals", func(p pair) {
		a := &rawApprovals{node: d.resolve(p.v)}
		if isNull(a.node) {
			d.addf(a.node, "approvals of %s is empty: write {count: 1, from: [ROLE]} or remove it", what)
			return
		}
		keys := d.object(p.v, "approvals",
			d.numField("count", &a.Count, "approvals count"),
			field{"from", func(p pair) {
				a.fromNode = d.resolve(p.v)
				a.From = d.strs(p.v, "approvals from")
			}},
		)
		a.hasCount = keys["count"]
		env.Approvals = a
	}}, d.textField("url", &env.URL, ""), d.requiresField(&env.Requires))
	return env
}

func (d *decoder) decodeParam(e pair) rawParam {
	prm := rawParam{Name: str{v: e.name, n: e.k}}
	d.object(e.v, fmt.Sprintf("parameter %q", dayops.Truncate(e.name, 40)),
		d.textField("description", &prm.Description, ""),
		d.textField("type", &prm.Type, ""),
		d.textField("pattern", &prm.Pattern, ""),
		d.boolField("required", &prm.Required, ""),
		d.textField("default", &prm.Default, ""),
		field{"choices", func(p pair) {
			prm.choicesNode = d.resolve(p.v)
			prm.Choices = d.strs(p.v, "choices")
		}},
	)
	return prm
}

func (d *decoder) decodeSteps(n *yaml.Node, what string) []rawStep {
	items := d.list(n, what)
	out := make([]rawStep, 0, len(items))
	for _, item := range items {
		out = append(out, d.decodeStep(item))
	}
	return out
}

func (d *decoder) decodeStep(n *yaml.Node) rawStep {
	s := rawStep{node: n}
	// kind records which of the run/http/approval/uses keys are present, in
	// file order, so that a step with two is reported.
	kind := func(f field) field {
		return field{f.key, func(p pair) {
			s.kinds = append(s.kinds, p)
			f.set(p)
		}}
	}
	d.object(n, "step", append([]field{
		d.textField("id", &s.ID, ""),
		d.textField("name", &s.Name, ""),
		d.textField("if", &s.If, ""),
		kind(d.textField("run", &s.Run, "")),
		kind(field{"http", func(p pair) { s.HTTP = d.decodeHTTP(p.v) }}),
		kind(d.textField("approval", &s.Approval, "")),
		kind(d.textField("uses", &s.Uses, "")),
		kind(field{"checklist", func(p pair) { s.Checklist = d.decodeChecklist(p.v) }}),
		field{"with", func(p pair) {
			s.withNode = d.resolve(p.v)
			s.With = d.strMap(p.v, "with")
		}},
		d.mapField("env", &s.Env, ""),
		d.durField("timeout", &s.Timeout, ""),
		d.numField("retries", &s.Retries, ""),
		d.durField("retry_delay", &s.RetryDelay, ""),
		d.boolField("continue_on_error", &s.ContinueOnError, ""),
	}, d.hostFields(&s.rawHosts)...)...,
	)
	return s
}

func (d *decoder) decodeHTTP(n *yaml.Node) *rawHTTP {
	h := &rawHTTP{node: d.resolve(n)}
	if h.node.Kind == yaml.ScalarNode && !isNull(h.node) {
		d.addf(h.node, "http must be a mapping like {url: https://example.com/healthz, status: 200}, not %s", kindName(h.node))
		return h
	}
	h.keys = d.object(n, "http check",
		d.textField("url", &h.URL, "http url"),
		d.textField("method", &h.Method, "http method"),
		d.numField("status", &h.Status, "http status"),
		d.textField("body_contains", &h.BodyContains, "http body_contains"),
		d.numField("attempts", &h.Attempts, "http attempts"),
		d.durField("interval", &h.Interval, "http interval"),
		d.durField("timeout", &h.Timeout, "http timeout"),
	)
	return h
}

func (d *decoder) decodeTriggers(n *yaml.Node) rawTriggers {
	var t rawTriggers
	d.object(n, "triggers",
		field{"pull_request", func(p pair) {
			for _, item := range d.list(p.v, "pull_request triggers") {
				t.PullRequest = append(t.PullRequest, d.decodePRTrigger(item))
			}
		}},
		field{"incident", func(p pair) {
			for _, item := range d.list(p.v, "incident triggers") {
				t.Incident = append(t.Incident, d.decodeIncidentTrigger(item))
			}
		}},
		field{"alert", func(p pair) {
			for _, item := range d.list(p.v, "alert triggers") {
				t.Alert = append(t.Alert, d.decodeAlertTrigger(item))
			}
		}},
		field{"schedule", func(p pair) {
			for _, item := range d.list(p.v, "schedule") {
				t.Schedule = append(t.Schedule, d.decodeScheduleTrigger(item))
			}
		}},
	)
	return t
}

// decodeScheduleTrigger reads a cron string, or a mapping with cron and window.
func (d *decoder) decodeScheduleTrigger(n *yaml.Node) rawScheduleTrigger {
	t := rawScheduleTrigger{node: d.resolve(n)}
	if t.node.Kind == yaml.ScalarNode {
		t.Cron = d.str(n, "a schedule")
		t.keys = map[string]bool{"cron": t.Cron.set()}
		return t
	}
	t.keys = d.object(n, "schedule trigger",
		d.textField("cron", &t.Cron, "schedule cron"),
		d.durField("window", &t.Window, "schedule window"),
	)
	return t
}

func (d *decoder) decodePRTrigger(n *yaml.Node) rawPRTrigger {
	t := rawPRTrigger{node: n}
	t.keys = d.object(n, "pull_request trigger",
		d.textField("repo", &t.Repo, ""),
		d.textField("on", &t.On, ""),
		d.textsField("branches", &t.Branches, ""),
		d.textsField("labels", &t.Labels, ""),
		d.textField("environment", &t.Environment, ""),
		d.mapField("params", &t.Params, ""),
	)
	return t
}

func (d *decoder) decodeIncidentTrigger(n *yaml.Node) rawIncidentTrigger {
	t := rawIncidentTrigger{node: n}
	d.object(n, "incident trigger",
		d.textField("channel", &t.Channel, ""),
		d.textField("match", &t.Match, ""),
		d.boolField("auto", &t.Auto, ""),
		d.durField("cooldown", &t.Cooldown, "incident cooldown"),
		d.numField("budget", &t.Budget, "incident budget"),
	)
	return t
}

func (d *decoder) decodeAlertTrigger(n *yaml.Node) rawAlertTrigger {
	t := rawAlertTrigger{node: n}
	t.keys = d.object(n, "alert trigger",
		d.textField("alertname", &t.AlertName, ""),
		d.mapField("labels", &t.Labels, ""),
		d.boolField("auto", &t.Auto, ""),
		d.durField("cooldown", &t.Cooldown, "alert cooldown"),
		d.numField("budget", &t.Budget, "alert budget"),
	)
	return t
}
