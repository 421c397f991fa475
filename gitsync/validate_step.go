package gitsync

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dayops/dayops"
	"gopkg.in/yaml.v3"
)

// scope says which expressions a template may use.
type scope struct {
	where        string          // the field, for messages
	stepsAllowed bool            // false where values are expanded before any step runs
	steps        map[string]bool // IDs of the steps whose outputs are readable here
	noParams     bool            // true where params are being set (trigger params)
}

// template checks every expression of a template value and returns the value.
// Each expression is parsed on its own so that all bad ones are reported.
func (v *validator) template(s str, sc scope) string {
	if !s.set() {
		return s.v
	}
	for off := 0; ; {
		i := strings.Index(s.v[off:], "${{")
		if i < 0 {
			return s.v
		}
		start, end := off+i, len(s.v)
		if j := strings.Index(s.v[start:], "}}"); j >= 0 {
			end = start + j + 2
		}
		v.expression(s, start, s.v[start:end], sc)
		off = end
	}
}

// expression checks one "${{ … }}" found at byte offset start of s.
func (v *validator) expression(s str, start int, text string, sc scope) {
	t, err := dayops.ParseTemplate(text)
	if err != nil {
		off, msg := 0, dayops.UserMessage(err, "")
		if ee := (*dayops.ExprError)(nil); errors.As(err, &ee) {
			off, msg = ee.Offset, ee.Message
		}
		v.at(s, start+off, "%s", msg)
		return
	}
	for _, r := range t.Refs() {
		switch r.Root {
		case "params":
			if sc.noParams {
				v.at(s, start, "%s: params cannot be read in %s, which set them", r, sc.where)
			} else if !v.params[r.Path[0]] {
				v.at(s, start, "%s is not a parameter of this definition %s", r, v.paramHint())
			}
		case "steps":
			id := r.Path[0]
			switch {
			case !sc.stepsAllowed:
				v.at(s, start, "%s: step outputs cannot be read in %s, which is expanded before any step runs", r, sc.where)
			case sc.steps[id]:
			case v.stepIDs[id]:
				v.at(s, start, "%s: step %s does not run before this point; only outputs of earlier steps can be read", r, dayops.Truncate(id, 40))
			default:
				v.at(s, start, "%s: there is no step with id %s", r, dayops.Truncate(id, 40))
			}
		}
	}
}

func (v *validator) paramHint() string {
	if len(v.raw.Params) == 0 {
		return "(it declares no params)"
	}
	names := make([]string, 0, len(v.raw.Params))
	for _, p := range v.raw.Params {
		names = append(names, p.Name.v)
	}
	return "(its params: " + strings.Join(names, ", ") + ")"
}

// at reports a problem at byte offset off of the scalar s.
func (v *validator) at(s str, off int, format string, args ...any) {
	line, col := exprPos(s.n, s.v, off)
	v.report(Problem{File: v.file, Line: line, Col: col, Message: fmt.Sprintf(format, args...)})
}

// exprPos maps a byte offset of a scalar's value to a line and column. That is
// exact for single-line plain and quoted scalars without escapes; anything
// else points at the scalar itself.
func exprPos(n *yaml.Node, value string, off int) (int, int) {
	if n == nil {
		return 0, 0
	}
	if off < 0 || off > len(value) || strings.Contains(value[:off], "\n") {
		return n.Line, n.Column
	}
	switch n.Style &^ yaml.TaggedStyle {
	case 0:
		return n.Line, n.Column + utf8.RuneCountInString(value[:off])
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		return n.Line, n.Column + 1 + utf8.RuneCountInString(value[:off])
	}
	return n.Line, n.Column
}

// allSteps converts steps and rollback; step IDs are unique across both.
func (v *validator) allSteps() {
	r := v.raw
	switch {
	case r.stepsNode == nil:
		v.addf(r.node, "steps is missing: a definition needs at least one step")
	case isNull(r.stepsNode) || r.stepsNode.Kind == yaml.SequenceNode && len(r.stepsNode.Content) == 0:
		v.addf(r.stepsNode, "steps is empty: a definition needs at least one step")
	}
	v.stepIDs = map[string]bool{}
	first := map[string]int{}
	byEnv := map[string]str{} // dayops.EnvName → the first ID with it
	for _, list := range [][]rawStep{r.Steps, r.Rollback} {
		for _, s := range list {
			if !s.ID.set() {
				continue
			}
			if line, ok := first[s.ID.v]; ok {
				v.addf(s.ID.n, "step id %q is used twice (first at line %d); ids are unique across steps and rollback", dayops.Truncate(s.ID.v, 40), line)
				continue
			}
			env := dayops.EnvName(s.ID.v)
			if other, ok := byEnv[env]; ok && stepIDPattern.MatchString(s.ID.v) {
				v.addf(s.ID.n, "step ids %q (line %d) and %q both give their outputs as DAYOPS_STEP_%s_*, so one would overwrite the other: rename one of them",
					dayops.Truncate(other.v, 40), other.n.Line, dayops.Truncate(s.ID.v, 40), dayops.Truncate(env, 40))
				continue
			}
			first[s.ID.v] = s.ID.n.Line
			if _, ok := byEnv[env]; !ok {
				byEnv[env] = s.ID
			}
			v.stepIDs[s.ID.v] = true
		}
	}
	readable := map[string]bool{}
	for i, rs := range r.Steps {
		v.def.Steps = append(v.def.Steps, v.step(rs, i, readable))
	}
	for i, rs := range r.Rollback {
		v.def.Rollback = append(v.def.Rollback, v.step(rs, i, readable))
	}
}

