package dayops

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// APIVersion is the only schema version dayops reads.
const APIVersion = "dayops/v1"

// Phase is the operational phase of a definition.
type Phase string

// The three phases.
const (
	Day0 Phase = "day0" // planning and provisioning
	Day1 Phase = "day1" // deployment
	Day2 Phase = "day2" // everything after: maintenance, backups, incidents
)

// Phases lists the phases in order.
var Phases = []Phase{Day0, Day1, Day2}

// Valid reports whether p is one of the three phases.
func (p Phase) Valid() bool { return p == Day0 || p == Day1 || p == Day2 }

// NamePattern is what definition, service and step IDs must match.
var NamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// EnvironmentPattern is what environment names (staging, prod_eu) must
// match, in definitions and in chat commands alike.
var EnvironmentPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// TargetPattern is what an SSH target or group name looks like, in the
// server configuration and in a step's on: key.
var TargetPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// EnvName is the form of a name (a step ID, an output key, a parameter) in
// the environment variables that carry it to a step (DAYOPS_PARAM_<NAME>,
// DAYOPS_STEP_<ID>_<KEY>): upper case, dashes as underscores. Two step IDs
// with the same form would mix their outputs, so validation refuses them.
func EnvName(id string) string {
	return strings.ToUpper(strings.ReplaceAll(id, "-", "_"))
}

// Definition is one validated phase definition (SPEC §5). Definitions are
// built by the loader and shared read-only: never modify one.
type Definition struct {
	Phase        Phase
	Name         string
	Description  string
	Service      string
	Environments []Environment // in file order; empty means no ENV argument
	Params       []Param       // in file order
	Concurrency  string        // template; "" means no concurrency key
	Timeout      time.Duration // 0 means the server default
	Secrets      []string
	Env          []EnvVar // templates, in file order
	Steps        []Step
	Rollback     []Step
	Triggers     Triggers
	Requires     []Requirement // phase gates of every run; see Requirements
	Source       Source
}

// Source says where a definition came from.
type Source struct {
	File     string // path relative to the repository root (or the loaded folder)
	Revision string // commit SHA, or "sha256:…" of a plain folder's content
	Content  []byte // the file as read, for diffs and describe
}

// Environment is one entry of a definition's environments.
type Environment struct {
	Name      string
	Approvals *ApprovalRule // nil when none is needed
	URL       string        // where it is served (http/https), "" when not given; for deployment records
	Requires  []Requirement // phase gates of runs in this environment, besides the definition's
}

// ApprovalRule says how many distinct people from which roles must approve.
type ApprovalRule struct {
	Count int
	From  []string // role names; empty means any role that grants the action
}

// EnvVar is one name/template pair of a definition's env.
type EnvVar struct {
	Name  string
	Value string
}

// ParamType is the type of a parameter.
type ParamType string

// The parameter types.
const (
	ParamString ParamType = "string"
	ParamInt    ParamType = "int"
	ParamBool   ParamType = "bool"
	ParamChoice ParamType = "choice"
)

// Param is a typed parameter of a definition.
type Param struct {
	Name        string
	Description string
	Type        ParamType
	Pattern     *regexp.Regexp // strings only; nil when none
	Required    bool
	Default     string // "" with HasDefault false means no default
	HasDefault  bool
	Choices     []string // choice only
}

// MaxParamLength bounds every parameter value.
const MaxParamLength = 1024

// Check validates one value against the parameter and returns it in canonical
// form (bools as "true"/"false", ints without leading zeros or sign noise).
func (p Param) Check(value string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", Errorf(KindInvalid, "parameter %s: %s", p.Name, fmt.Sprintf(format, args...))
	}
	if len(value) > MaxParamLength {
		return bad("value is %d bytes long; the limit is %d", len(value), MaxParamLength)
	}
	if !validText(value) {
		return bad("value must be valid UTF-8 text without control characters")
	}
	switch p.Type {
	case ParamInt:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return bad("%q is not a whole number", Truncate(value, 40))
		}
		value = strconv.FormatInt(n, 10)
	case ParamBool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad("%q is not true or false", Truncate(value, 40))
		}
		value = strconv.FormatBool(b)
	case ParamChoice:
		ok := false
		for _, c := range p.Choices {
			ok = ok || c == value
		}
		if !ok {
			return bad("%q is not one of %s", Truncate(value, 40), strings.Join(p.Choices, ", "))
		}
	}
	if p.Pattern != nil && !p.Pattern.MatchString(value) {
		return bad("%q does not match the pattern %s", Truncate(value, 40), p.Pattern.String())
	}
	return value, nil
}

