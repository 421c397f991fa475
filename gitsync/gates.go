package gitsync

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dayops/dayops"
	"gopkg.in/yaml.v3"
)

// Phase gates (requires:) and readiness reviews (checklist steps): decoded,
// checked per file, and checked against the whole tree (the required
// definition must exist and be day0).

type rawRequirement struct {
	node        *yaml.Node
	keys        map[string]bool
	Definition  str
	Within      dur
	Environment str
}

type rawChecklist struct {
	node          *yaml.Node
	keys          map[string]bool
	From          []str
	fromNode      *yaml.Node
	Others        boolean
	Questions     []str
	questionsNode *yaml.Node
}

// requiresField decodes a requires: list into dst.
func (d *decoder) requiresField(dst *[]rawRequirement) field {
	return field{"requires", func(p pair) {
		for _, item := range d.list(p.v, "requires") {
			r := rawRequirement{node: d.resolve(item)}
			r.keys = d.object(item, "requirement",
				d.textField("definition", &r.Definition, "requires definition"),
				d.durField("within", &r.Within, "requires within"),
				d.textField("environment", &r.Environment, "requires environment"),
			)
			*dst = append(*dst, r)
		}
	}}
}

func (d *decoder) decodeChecklist(n *yaml.Node) *rawChecklist {
	c := &rawChecklist{node: d.resolve(n)}
	if !isMapping(c.node) {
		d.addf(c.node, "checklist must be a mapping like {from: [sre], questions: [Is there a backup?]}, not %s", kindName(c.node))
		return c
	}
	c.keys = d.object(n, "checklist",
		field{"from", func(p pair) {
			c.fromNode = d.resolve(p.v)
			c.From = d.strs(p.v, "checklist from")
		}},
		d.boolField("others", &c.Others, "checklist others"),
		field{"questions", func(p pair) {
			c.questionsNode = d.resolve(p.v)
			c.Questions = d.strs(p.v, "checklist questions")
		}},
	)
	return c
}

// requirements checks the requires: entries of one file.
func (v *validator) requirements(rs []rawRequirement) []dayops.Requirement {
	var out []dayops.Requirement
	for _, r := range rs {
		if !isMapping(r.node) {
			continue // d.object reported it
		}
		req := dayops.Requirement{Definition: r.Definition.v, Within: r.Within.v, Environment: r.Environment.v, Line: r.node.Line}
		switch {
		case !r.keys["definition"]:
			v.addf(r.node, "requirement needs a definition: the day0 definition whose run must have passed, e.g. {definition: preflight, within: 24h}")
		case r.Definition.set() && !dayops.NamePattern.MatchString(r.Definition.v):
			v.addf(r.Definition.n, "requires definition %q must name a definition (lowercase letters, digits and dashes)", dayops.Truncate(r.Definition.v, 40))
		case r.Definition.v == v.def.Name && v.def.Name != "":
			v.addf(r.Definition.n, "%s cannot require itself", v.def.Name)
		}
		switch {
		case !r.keys["within"]:
			v.addf(r.node, "requirement needs within: how recent the passed run must be, e.g. within: 24h")
		case r.Within.n != nil && r.Within.v <= 0:
			v.addf(r.Within.n, "requires within must be more than zero, e.g. 24h")
		}
		if r.Environment.set() && !dayops.EnvironmentPattern.MatchString(r.Environment.v) {
			v.addf(r.Environment.n, "requires environment %q must be an environment name", dayops.Truncate(r.Environment.v, 40))
		}
		out = append(out, req)
	}
	return out
}

