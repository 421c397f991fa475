package gitsync

import (
	"fmt"

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
}

type rawEnvironment struct {
	Name      str
	Approvals *rawApprovals
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
	With            []kv
	withNode        *yaml.Node
	Env             []kv
	Timeout         dur
	Retries         num
	RetryDelay      dur
	ContinueOnError boolean
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
	Schedule    []str
}

type rawPRTrigger struct {
	node        *yaml.Node
	keys        map[string]bool
	Repo        str
	On          str
	Branches    []str
	Environment str
	Params      []kv
}

type rawIncidentTrigger struct {
	node    *yaml.Node
	Channel str
	Match   str
	Auto    boolean
}

type rawAlertTrigger struct {
	node      *yaml.Node
	keys      map[string]bool
	AlertName str
	Labels    []kv
	Auto      boolean
}

var definitionKeys = []string{"apiVersion", "phase", "name", "description", "service", "environments",
	"params", "concurrency", "timeout", "secrets", "env", "steps", "rollback", "triggers"}

// decodeDefinition reads the root mapping of a definition file.
func (d *decoder) decodeDefinition(n *yaml.Node) *rawDefinition {
	n = d.resolve(n)
	if n.Kind != yaml.MappingNode {
		d.addf(n, "a definition must be a mapping with apiVersion, phase, name and steps, not %s", kindName(n))
		return nil
	}
	r := &rawDefinition{node: n}
	r.keys = d.fields(n, "definition", definitionKeys, func(p pair) {
		switch p.name {
		case "apiVersion":
			r.APIVersion = d.str(p.v, p.name)
		case "phase":
			r.Phase = d.str(p.v, p.name)
		case "name":
			r.Name = d.str(p.v, p.name)
		case "description":
			r.Description = d.str(p.v, p.name)
		case "service":
			r.Service = d.str(p.v, p.name)
		case "environments":
			for _, e := range d.pairs(p.v, "environments") {
				r.Environments = append(r.Environments, d.decodeEnvironment(e))
			}
		case "params":
			for _, e := range d.pairs(p.v, "params") {
				r.Params = append(r.Params, d.decodeParam(e))
			}
		case "concurrency":
			r.Concurrency = d.str(p.v, p.name)
		case "timeout":
			r.Timeout = d.dur(p.v, p.name)
		case "secrets":
			r.Secrets = d.strs(p.v, p.name)
		case "env":
			r.Env = d.strMap(p.v, p.name)
		case "steps":
			r.stepsNode = d.resolve(p.v)
			r.Steps = d.decodeSteps(p.v, "steps")
		case "rollback":
			r.Rollback = d.decodeSteps(p.v, "rollback")
		case "triggers":
			r.Triggers = d.decodeTriggers(p.v)
		}
	})
	return r
}

func (d *decoder) decodeEnvironment(e pair) rawEnvironment {
	env := rawEnvironment{Name: str{v: e.name, n: e.k}}
	what := fmt.Sprintf("environment %q", truncate(e.name, 40))
	d.fields(e.v, what, []string{"approvals"}, func(p pair) {
		a := &rawApprovals{node: d.resolve(p.v)}
		if isNull(a.node) {
			d.addf(a.node, "approvals of %s is empty: write {count: 1, from: [ROLE]} or remove it", what)
			return
		}
		d.fields(p.v, "approvals", []string{"count", "from"}, func(p pair) {
			switch p.name {
			case "count":
				a.hasCount = true
				a.Count = d.num(p.v, "approvals count")
			case "from":
				a.fromNode = d.resolve(p.v)
				a.From = d.strs(p.v, "approvals from")
			}
		})
		env.Approvals = a
	})
	return env
}

var paramKeys = []string{"description", "type", "pattern", "required", "default", "choices"}

func (d *decoder) decodeParam(e pair) rawParam {
	prm := rawParam{Name: str{v: e.name, n: e.k}}
	what := fmt.Sprintf("parameter %q", truncate(e.name, 40))
	d.fields(e.v, what, paramKeys, func(p pair) {
		switch p.name {
		case "description":
			prm.Description = d.str(p.v, p.name)
		case "type":
			prm.Type = d.str(p.v, p.name)
		case "pattern":
			prm.Pattern = d.str(p.v, p.name)
		case "required":
			prm.Required = d.boolean(p.v, p.name)
		case "default":
			prm.Default = d.str(p.v, p.name)
		case "choices":
			prm.choicesNode = d.resolve(p.v)
			prm.Choices = d.strs(p.v, p.name)
		}
	})
	return prm
}