var conditions = []string{string(dayops.IfSuccess), string(dayops.IfFailure), string(dayops.IfAlways)}

// step converts one step. readable holds the IDs of the steps before it; the
// step adds its own ID for the ones after it.
func (v *validator) step(rs rawStep, i int, readable map[string]bool) dayops.Step {
	st := dayops.Step{Line: rs.node.Line, If: dayops.IfSuccess}
	switch len(rs.kinds) {
	case 0:
		if isMapping(rs.node) {
			v.addf(rs.node, "step needs one of run, http, approval, uses or checklist")
		}
	default:
		st.Kind = dayops.StepKind(rs.kinds[0].name)
		for _, k := range rs.kinds[1:] {
			v.addf(k.k, "a step does one thing but this one has both %s and %s: split it into two steps", rs.kinds[0].name, k.name)
		}
	}
	if rs.ID.set() && !stepIDPattern.MatchString(rs.ID.v) {
		v.addf(rs.ID.n, "step id %q must be lowercase letters, digits, dashes and underscores", dayops.Truncate(rs.ID.v, 40))
	}
	st.ID = rs.ID.v
	v.literalText(rs.Name, "step names")
	switch {
	case rs.Name.v != "":
		st.Name = rs.Name.v
	case st.ID != "":
		st.Name = st.ID
	case st.Kind != "":
		st.Name = fmt.Sprintf("%s %d", st.Kind, i+1)
	default:
		st.Name = fmt.Sprintf("step %d", i+1)
	}
	if rs.If.set() {
		st.If = dayops.Condition(rs.If.v)
		if !slices.Contains(conditions, rs.If.v) {
			msg := fmt.Sprintf("if %q is not one of success(), failure(), always()", dayops.Truncate(rs.If.v, 40))
			if s := dayops.Suggest(rs.If.v, conditions); s != "" {
				msg += fmt.Sprintf(" — did you mean %q?", s)
			}
			v.addf(rs.If.n, "%s", msg)
		}
	}
	sc := scope{where: "this step", stepsAllowed: true, steps: maps.Clone(readable)}
	// Every kind present is checked, even when the step wrongly has several.
	for _, k := range rs.kinds {
		switch dayops.StepKind(k.name) {
		case dayops.StepKindRun:
			v.runScript(rs.Run)
			st.Run = rs.Run.v
		case dayops.StepKindApproval:
			if rs.Approval.set() && strings.TrimSpace(rs.Approval.v) == "" {
				v.addf(rs.Approval.n, "approval text is empty: say what the approver should check")
			}
			st.Approval = v.template(rs.Approval, sc)
		case dayops.StepKindUses:
			if rs.Uses.set() && !dayops.NamePattern.MatchString(rs.Uses.v) {
				v.addf(rs.Uses.n, "uses %q must name a definition (lowercase letters, digits and dashes)", dayops.Truncate(rs.Uses.v, 40))
			}
			st.Uses = rs.Uses.v
		case dayops.StepKindHTTP:
			st.HTTP = v.httpCheck(rs.HTTP, sc)
		case dayops.StepKindChecklist:
			st.Checklist = v.checklist(rs.Checklist)
		}
	}
	if rs.withNode != nil && st.Kind != dayops.StepKindUses {
		v.addf(rs.withNode, "with is only for uses steps (it sets the used definition's params)")
	}
	for _, w := range rs.With {
		if !paramNamePattern.MatchString(w.key.v) {
			v.addf(w.key.n, "with %q must be a parameter name (lowercase letters, digits and underscores)", dayops.Truncate(w.key.v, 40))
		}
		st.With = append(st.With, dayops.EnvVar{Name: w.key.v, Value: v.template(w.val, sc)})
	}
	st.Env = v.envVars(rs.Env, sc)
	if rs.Timeout.n != nil {
		if rs.Timeout.v <= 0 {
			v.addf(rs.Timeout.n, "step timeout must be more than zero")
		}
		st.Timeout = rs.Timeout.v
	}
	if rs.Retries.n != nil {
		if rs.Retries.v < 0 || rs.Retries.v > 10 {
			v.addf(rs.Retries.n, "retries must be between 0 and 10, not %d", rs.Retries.v)
		}
		st.Retries = rs.Retries.v
	}
	if rs.RetryDelay.n != nil {
		if rs.RetryDelay.v < 0 {
			v.addf(rs.RetryDelay.n, "retry_delay must not be negative")
		}
		st.RetryDelay = rs.RetryDelay.v
	}
	st.ContinueOnError = rs.ContinueOnError.v
	v.hosts(&st, rs)
	if st.ID != "" {
		readable[st.ID] = true
	}
	return st
}

