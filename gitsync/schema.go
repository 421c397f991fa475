package gitsync

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/dayops/dayops"
	"gopkg.in/yaml.v3"
)

// The definition format is described once, here, and rendered twice: as a
// JSON Schema for editors and CI (Schema, `dayops schema`) and as Markdown
// for people (SchemaMarkdown, docs/schema.md). The keys and the shape of
// their values come from the raw structs the loader decodes into, by
// reflection; the table below adds what a Go type cannot say (descriptions,
// patterns, enums, required keys). A key of a raw struct that the table does
// not describe, or a table entry that names no key, fails the tests.

// shapeKind is what a value may be.
type shapeKind int

const (
	shapeText     shapeKind = iota // any scalar, read as the text it was written as
	shapeName                      // a string with a pattern or one of an enum
	shapeInt                       // a whole number
	shapeBool                      // true or false
	shapeDuration                  // a Go duration such as 30s or 1h30m
	shapeList                      // a list of items
	shapeMapping                   // a mapping of names the file chooses to values
	shapeObject                    // a mapping with fixed keys: one of schemaObjects
)

// shape is the value of one key.
type shape struct {
	kind      shapeKind
	pattern   string   // text and names: a regular expression the text must match
	enum      []string // names: the allowed values
	def       any      // the value used when the key is absent, if any
	min, max  *int     // whole numbers: inclusive bounds
	items     *shape   // lists
	unique    bool     // lists: no item twice
	minItems  int      // lists
	keys      *shape   // mappings: what the names must be (a shapeName)
	keysNot   string   // mappings: a pattern the names must not match
	values    *shape   // mappings
	object    string   // objects: the schemaObject's name
	nullable  bool     // an empty value (null) is accepted as empty
	valueNote string   // for people: what the text is, e.g. "a regular expression"
	orText    string   // objects: may also be written as text, which is this
}

// schemaField is one key of an object.
type schemaField struct {
	key      string
	shape    shape
	required bool
	doc      string
}

// schemaObject is one mapping with fixed keys, made from a raw struct.
type schemaObject struct {
	name                 string       // $defs name and Markdown heading
	title                string       // how people call it
	raw                  reflect.Type // the raw struct whose exported fields are its keys
	keyField             string       // the field that holds the object's name in its parent mapping
	doc                  string
	fields               []schemaField
	oneOf                []string          // exactly one of these keys must be present
	needs                map[string]string // key -> another key it needs
	whenKey              string            // with whenValue: whenKey: whenValue requires whenNeeds
	whenValue, whenNeeds string
}

// fieldDoc is the table entry of one key, named "object.key".
type fieldDoc struct {
	doc      string
	required bool
	set      func(*shape)
}

func ptr(n int) *int { return &n }

func matching(re *regexp.Regexp) func(*shape) {
	return func(s *shape) { s.kind, s.pattern = shapeName, re.String() }
}

func oneOf(values ...string) func(*shape) {
	return func(s *shape) { s.kind, s.enum = shapeName, values }
}

func nonBlank(s *shape) { s.pattern = `\S` }

func between(lo, hi int) func(*shape) {
	return func(s *shape) { s.min, s.max = ptr(lo), ptr(hi) }
}

func note(text string) func(*shape) {
	return func(s *shape) { s.valueNote = text }
}

func defaultTo(v any) func(*shape) {
	return func(s *shape) { s.def = v }
}

// all applies several settings in order.
func all(fs ...func(*shape)) func(*shape) {
	return func(s *shape) {
		for _, f := range fs {
			f(s)
		}
	}
}

// itemsOf applies settings to the items of a list.
func itemsOf(fs ...func(*shape)) func(*shape) {
	return func(s *shape) { all(fs...)(s.items) }
}

// namedBy constrains the names of a mapping.
func namedBy(re *regexp.Regexp, what string) func(*shape) {
	return func(s *shape) { s.keys = &shape{kind: shapeName, pattern: re.String(), valueNote: what} }
}

func unique(s *shape) { s.unique = true }

func atLeastOne(s *shape) { s.minItems = 1 }

