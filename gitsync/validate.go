package gitsync

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/dayops/dayops"
	"gopkg.in/yaml.v3"
)

// Name rules of SPEC §5 that the root package does not already hold.
var (
	paramNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	secretPattern    = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	envVarPattern    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	stepIDPattern    = regexp.MustCompile(`^[a-z0-9_-]+$`)
	rolePattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
)

// loaded is one valid-so-far definition and what the tree checks need.
type loaded struct {
	def  *dayops.Definition
	raw  *rawDefinition
	file string
}

// validator converts one raw definition into a dayops.Definition, reporting
// every problem it finds on the decoder.
type validator struct {
	*decoder
	raw     *rawDefinition
	def     *dayops.Definition
	params  map[string]bool
	stepIDs map[string]bool // every step ID of steps and rollback
}

func (d *decoder) validate(r *rawDefinition) *dayops.Definition {
	v := &validator{decoder: d, raw: r, def: &dayops.Definition{}, params: map[string]bool{}}
	v.header()
	v.environments()
	v.paramList()
	v.def.Concurrency = v.template(r.Concurrency, scope{where: "concurrency"})
	if r.Timeout.n != nil {
		if r.Timeout.v <= 0 {
			v.addf(r.Timeout.n, "timeout must be more than zero")
		}
		v.def.Timeout = r.Timeout.v
	}
	v.secrets()
	v.hostKeys(r.rawHosts)
	v.def.Env = v.envVars(r.Env, scope{where: "the definition's env"})
	v.allSteps()
	v.triggers()
	v.def.Requires = v.requirements(r.Requires)
	v.reservedParams()
	return v.def
}

func (v *validator) header() {
	r, def := v.raw, v.def
	switch {
	case !r.keys["apiVersion"]:
		v.addf(r.node, "apiVersion is missing: add apiVersion: %s", dayops.APIVersion)
	case r.APIVersion.set() && r.APIVersion.v != dayops.APIVersion:
		v.addf(r.APIVersion.n, "apiVersion %q is not supported: use %s", dayops.Truncate(r.APIVersion.v, 40), dayops.APIVersion)
	}
	def.Phase = dayops.Phase(r.Phase.v)
	switch {
	case !r.keys["phase"]:
		v.addf(r.node, "phase is missing: add phase: day0, day1 or day2")
	case r.Phase.set() && !def.Phase.Valid():
		v.addf(r.Phase.n, "phase %q is not one of day0, day1, day2", dayops.Truncate(r.Phase.v, 40))
	}
	def.Name = r.Name.v
	switch {
	case !r.keys["name"]:
		v.addf(r.node, "name is missing: add name: with lowercase letters, digits and dashes")
	case r.Name.set() && !dayops.NamePattern.MatchString(r.Name.v):
		v.addf(r.Name.n, "name %q must be lowercase letters, digits and dashes, starting with a letter or digit", dayops.Truncate(r.Name.v, 40))
	}
	def.Description = r.Description.v
	v.literalText(r.Description, "description")
	def.Service = r.Service.v
	switch {
	case r.Service.set() && !dayops.NamePattern.MatchString(r.Service.v):
		v.addf(r.Service.n, "service %q must be lowercase letters, digits and dashes, starting with a letter or digit", dayops.Truncate(r.Service.v, 40))
	case !r.keys["service"] && def.Phase == dayops.Day1:
		v.addf(r.node, "service is missing: a day1 definition deploys a service (add service: NAME so that `deploy NAME ENV` finds it)")
	}
}

// literalText reports an expression in a field that is shown as written.
func (v *validator) literalText(s str, what string) {
	if i := strings.Index(s.v, "${{"); i >= 0 {
		line, col := exprPos(s.n, s.v, i)
		v.report(Problem{File: v.file, Line: line, Col: col,
			Message: fmt.Sprintf("expressions are not expanded in %s: write it as plain text", what)})
	}
}

func (v *validator) environments() {
	for _, e := range v.raw.Environments {
		if !dayops.EnvironmentPattern.MatchString(e.Name.v) {
			v.addf(e.Name.n, "environment name %q must be lowercase letters, digits, dashes and underscores", dayops.Truncate(e.Name.v, 40))
		}
		env := dayops.Environment{Name: e.Name.v}
		if a := e.Approvals; a != nil {
			rule := &dayops.ApprovalRule{Count: a.Count.v}
			switch {
			case !a.hasCount && a.node.Kind == yaml.MappingNode:
				v.addf(a.node, "approvals of environment %q need a count: add count: 1 (or more)", dayops.Truncate(e.Name.v, 40))
			case a.Count.n != nil && a.Count.v < 1:
				v.addf(a.Count.n, "approvals count must be 1 or more; remove approvals if none are needed")
			}
			if a.fromNode != nil && (isNull(a.fromNode) || a.fromNode.Kind == yaml.SequenceNode && len(a.fromNode.Content) == 0) {
				v.addf(a.fromNode, "approvals from names no role: list at least one role, or remove from to accept any role allowed to run it")
			}
			seen := map[string]bool{}
			for _, role := range a.From {
				switch {
				case !rolePattern.MatchString(role.v):
					v.addf(role.n, "role name %q is not a valid role name", dayops.Truncate(role.v, 40))
				case seen[role.v]:
					v.addf(role.n, "role %q is listed twice", dayops.Truncate(role.v, 40))
				}
				seen[role.v] = true
				rule.From = append(rule.From, role.v)
			}
			env.Approvals = rule
		}
		if e.URL.set() {
			env.URL = v.environmentURL(e.URL, e.Name.v)
		}
		env.Requires = v.requirements(e.Requires)
		v.def.Environments = append(v.def.Environments, env)
	}
}

var paramTypes = []string{"string", "int", "bool", "choice"}