var stepKeys = []string{"id", "name", "if", "run", "http", "approval", "uses", "with", "env",
	"timeout", "retries", "retry_delay", "continue_on_error"}

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
	d.fields(n, "step", stepKeys, func(p pair) {
		switch p.name {
		case "id":
			s.ID = d.str(p.v, p.name)
		case "name":
			s.Name = d.str(p.v, p.name)
		case "if":
			s.If = d.str(p.v, p.name)
		case "run":
			s.kinds = append(s.kinds, p)
			s.Run = d.str(p.v, p.name)
		case "approval":
			s.kinds = append(s.kinds, p)
			s.Approval = d.str(p.v, p.name)
		case "uses":
			s.kinds = append(s.kinds, p)
			s.Uses = d.str(p.v, p.name)
		case "http":
			s.kinds = append(s.kinds, p)
			s.HTTP = d.decodeHTTP(p.v)
		case "with":
			s.withNode = d.resolve(p.v)
			s.With = d.strMap(p.v, "with")
		case "env":
			s.Env = d.strMap(p.v, "env")
		case "timeout":
			s.Timeout = d.dur(p.v, p.name)
		case "retries":
			s.Retries = d.num(p.v, p.name)
		case "retry_delay":
			s.RetryDelay = d.dur(p.v, p.name)
		case "continue_on_error":
			s.ContinueOnError = d.boolean(p.v, p.name)
		}
	})
	return s
}

var httpKeys = []string{"url", "method", "status", "body_contains", "attempts", "interval", "timeout"}

func (d *decoder) decodeHTTP(n *yaml.Node) *rawHTTP {
	h := &rawHTTP{node: d.resolve(n)}
	if h.node.Kind == yaml.ScalarNode && !isNull(h.node) {
		d.addf(h.node, "http must be a mapping like {url: https://example.com/healthz, status: 200}, not %s", kindName(h.node))
		return h
	}
	h.keys = d.fields(n, "http check", httpKeys, func(p pair) {
		switch p.name {
		case "url":
			h.URL = d.str(p.v, "http url")
		case "method":
			h.Method = d.str(p.v, "http method")
		case "status":
			h.Status = d.num(p.v, "http status")
		case "body_contains":
			h.BodyContains = d.str(p.v, "http body_contains")
		case "attempts":
			h.Attempts = d.num(p.v, "http attempts")
		case "interval":
			h.Interval = d.dur(p.v, "http interval")
		case "timeout":
			h.Timeout = d.dur(p.v, "http timeout")
		}
	})
	return h
}

var triggerKeys = []string{"pull_request", "incident", "alert", "schedule"}

func (d *decoder) decodeTriggers(n *yaml.Node) rawTriggers {
	var t rawTriggers
	d.fields(n, "triggers", triggerKeys, func(p pair) {
		switch p.name {
		case "pull_request":
			for _, item := range d.list(p.v, "pull_request triggers") {
				t.PullRequest = append(t.PullRequest, d.decodePRTrigger(item))
			}
		case "incident":
			for _, item := range d.list(p.v, "incident triggers") {
				t.Incident = append(t.Incident, d.decodeIncidentTrigger(item))
			}
		case "alert":
			for _, item := range d.list(p.v, "alert triggers") {
				t.Alert = append(t.Alert, d.decodeAlertTrigger(item))
			}
		case "schedule":
			t.Schedule = d.strs(p.v, "schedule")
		}
	})
	return t
}

func (d *decoder) decodePRTrigger(n *yaml.Node) rawPRTrigger {
	t := rawPRTrigger{node: n}
	t.keys = d.fields(n, "pull_request trigger", []string{"repo", "on", "branches", "environment", "params"}, func(p pair) {
		switch p.name {
		case "repo":
			t.Repo = d.str(p.v, p.name)
		case "on":
			t.On = d.str(p.v, p.name)
		case "branches":
			t.Branches = d.strs(p.v, p.name)
		case "environment":
			t.Environment = d.str(p.v, p.name)
		case "params":
			t.Params = d.strMap(p.v, "params")
		}
	})
	return t
}

func (d *decoder) decodeIncidentTrigger(n *yaml.Node) rawIncidentTrigger {
	t := rawIncidentTrigger{node: n}
	d.fields(n, "incident trigger", []string{"channel", "match", "auto"}, func(p pair) {
		switch p.name {
		case "channel":
			t.Channel = d.str(p.v, p.name)
		case "match":
			t.Match = d.str(p.v, p.name)
		case "auto":
			t.Auto = d.boolean(p.v, p.name)
		}
	})
	return t
}

func (d *decoder) decodeAlertTrigger(n *yaml.Node) rawAlertTrigger {
	t := rawAlertTrigger{node: n}
	t.keys = d.fields(n, "alert trigger", []string{"alertname", "labels", "auto"}, func(p pair) {
		switch p.name {
		case "alertname":
			t.AlertName = d.str(p.v, p.name)
		case "labels":
			t.Labels = d.strMap(p.v, "labels")
		case "auto":
			t.Auto = d.boolean(p.v, p.name)
		}
	})
	return t
}