// runScript refuses expressions in scripts: expanding user text into a shell
// script would make it code.
func (v *validator) runScript(s str) {
	if !s.set() {
		return
	}
	if strings.TrimSpace(s.v) == "" {
		v.addf(s.n, "run script is empty")
		return
	}
	i := strings.Index(s.v, "${{")
	if i < 0 {
		return
	}
	example := "$DAYOPS_PARAM_VERSION"
	if t, err := dayops.ParseTemplate(s.v[i:]); err == nil {
		if refs := t.Refs(); len(refs) > 0 && refs[0].Root == "params" {
			example = "$DAYOPS_PARAM_" + strings.ToUpper(refs[0].Path[0])
		}
	}
	v.at(s, i, "expressions are not expanded in run scripts: read the value from the environment, e.g. %s", example)
}

var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

func (v *validator) httpCheck(h *rawHTTP, sc scope) *dayops.HTTPCheck {
	hc := &dayops.HTTPCheck{Method: "GET", Status: 200, Attempts: 1, Interval: 5 * time.Second, Timeout: 10 * time.Second}
	if h.node.Kind == yaml.ScalarNode && !isNull(h.node) {
		return hc // already reported: not a mapping
	}
	sc.where = "the http check"
	switch {
	case !h.keys["url"]:
		if isMapping(h.node) {
			v.addf(h.node, "http check needs a url")
		}
	case h.URL.set():
		hc.URL = v.template(h.URL, sc)
		if msg := checkURL(h.URL.v); msg != "" {
			v.addf(h.URL.n, "%s", msg)
		}
	}
	if h.Method.set() {
		hc.Method = strings.ToUpper(h.Method.v)
		if !slices.Contains(httpMethods, hc.Method) {
			v.addf(h.Method.n, "http method %q is not one of %s", dayops.Truncate(h.Method.v, 40), strings.Join(httpMethods, ", "))
		}
	}
	if h.Status.n != nil {
		hc.Status = h.Status.v
		if hc.Status < 100 || hc.Status > 599 {
			v.addf(h.Status.n, "http status must be between 100 and 599, not %d", hc.Status)
		}
	}
	hc.BodyContains = v.template(h.BodyContains, sc)
	if h.Attempts.n != nil {
		hc.Attempts = h.Attempts.v
		if hc.Attempts < 1 || hc.Attempts > 100 {
			v.addf(h.Attempts.n, "http attempts must be between 1 and 100, not %d", hc.Attempts)
		}
	}
	if h.Interval.n != nil {
		hc.Interval = h.Interval.v
		if hc.Interval < 0 {
			v.addf(h.Interval.n, "http interval must not be negative")
		}
	}
	if h.Timeout.n != nil {
		hc.Timeout = h.Timeout.v
		if hc.Timeout <= 0 {
			v.addf(h.Timeout.n, "http timeout must be more than zero")
		}
	}
	return hc
}

// checkURL checks what can be known of a URL before expansion: a literal URL
// must be a whole http(s) URL; a templated one must not have another scheme.
func checkURL(u string) string {
	const want = "http url must start with http:// or https://"
	lit, templated := u, false
	if i := strings.Index(u, "${{"); i >= 0 {
		lit, templated = u[:i], true
	}
	if templated {
		scheme, _, found := strings.Cut(lit, ":")
		if found && !isHTTPScheme(scheme) {
			return fmt.Sprintf("%s, not %q", want, dayops.Truncate(u, 60))
		}
		return ""
	}
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return fmt.Sprintf("http url %q is not a URL: %v", dayops.Truncate(u, 60), errors.Unwrap(err))
	case !isHTTPScheme(p.Scheme):
		return fmt.Sprintf("%s, not %q", want, dayops.Truncate(u, 60))
	case p.Host == "":
		return fmt.Sprintf("http url %q has no host", dayops.Truncate(u, 60))
	}
	return ""
}

func isHTTPScheme(s string) bool {
	return strings.EqualFold(s, "http") || strings.EqualFold(s, "https")
}