// checklist checks a checklist step's keys.
func (v *validator) checklist(c *rawChecklist) *dayops.Checklist {
	if c == nil || !isMapping(c.node) {
		return nil
	}
	out := &dayops.Checklist{Others: c.Others.v}
	if c.fromNode == nil || isNull(c.fromNode) || c.fromNode.Kind == yaml.SequenceNode && len(c.fromNode.Content) == 0 {
		v.addf(or2(c.fromNode, c.node), "checklist needs from: the roles whose members answer it, e.g. from: [sre]")
	}
	seen := map[string]bool{}
	for _, role := range c.From {
		switch {
		case !rolePattern.MatchString(role.v):
			v.addf(role.n, "role name %q is not a valid role name", dayops.Truncate(role.v, 40))
		case seen[role.v]:
			v.addf(role.n, "role %q is listed twice", dayops.Truncate(role.v, 40))
		}
		seen[role.v] = true
		out.From = append(out.From, role.v)
	}
	if c.questionsNode == nil || isNull(c.questionsNode) || c.questionsNode.Kind == yaml.SequenceNode && len(c.questionsNode.Content) == 0 {
		v.addf(or2(c.questionsNode, c.node), "checklist needs questions: a list of yes/no questions for the reviewers")
	}
	for _, q := range c.Questions {
		if strings.TrimSpace(q.v) == "" {
			v.addf(q.n, "checklist question is empty: ask something that can be answered yes or no")
		}
		v.literalText(q, "checklist questions")
		out.Questions = append(out.Questions, strings.TrimSpace(q.v))
	}
	if len(out.Questions) > maxQuestions {
		v.addf(c.questionsNode, "checklist has %d questions; at most %d fit on one message: split it into two checklist steps", len(out.Questions), maxQuestions)
	}
	return out
}

// maxQuestions bounds a checklist: a Yes and a No button a question, and
// Cancel, fit the 25 buttons Slack shows on one message.
const maxQuestions = 12

func or2(a, b *yaml.Node) *yaml.Node {
	if a != nil {
		return a
	}
	return b
}

// checkRequires checks requires: against the tree: each names a day0
// definition that takes the environment the gate would look in.
func checkRequires(all []*loaded, byName map[string][]*loaded, names []string) []Problem {
	var problems []Problem
	for _, l := range all {
		check := func(rs []rawRequirement, envs []string) {
			for _, r := range rs {
				if !r.Definition.set() || !dayops.NamePattern.MatchString(r.Definition.v) || r.Definition.v == l.def.Name {
					continue
				}
				at := func(format string, args ...any) {
					problems = append(problems, Problem{File: l.file, Line: r.Definition.n.Line, Col: r.Definition.n.Column,
						Message: fmt.Sprintf(format, args...)})
				}
				name := r.Definition.v
				ts := byName[name]
				if len(ts) == 0 {
					msg := fmt.Sprintf("requires %q: there is no definition with that name", dayops.Truncate(name, 40))
					if s := dayops.Suggest(name, names); s != "" {
						msg += fmt.Sprintf(" — did you mean %q?", s)
					}
					at("%s", msg)
					continue
				}
				target := ts[0].def
				if target.Phase != dayops.Day0 {
					at("requires %s: it is a %s definition, and only day0 work can gate a run", name, target.Phase)
					continue
				}
				theirs := target.EnvironmentNames()
				switch {
				case r.Environment.set() && len(theirs) == 0:
					at("requires %s in environment %s: %s takes no environment; remove environment:", name, r.Environment.v, name)
				case r.Environment.set() && !slices.Contains(theirs, r.Environment.v):
					at("requires %s in environment %s: %s has no such environment (its environments: %s)", name, r.Environment.v, name, strings.Join(theirs, ", "))
				case !r.Environment.set() && len(theirs) > 0:
					if len(envs) == 0 {
						at("requires %s: it needs an environment and this definition has none; add environment: (one of %s)", name, strings.Join(theirs, ", "))
					}
					for _, e := range envs {
						if !slices.Contains(theirs, e) {
							at("requires %s in the same environment, but %s has no environment %s (its environments: %s); add environment: to name one", name, name, e, strings.Join(theirs, ", "))
						}
					}
				}
			}
		}
		check(l.raw.Requires, l.def.EnvironmentNames())
		for _, e := range l.raw.Environments {
			check(e.Requires, []string{e.Name.v})
		}
	}
	return problems
}

// reservedParams refuses a parameter chat could never set: override="…"
// of run and deploy is the reason to start a run past its phase gates.
func (v *validator) reservedParams() {
	for _, p := range v.raw.Params {
		if p.Name.v == "override" {
			v.addf(p.Name.n, "parameter name override is reserved (run … override=\"REASON\" overrides phase gates): rename it")
		}
	}
}