// paramTypeSynonyms are names people reach for from other tools.
var paramTypeSynonyms = map[string]string{"str": "string", "text": "string", "integer": "int", "number": "int",
	"boolean": "bool", "enum": "choice", "select": "choice", "options": "choice"}

func (v *validator) paramList() {
	for _, rp := range v.raw.Params {
		name := rp.Name.v
		if !paramNamePattern.MatchString(name) {
			v.addf(rp.Name.n, "parameter name %q must be lowercase letters, digits and underscores, starting with a letter or underscore (it becomes DAYOPS_PARAM_%s)", dayops.Truncate(name, 40), strings.ToUpper(dayops.Truncate(name, 40)))
		}
		v.params[name] = true
		p := dayops.Param{Name: name, Description: rp.Description.v, Type: dayops.ParamString, Required: rp.Required.v}
		v.literalText(rp.Description, "parameter descriptions")
		typeOK := true
		if rp.Type.set() {
			p.Type = dayops.ParamType(rp.Type.v)
			if !slices.Contains(paramTypes, rp.Type.v) {
				typeOK = false
				msg := fmt.Sprintf("parameter type %q is not one of string, int, bool, choice", dayops.Truncate(rp.Type.v, 40))
				if s, ok := paramTypeSynonyms[strings.ToLower(rp.Type.v)]; ok {
					msg += fmt.Sprintf(" — did you mean %q?", s)
				} else if s := dayops.Suggest(rp.Type.v, paramTypes); s != "" {
					msg += fmt.Sprintf(" — did you mean %q?", s)
				}
				v.addf(rp.Type.n, "%s", msg)
			}
		}
		if rp.Pattern.set() {
			if p.Type != dayops.ParamString {
				v.addf(rp.Pattern.n, "pattern is only for string parameters; %s is %s", dayops.Truncate(name, 40), p.Type)
			} else if re, err := regexp.Compile(rp.Pattern.v); err != nil {
				v.addf(rp.Pattern.n, "pattern does not compile: %v", err)
				typeOK = false
			} else {
				p.Pattern = re
			}
		}
		switch {
		case p.Type == dayops.ParamChoice && len(rp.Choices) == 0:
			n := rp.choicesNode
			if n == nil {
				n = rp.Name.n
			}
			v.addf(n, "choice parameter %s needs choices: a list of the allowed values", dayops.Truncate(name, 40))
			typeOK = false
		case p.Type != dayops.ParamChoice && rp.choicesNode != nil && typeOK:
			v.addf(rp.choicesNode, "choices are only for choice parameters: set type: choice")
		}
		seen := map[string]bool{}
		for _, c := range rp.Choices {
			switch {
			case c.v == "":
				v.addf(c.n, "a choice must not be empty")
				typeOK = false
			case seen[c.v]:
				v.addf(c.n, "choice %q is listed twice", dayops.Truncate(c.v, 40))
				typeOK = false
			}
			seen[c.v] = true
			p.Choices = append(p.Choices, c.v)
		}
		if rp.Default.set() {
			p.HasDefault = true
			p.Default = rp.Default.v
			if typeOK {
				cv, err := p.Check(rp.Default.v)
				if err != nil {
					v.addf(rp.Default.n, "default: %s", dayops.UserMessage(err, ""))
				}
				p.Default = cv
			}
		}
		v.def.Params = append(v.def.Params, p)
	}
}

func (v *validator) secrets() {
	seen := map[string]bool{}
	for _, s := range v.raw.Secrets {
		switch {
		case !secretPattern.MatchString(s.v):
			v.addf(s.n, "secret name %q must be uppercase letters, digits and underscores, starting with a letter (the server reads DAYOPS_SECRET_NAME)", dayops.Truncate(s.v, 40))
		case seen[s.v]:
			v.addf(s.n, "secret %q is listed twice", dayops.Truncate(s.v, 40))
		}
		seen[s.v] = true
		v.def.Secrets = append(v.def.Secrets, s.v)
	}
}

// envVars checks names and value templates of an env: mapping.
func (v *validator) envVars(vars []kv, sc scope) []dayops.EnvVar {
	var out []dayops.EnvVar
	for _, e := range vars {
		switch name := e.key.v; {
		case !envVarPattern.MatchString(name):
			v.addf(e.key.n, "environment variable name %q must be letters, digits and underscores, not starting with a digit", dayops.Truncate(name, 40))
		case strings.HasPrefix(strings.ToUpper(name), "DAYOPS_"):
			v.addf(e.key.n, "environment variable %s: names starting with DAYOPS_ are reserved for dayops", dayops.Truncate(name, 40))
		}
		out = append(out, dayops.EnvVar{Name: e.key.v, Value: v.template(e.val, sc)})
	}
	return out
}

// environmentURL checks an environment's url: an http(s) URL whose only
// expression may be ${{ env }}, expanded here, as the name is known.
func (v *validator) environmentURL(s str, env string) string {
	t, err := dayops.ParseTemplate(s.v)
	if err != nil {
		v.template(s, scope{where: "environment url"})
		return ""
	}
	for _, r := range t.Refs() {
		if r.Root != "env" {
			v.at(s, r.Offset, "%s cannot be read in an environment url: only ${{ env }} can", r)
			return ""
		}
	}
	u := t.Expand(dayops.Scope{Environment: env})
	p, err := url.Parse(u)
	switch {
	case err != nil || p.Host == "" || !isHTTPScheme(p.Scheme):
		v.addf(s.n, "environment url %q must be an http:// or https:// URL with a host, e.g. https://%s.example.com", dayops.Truncate(u, 60), env)
		return ""
	case p.User != nil:
		v.addf(s.n, "environment url %q must not hold credentials: it is shown to everyone", dayops.Truncate(u, 60))
		return ""
	}
	return u
}