// validText rejects invalid UTF-8 and control characters other than tab.
func validText(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' || (r < 0x20 && r != '\t') || r == 0x7f {
			return false
		}
	}
	return true
}

// Truncate shortens s to at most n runes, ending with "…" when cut.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// StepKind is what a step does.
type StepKind string

// The step kinds.
const (
	StepKindRun      StepKind = "run"      // a bash script
	StepKindHTTP     StepKind = "http"     // an HTTP check
	StepKindApproval StepKind = "approval" // a gate in the middle of a run
	StepKindUses     StepKind = "uses"     // another definition, run as a step
	// StepKindChecklist is a readiness review: questions answered by people.
	StepKindChecklist StepKind = "checklist"
)

// MaxUsesDepth is how many definitions one chain of uses: steps may hold,
// the one started included: a run of a uses b uses c is three deep. The
// executor refuses to go deeper and validation refuses a tree that would.
const MaxUsesDepth = 5

// Condition is a step's if: value.
type Condition string

// The step conditions.
const (
	IfSuccess Condition = "success()" // run only while nothing has failed (default)
	IfFailure Condition = "failure()" // run only after a failure
	IfAlways  Condition = "always()"  // run whatever happened
)

// Step is one step of a definition or of its rollback.
type Step struct {
	ID              string // optional; needed to read its outputs
	Name            string // shown to users; defaults to ID or the kind
	Kind            StepKind
	If              Condition
	Run             string     // StepKindRun: the script, never expanded
	HTTP            *HTTPCheck // StepKindHTTP
	Approval        string     // StepKindApproval: the text shown, a template
	Uses            string     // StepKindUses: the definition name
	With            []EnvVar   // StepKindUses: parameters, templates
	Checklist       *Checklist // StepKindChecklist
	Env             []EnvVar   // extra environment for this step, templates
	Timeout         time.Duration
	Retries         int
	RetryDelay      time.Duration
	ContinueOnError bool
	// On, for run steps, is the SSH target or group of the server's
	// configuration the script runs on ("": the dayops machine); a
	// definition's on: is the default of its run steps. Parallel is how many
	// of its hosts run at a time (at least 1); with ContinueOnHostError a
	// failed host does not stop the others, and the step fails at the end.
	On                  string
	Parallel            int
	ContinueOnHostError bool
	Line                int // line in the source file, for messages
}

// HTTPCheck is an http step. URL and the body text are templates.
type HTTPCheck struct {
	URL          string
	Method       string // default GET
	Status       int    // expected status, default 200
	BodyContains string
	Attempts     int           // default 1
	Interval     time.Duration // between attempts, default 5s
	Timeout      time.Duration // per attempt, default 10s
}

// Triggers say which events start or offer a definition.
type Triggers struct {
	PullRequest []PullRequestTrigger
	Incident    []IncidentTrigger
	Alert       []AlertTrigger
	Schedule    []ScheduleTrigger
}

// ScheduleTrigger runs a definition at the times of a cron expression, in
// the server's schedule time zone.
type ScheduleTrigger struct {
	Cron string // 5 fields or a shorthand (ParseCron)
	// Window is how late a firing missed while dayops was down may still
	// run; zero means until the next firing is due (the cron's interval).
	Window time.Duration
}

// String is the trigger as written: the cron, and its window when set.
func (s ScheduleTrigger) String() string {
	if s.Window > 0 {
		return s.Cron + " (window " + s.Window.String() + ")"
	}
	return s.Cron
}