func strs(vs []string) []string { return slices.Clone(vs) }

func conditionNames() []string {
	return []string{string(dayops.IfSuccess), string(dayops.IfFailure), string(dayops.IfAlways)}
}

func phaseNames() []string {
	out := make([]string, len(dayops.Phases))
	for i, p := range dayops.Phases {
		out[i] = string(p)
	}
	return out
}

// caseless turns a word into a pattern that matches it in any case, since
// JSON Schema patterns have no (?i).
func caseless(word string) string {
	var b strings.Builder
	for _, r := range word {
		if u, l := unicode.ToUpper(r), unicode.ToLower(r); u != l {
			fmt.Fprintf(&b, "[%c%c]", u, l)
		} else {
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	return b.String()
}

func caselessOneOf(words []string) string {
	alts := make([]string, len(words))
	for i, w := range words {
		alts[i] = caseless(w)
	}
	return "^(?:" + strings.Join(alts, "|") + ")$"
}

// schemaObjects lists the objects in the order the documentation shows them.
func schemaObjects() []*schemaObject {
	return []*schemaObject{
		{name: "definition", title: "definition", raw: reflect.TypeFor[rawDefinition](),
			doc: "One definition per file, in any `*.yaml` or `*.yml` file below the ops repo's definitions folder. " +
				"Unknown keys are errors.",
			whenKey: "phase", whenValue: string(dayops.Day1), whenNeeds: "service"},
		{name: "environment", title: "environment", raw: reflect.TypeFor[rawEnvironment](), keyField: "Name",
			doc: "One entry of environments, named by its key. An empty entry (`staging: {}`) is an environment with no approvals."},
		{name: "approvals", title: "approvals", raw: reflect.TypeFor[rawApprovals](),
			doc: "How many distinct people must approve a run in this environment before it starts. " +
				"The requester never counts."},
		{name: "param", title: "parameter", raw: reflect.TypeFor[rawParam](), keyField: "Name",
			doc: "One entry of params, named by its key. Every parameter also reaches scripts as DAYOPS_PARAM_<NAME>."},
		{name: "step", title: "step", raw: reflect.TypeFor[rawStep](),
			doc: "One step of steps or rollback. A step does one thing: exactly one of run, http, approval, uses or checklist. " +
				"Steps run in order.",
			oneOf: []string{string(dayops.StepKindRun), string(dayops.StepKindHTTP), string(dayops.StepKindApproval), string(dayops.StepKindUses), string(dayops.StepKindChecklist)},
			needs: map[string]string{"with": string(dayops.StepKindUses)}},
		{name: "http", title: "http check", raw: reflect.TypeFor[rawHTTP](),
			doc: "An HTTP request that must answer with the expected status (and text), tried up to attempts times."},
		{name: "checklist", title: "checklist", raw: reflect.TypeFor[rawChecklist](),
			doc: "A readiness review: each question is answered yes or no (with an optional note) by a member of one of from, " +
				"as buttons in Slack, numbered choices in the terminal, or `answer RUN QUESTION yes|no [note]`. " +
				"A no fails the step with its note; all yes and the step succeeds. Answers are recorded with who and when."},
		{name: "requirement", title: "requirement", raw: reflect.TypeFor[rawRequirement](),
			doc: "A phase gate: a day0 definition whose run must have succeeded within the given time before this one may start. " +
				"A run with a gate missing is refused before anything runs; a role granted override:PHASE:NAME[:ENV] may start it anyway " +
				"with a reason (`override=\"reason\"`), which is audited and shown on the run. A rollback (`rollback SERVICE ENV`) and a run started by a uses: step are not gated."},
		{name: "triggers", title: "triggers", raw: reflect.TypeFor[rawTriggers](),
			doc: "What starts the definition without a person typing a command."},
		{name: "pullRequestTrigger", title: "pull_request trigger", raw: reflect.TypeFor[rawPRTrigger](),
			doc: "Starts a run when a pull request of an application repository changes."},
		{name: "incidentTrigger", title: "incident trigger", raw: reflect.TypeFor[rawIncidentTrigger](),
			doc: "Offers (or starts) a run when a message in an incident channel matches."},
		{name: "alertTrigger", title: "alert trigger", raw: reflect.TypeFor[rawAlertTrigger](),
			doc: "Offers (or starts) a run when Alertmanager sends a matching alert."},
		{name: "scheduleTrigger", title: "schedule trigger", raw: reflect.TypeFor[rawScheduleTrigger](),
			doc: "Runs the definition at the times of a cron expression. Written as the cron expression alone, or as a mapping with a window."},
	}
}

// schemaFieldDocs describes every key. Defaults that the validator fills in
// are read from it (schemaDefaults), not written here.
func schemaFieldDocs() map[string]fieldDoc {
	d := schemaDefaults()
	return map[string]fieldDoc{
		"definition.apiVersion": {required: true, set: oneOf(dayops.APIVersion),
			doc: "The version of this format."},
		"definition.phase": {required: true, set: oneOf(phaseNames()...),
			doc: "day0 plans and prepares an environment, day1 deploys into it, day2 keeps it running."},
		"definition.name": {required: true, set: matching(dayops.NamePattern),
			doc: "Unique in the ops repo: lowercase letters, digits and dashes. Chat commands name the definition by it."},
		"definition.description": {doc: "One line shown by list and describe. Shown as written: expressions are not expanded."},
		"definition.service": {set: matching(dayops.NamePattern),
			doc: "Required for day1: `deploy SERVICE ENV` finds the definition by it."},
		"definition.environments": {set: namedBy(dayops.EnvironmentPattern, "environment name"),
			doc: "When present, a run names one of these environments and only these."},
		"definition.params": {set: namedBy(paramNamePattern, "parameter name"),
			doc: "Typed parameters, set as key=value in chat."},
		"definition.concurrency": {doc: "Runs with the same key queue behind each other. Expressions are expanded, e.g. deploy-api-${{ env }}."},
		"definition.timeout":     {doc: "How long the whole run may take."},
		"definition.secrets": {set: all(itemsOf(matching(secretPattern)), unique),
			doc: "Names of the server's secrets the steps receive (from DAYOPS_SECRET_<NAME>); values never live in the ops repo."},
		"definition.env": {set: func(s *shape) {
			namedBy(envVarPattern, "environment variable name")(s)
			s.keysNot = "^" + caseless("DAYOPS_")
		}, doc: "Environment variables of every step. Values may use expressions; names starting with DAYOPS_ are reserved."},
		"definition.steps": {required: true, set: atLeastOne,
			doc: "What the run does, in order. At least one step."},
		"definition.rollback":  {doc: "Steps run when a step fails, times out or the run is cancelled."},
		"definition.requires":  {doc: "Phase gates of every run: Day-0 work that must have passed before it starts."},
		"environment.requires": {doc: "Phase gates of runs in this environment, besides the definition's."},
		"step.checklist":       {doc: "A readiness review answered by people: questions from the definition, each answered yes or no."},
		"requirement.definition": {required: true, set: matching(dayops.NamePattern),
			doc: "A day0 definition of the ops repo."},
		"requirement.within": {required: true, doc: "How recently its run must have succeeded, e.g. 24h; an older run does not count."},
		"requirement.environment": {set: matching(dayops.EnvironmentPattern),
			doc: "The environment its run must have had; the run's own environment when absent (none when the day0 definition takes none)."},
		"checklist.from": {required: true, set: all(itemsOf(matching(rolePattern)), unique, atLeastOne),
			doc: "Roles (from the server configuration) whose members may answer."},
		"checklist.others": {doc: "The requester may not answer: someone else must."},
		"checklist.questions": {required: true, set: all(itemsOf(nonBlank), atLeastOne),
			doc: fmt.Sprintf("Questions answered yes or no, shown as written (no expressions); at most %d, so that their Yes and No buttons fit one Slack message.", maxQuestions)},
		"definition.triggers": {doc: "Pull requests, incidents, alerts and schedules that start this definition."},
		"definition.on": {set: matching(dayops.TargetPattern),
			doc: "The default on: of every run step that has none."},
		"definition.parallel":               {set: between(1, 100), doc: "The default parallel: of the run steps that run on targets."},
		"definition.continue_on_host_error": {doc: "The default continue_on_host_error: of the run steps that run on targets."},

		"environment.approvals": {doc: "Approvals this environment needs before a run starts."},
		"environment.url": {set: func(s *shape) { s.pattern = "^(?:[Hh][Tt][Tt][Pp][Ss]?://|\\$\\{\\{)" },
			doc: "Where the environment is served, an http:// or https:// URL; shown with its deploys (GitHub deployments link to it). The only expression it may use is ${{ env }}."},
		"approvals.count": {required: true, set: func(s *shape) { s.min = ptr(1) },
			doc: "How many distinct people must approve."},
		"approvals.from": {set: all(itemsOf(matching(rolePattern)), unique, atLeastOne),
			doc: "Roles (from the server configuration) whose members may approve; without it, any role allowed to run it."},

		"param.description": {doc: "Shown by describe and help. Shown as written."},
		"param.type": {set: all(oneOf(strs(paramTypes)...), defaultTo(string(dayops.ParamString))),
			doc: "The type a value is checked against before anything runs."},
		"param.pattern": {set: note("a regular expression (Go syntax)"),
			doc: "Only for string parameters: the value must match."},
		"param.required": {doc: "A run must set it (unless it has a default)."},
		"param.default":  {doc: "The value when a run does not set it; checked like a given value."},
		"param.choices": {set: all(itemsOf(func(s *shape) { s.pattern = "." }), unique),
			doc: "Only for choice parameters, and required there: the allowed values."},

		"step.id": {set: matching(stepIDPattern),
			doc: "Names the step for steps.ID.outputs; unique across steps and rollback."},
		"step.name": {doc: "Shown in chat and on the run page; defaults to the id."},
		"step.if": {set: all(oneOf(conditionNames()...), defaultTo(d["step.if"])),
			doc: "When the step runs: while nothing has failed, only after a failure, or always."},
		"step.run": {set: nonBlank,
			doc: "A bash script (bash -eo pipefail) run in the ops repo at the run's revision. Never expanded: read values from the environment."},
		"step.approval": {set: nonBlank,
			doc: "A gate in the middle of a run: the text tells the approver what to check. Expressions are expanded."},
		"step.uses": {set: matching(dayops.NamePattern),
			doc: "Runs another definition as this step."},
		"step.http": {doc: "Checks an HTTP endpoint."},
		"step.with": {set: namedBy(paramNamePattern, "parameter name"),
			doc: "Only with uses: the used definition's parameters. Values may use expressions."},
		"step.env": {set: func(s *shape) {
			namedBy(envVarPattern, "environment variable name")(s)
			s.keysNot = "^" + caseless("DAYOPS_")
		}, doc: "Environment variables of this step, added to the definition's."},
		"step.timeout":           {doc: "How long one attempt may take."},
		"step.retries":           {set: between(0, 10), doc: "How many times a failed attempt is tried again."},
		"step.retry_delay":       {doc: "The wait between attempts."},
		"step.continue_on_error": {doc: "A failure of this step does not fail the run."},
		"step.on": {set: matching(dayops.TargetPattern),
			doc: "Only for run steps: an SSH target or group of the server configuration; the script runs over SSH on each of its hosts instead of on the dayops machine."},
		"step.parallel":               {set: between(1, 100), doc: "With on: how many hosts run the script at a time (default 1)."},
		"step.continue_on_host_error": {doc: "With on: a failed host does not stop the step from starting on the others; the step fails once all have run. Without it the step starts no more hosts after the first failure."},

		"http.url": {required: true, set: nonBlank,
			doc: "An http:// or https:// URL. Expressions are expanded."},
		"http.method": {set: func(s *shape) {
			s.kind, s.pattern, s.def = shapeName, caselessOneOf(httpMethods), d["http.method"]
			s.valueNote = "one of " + strings.Join(httpMethods, ", ") + " (any case)"
		}, doc: "The request method."},
		"http.status":        {set: all(between(100, 599), defaultTo(d["http.status"])), doc: "The status the answer must have."},
		"http.body_contains": {doc: "Text the answer's body must contain. Expressions are expanded."},
		"http.attempts":      {set: all(between(1, 100), defaultTo(d["http.attempts"])), doc: "How many times to try before the step fails."},
		"http.interval":      {set: defaultTo(d["http.interval"]), doc: "The wait between attempts."},
		"http.timeout":       {set: defaultTo(d["http.timeout"]), doc: "How long one request may take."},

		"triggers.pull_request": {doc: "Pull request events of application repositories."},
		"triggers.incident":     {doc: "Messages in incident channels."},
		"triggers.alert":        {doc: "Alertmanager alerts."},
		"triggers.schedule": {set: itemsOf(func(s *shape) { s.orText = "a five-field cron expression" }),
			doc: "Cron expressions (minute hour day-of-month month day-of-week) in the server's time zone (schedule.timezone), each alone or with a window."},
		"scheduleTrigger.cron": {required: true, set: all(nonBlank, note("a five-field cron expression")),
			doc: "When to run: minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly, @yearly."},
		"scheduleTrigger.window": {doc: "How late a firing missed while dayops was down may still run when it starts; later, it is recorded as missed and reported. Default: until the next firing is due."},
		"incidentTrigger.cooldown": {set: defaultTo(durationText(dayops.DefaultCooldown)),
			doc: "Automatic runs only: the least time between two runs in one channel; a match within it asks people instead."},
		"incidentTrigger.budget": {set: all(between(1, maxBudget), defaultTo(dayops.DefaultBudget)),
			doc: "Automatic runs only: the most runs this trigger starts in an hour; past it dayops asks people instead."},
		"alertTrigger.cooldown": {set: defaultTo(durationText(dayops.DefaultCooldown)),
			doc: "Automatic runs only: the least time between two runs for one target (the alert's labels); a firing within it asks people instead."},
		"alertTrigger.budget": {set: all(between(1, maxBudget), defaultTo(dayops.DefaultBudget)),
			doc: "Automatic runs only: the most runs this trigger starts in an hour; past it dayops asks people instead."},

		"pullRequestTrigger.repo": {required: true, set: matching(repoPattern),
			doc: "owner/name of the application repository."},
		"pullRequestTrigger.on": {set: all(oneOf(strs(prEvents)...), defaultTo(d["pullRequestTrigger.on"])),
			doc: "The pull request event."},
		"pullRequestTrigger.branches": {set: itemsOf(nonBlank),
			doc: "Base branches the pull request must target, as globs (release/*); any when absent."},
		"pullRequestTrigger.labels": {set: itemsOf(nonBlank),
			doc: "Labels the pull request must all carry; with on: labeled, the label just added must be one of them."},
		"pullRequestTrigger.environment": {doc: "One of the definition's environments; required when it declares any."},
		"pullRequestTrigger.params": {set: namedBy(paramNamePattern, "parameter name"),
			doc: "Parameters of the run; values may read pr.*, e.g. ${{ pr.head_sha }}. Required parameters without a default must be set."},

		"incidentTrigger.channel": {set: all(note("a regular expression (Go syntax)"), defaultTo(defaultIncidentChannel)),
			doc: "Channel names this trigger listens in."},
		"incidentTrigger.match": {set: note("a regular expression (Go syntax)"),
			doc: "Messages in the channel must match it to offer the run."},
		"incidentTrigger.auto": {doc: "Start the run at once instead of offering it."},

		"alertTrigger.alertname": {required: true, set: nonBlank,
			doc: "The Alertmanager alertname label to react to."},
		"alertTrigger.labels": {set: namedBy(labelNamePattern, "Prometheus label name"),
			doc: "Labels the alert must also carry, with these values."},
		"alertTrigger.auto": {doc: "Start the run at once instead of offering it."},
	}
}

// schemaDefaults asks the validator what it fills in for keys that are
// absent, so that the schema states the same defaults as the code.
func schemaDefaults() map[string]any {
	v := &validator{decoder: &decoder{}, def: &dayops.Definition{}, params: map[string]bool{}}
	empty := &yaml.Node{Kind: yaml.MappingNode}
	hc := v.httpCheck(&rawHTTP{node: empty, keys: map[string]bool{}}, scope{})
	st := v.step(rawStep{node: empty}, 0, map[string]bool{})
	pt := v.prTrigger(rawPRTrigger{node: empty, keys: map[string]bool{"repo": true}})
	return map[string]any{
		"http.method":           hc.Method,
		"http.status":           hc.Status,
		"http.attempts":         hc.Attempts,
		"http.interval":         durationText(hc.Interval),
		"http.timeout":          durationText(hc.Timeout),
		"step.if":               string(st.If),
		"pullRequestTrigger.on": pt.On,
	}
}

// durationText writes a duration as people write it: 5s, not 5.000s or 0h0m5s.
func durationText(d time.Duration) string {
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	return strings.Replace(s, "h0m", "h", 1)
}

// buildSchema makes the model: every object with its keys, from the raw
// structs and the table. It also returns the table entries no key used.
func buildSchema() (objs []*schemaObject, unused []string) {
	objs = schemaObjects()
	byType := map[reflect.Type]*schemaObject{}
	for _, o := range objs {
		byType[o.raw] = o
	}
	docs := schemaFieldDocs()
	used := map[string]bool{}
	for _, o := range objs {
		for _, f := range reflect.VisibleFields(o.raw) { // rawHosts's keys too
			if !f.IsExported() || f.Anonymous || f.Name == o.keyField {
				continue
			}
			fd := schemaField{key: yamlKey(f.Name), shape: baseShape(f.Type, byType)}
			id := o.name + "." + fd.key
			if e, ok := docs[id]; ok {
				used[id] = true
				fd.doc, fd.required = e.doc, e.required
				if e.set != nil {
					e.set(&fd.shape)
				}
			}
			o.fields = append(o.fields, fd)
		}
	}
	for id := range docs {
		if !used[id] {
			unused = append(unused, id)
		}
	}
	slices.Sort(unused)
	return objs, unused
}

// yamlKey is the key a raw struct field is decoded from: snake_case of the
// Go name, but for the two keys the format spells otherwise.
func yamlKey(goName string) string {
	switch goName {
	case "APIVersion":
		return "apiVersion"
	case "AlertName":
		return "alertname"
	}
	rs := []rune(goName)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prevLower := unicode.IsLower(rs[i-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if prevLower || nextLower && unicode.IsUpper(rs[i-1]) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

var (
	strType      = reflect.TypeFor[str]()
	numType      = reflect.TypeFor[num]()
	booleanType  = reflect.TypeFor[boolean]()
	durType      = reflect.TypeFor[dur]()
	kvType       = reflect.TypeFor[kv]()
	durationExpr = `^(?:0|(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+)$`
)

// baseShape is what the decoder accepts for a field of Go type t: the
// decoder's helpers (str, num, boolean, dur, strs, strMap, list, pairs)
// each take one shape.
func baseShape(t reflect.Type, objs map[reflect.Type]*schemaObject) shape {
	switch t {
	case strType:
		return shape{kind: shapeText}
	case numType:
		return shape{kind: shapeInt}
	case booleanType:
		return shape{kind: shapeBool}
	case durType:
		return shape{kind: shapeDuration, pattern: durationExpr}
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if o, ok := objs[t]; ok {
		// Only the triggers mapping may be left empty; the others report
		// an empty value as missing keys.
		return shape{kind: shapeObject, object: o.name, nullable: o.name == "triggers"}
	}
	if t.Kind() == reflect.Slice {
		el := t.Elem()
		if el == kvType {
			return shape{kind: shapeMapping, nullable: true, values: &shape{kind: shapeText}}
		}
		item := baseShape(el, objs)
		if o, ok := objs[el]; ok && o.keyField != "" {
			item.nullable = true // `staging:` is an environment with nothing set
			return shape{kind: shapeMapping, nullable: true, values: &item}
		}
		return shape{kind: shapeList, nullable: true, items: &item}
	}
	panic(fmt.Sprintf("gitsync: no schema shape for raw field type %s", t))
}