// Defaults of the remediation guard of automatic alert and incident runs.
const (
	DefaultCooldown = 30 * time.Minute // least time between two automatic runs of one runbook on one target
	DefaultBudget   = 3                // most automatic runs of one trigger per hour
)

// PullRequestTrigger starts a run on a pull-request event of an application repo.
type PullRequestTrigger struct {
	Repo        string   // owner/name
	On          string   // "merged" | "opened" | "synchronize" | "labeled"
	Branches    []string // base branch globs (path.Match); empty means any
	Labels      []string // labels the pull request must all carry; for "labeled", the one added must be among them
	Environment string
	Params      []EnvVar // templates (pr.* allowed)
}

// IncidentTrigger offers (or, when Auto, runs) a definition in an incident channel.
type IncidentTrigger struct {
	Channel *regexp.Regexp // channel name pattern
	Match   *regexp.Regexp // matched against the channel name, topic and alert text; nil matches all
	Auto    bool
	// Cooldown and Budget guard automatic runs: at most one run per
	// Cooldown per channel, at most Budget per hour.
	Cooldown time.Duration
	Budget   int
}

// AlertTrigger starts or offers a definition when an Alertmanager alert fires.
type AlertTrigger struct {
	AlertName string
	Labels    map[string]string
	Auto      bool
	// Cooldown and Budget guard automatic runs: at most one run per
	// Cooldown per target (the alert's labels), at most Budget per hour.
	Cooldown time.Duration
	Budget   int
}

// Environment returns the named environment of d, if it declares it.
func (d *Definition) Environment(name string) (Environment, bool) {
	for _, e := range d.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// EnvironmentNames returns the declared environment names in file order.
func (d *Definition) EnvironmentNames() []string {
	names := make([]string, len(d.Environments))
	for i, e := range d.Environments {
		names[i] = e.Name
	}
	return names
}

// Param returns the named parameter.
func (d *Definition) Param(name string) (Param, bool) {
	for _, p := range d.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// ResolveParams checks given against the declared parameters: unknown names,
// missing required ones and bad values are errors (all of them, joined); the
// result has every declared parameter with a value or a default.
func (d *Definition) ResolveParams(given map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(d.Params))
	var problems []string
	for name := range given {
		if _, ok := d.Param(name); !ok {
			msg := fmt.Sprintf("%s has no parameter %q", d.Name, Truncate(name, 40))
			if len(d.Params) > 0 {
				msg += " (its parameters: " + strings.Join(d.paramNames(), ", ") + ")"
			}
			problems = append(problems, msg)
		}
	}
	for _, p := range d.Params {
		v, ok := given[p.Name]
		if !ok {
			switch {
			case p.HasDefault:
				out[p.Name] = p.Default
			case p.Required:
				problems = append(problems, fmt.Sprintf("parameter %s is required: add %s=VALUE", p.Name, p.Name))
			}
			continue
		}
		cv, err := p.Check(v)
		if err != nil {
			problems = append(problems, UserMessage(err, ""))
			continue
		}
		out[p.Name] = cv
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, Errorf(KindInvalid, "%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// CheckEnvironment validates env against the declared environments.
func (d *Definition) CheckEnvironment(env string) error {
	if len(d.Environments) == 0 {
		if env != "" {
			return Errorf(KindInvalid, "%s takes no environment, but %q was given", d.Name, Truncate(env, 40))
		}
		return nil
	}
	if env == "" {
		return Errorf(KindInvalid, "%s needs an environment: one of %s", d.Name, strings.Join(d.EnvironmentNames(), ", "))
	}
	if _, ok := d.Environment(env); !ok {
		return Errorf(KindInvalid, "%s has no environment %q: use one of %s", d.Name, Truncate(env, 40), strings.Join(d.EnvironmentNames(), ", "))
	}
	return nil
}

func (d *Definition) paramNames() []string {
	names := make([]string, len(d.Params))
	for i, p := range d.Params {
		names[i] = p.Name
	}
	return names
}
