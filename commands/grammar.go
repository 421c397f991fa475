package commands

import (
	"github.com/dayops/dayops"
	"strings"
)

// Verb is the first word of a command. The constants are lowercase; Parse
// matches a typed verb case-insensitively.
type Verb string

// The verbs, in the order Help lists them.
const (
	VerbHelp     Verb = "help"
	VerbList     Verb = "list"
	VerbDescribe Verb = "describe"
	VerbPlan     Verb = "plan"
	VerbRun      Verb = "run"
	VerbDeploy   Verb = "deploy"
	VerbRollback Verb = "rollback"
	VerbStatus   Verb = "status"
	VerbHistory  Verb = "history"
	VerbApprove  Verb = "approve"
	VerbDeny     Verb = "deny"
	VerbAnswer   Verb = "answer"
	VerbCancel   Verb = "cancel"
	VerbLock     Verb = "lock"
	VerbUnlock   Verb = "unlock"
	VerbSync     Verb = "sync"
	VerbStats    Verb = "stats"
	VerbWhoami   Verb = "whoami"
)

// Grammar is the chat grammar as a deployment writes it: Prefix is its
// slash command (slack.command). The zero value uses DefaultPrefix; the
// package's functions are the zero Grammar's methods.
type Grammar struct {
	Prefix string
}

func (g Grammar) prefix() string {
	if g.Prefix == "" {
		return DefaultPrefix
	}
	return g.Prefix
}

// DefaultPrefix is the slash command that replies and help text put before
// a command, so that what they show can be typed as it is.
const DefaultPrefix = "/ops"

// argKind says what a positional word is and which Command field it fills.
type argKind int

const (
	kindName     argKind = iota // definition name -> Command.Name
	kindService                 // service name -> Command.Service
	kindEnv                     // environment -> Command.Environment
	kindVersion                 // version -> Command.Version and Params["version"]
	kindPhase                   // day0|day1|day2 -> Command.Phase
	kindRun                     // run number -> Command.RunID
	kindTopic                   // a verb -> Command.Topic
	kindReason                  // every remaining word -> Command.Reason
	kindQuestion                // a question number -> Command.Question
	kindAnswer                  // yes|no -> Command.Answer
)

// arg is one positional argument: how usage shows it and what it is.
type arg struct {
	label string
	kind  argKind
}

var (
	argName     = arg{"NAME", kindName}
	argService  = arg{"SERVICE", kindService}
	argEnv      = arg{"ENV", kindEnv}
	argVersion  = arg{"VERSION", kindVersion}
	argPhase    = arg{"day0|day1|day2", kindPhase}
	argRun      = arg{"RUN", kindRun}
	argTopic    = arg{"COMMAND", kindTopic}
	argReason   = arg{"reason…", kindReason}
	argQuestion = arg{"QUESTION", kindQuestion}
	argAnswer   = arg{"yes|no", kindAnswer}
	argNote     = arg{"note…", kindReason}
)

// spec is one row of the grammar.
type spec struct {
	verb Verb
	// args are the positional arguments in order. A trailing kindReason
	// takes every remaining word, key=value lookalikes included, because a
	// reason is prose.
	args []arg
	// min is how many of args are required; the rest are optional.
	min int
	// params says whether key=value words are allowed.
	params bool
	// override says whether override="REASON" is the reason to start a
	// run whose phase gates are missing (Command.Override), not a parameter.
	override bool
	// single, when set, is what a lone positional word means. It lets
	// "deploy ENV" (a pull request comment, where the door supplies the
	// service) live beside "deploy SERVICE ENV".
	single  *arg
	summary string // one line, lowercase, no final period
	detail  string // optional sentences shown by Help(verb)
	example string // without the prefix
}

// grammar is the table behind Parse, Help, Usage and Verbs.
var grammar = []spec{
	{verb: VerbHelp, args: []arg{argTopic},
		summary: "list the commands, or explain one",
		example: "help deploy"},
	{verb: VerbList, args: []arg{argPhase},
		summary: "list the definitions at the current revision, optionally of one phase",
		example: "list day2"},
	{verb: VerbDescribe, args: []arg{argName}, min: 1,
		summary: "show a definition: parameters, environments, approvals, lock, triggers and source",
		example: "describe deploy-api"},
	{verb: VerbPlan, args: []arg{argName, argEnv}, min: 1, params: true,
		summary: "dry run: resolved steps, lock key and approvals needed; nothing executes",
		detail:  "ENV is required when the definition declares environments.",
		example: "plan deploy-api staging version=v1.2.0"},
	{verb: VerbRun, args: []arg{argName, argEnv}, min: 1, params: true, override: true,
		summary: "start a run of any definition",
		detail:  "ENV is required when the definition declares environments. " + overrideHelp,
		example: "run restart-worker production"},
	{verb: VerbDeploy, args: []arg{argService, argEnv, argVersion}, min: 2, params: true, single: &argEnv, override: true,
		summary: "start the Day-1 definition of SERVICE in ENV",
		detail: "VERSION is short for version=VERSION. In a GitHub pull request comment, " +
			"deploy ENV takes the service from the repository and the version from the pull request head. " + overrideHelp,
		example: "deploy web staging v1.2.0"},
	{verb: VerbRollback, args: []arg{argService, argEnv}, min: 2,
		summary: "redeploy the parameters of the last successful deploy before the current one",
		example: "rollback web production"},
	{verb: VerbStatus, args: []arg{argRun},
		summary: "show the active runs, or one run",
		detail:  "RUN is a run number, with or without #.",
		example: "status 42"},
	{verb: VerbHistory, args: []arg{argName, argEnv},
		summary: "show recent runs, optionally of one definition and environment",
		example: "history deploy-api production"},
	{verb: VerbApprove, args: []arg{argRun}, min: 1,
		summary: "approve a run that waits at an approval gate",
		example: "approve 42"},
	{verb: VerbDeny, args: []arg{argRun, argReason}, min: 1,
		summary: "deny a run that waits at an approval gate",
		example: "deny 42 not during the sale"},
	{verb: VerbAnswer, args: []arg{argRun, argQuestion, argAnswer, argNote}, min: 3,
		summary: "answer a question of the checklist a run waits at, yes or no, with an optional note",
		detail: "QUESTION is the question's number as the run's message shows it. A no fails the checklist step " +
			"with its note; when every question is answered yes the run goes on. Only the roles the checklist names may answer, " +
			"each question once. The message's Yes and No buttons do the same.",
		example: "answer 42 2 no the restore was never tested"},
	{verb: VerbCancel, args: []arg{argRun}, min: 1,
		summary: "stop a run: its processes are killed and its rollback runs if declared",
		example: "cancel 42"},
	{verb: VerbLock, args: []arg{argEnv, argReason}, min: 1,
		summary: "freeze an environment: deploys to it queue or refuse until it is unlocked",
		example: "lock production release freeze"},
	{verb: VerbUnlock, args: []arg{argEnv}, min: 1,
		summary: "lift the freeze on an environment",
		example: "unlock production"},
	{verb: VerbSync,
		summary: "fetch the ops repo now and report the revision and any validation errors",
		example: "sync"},
	{verb: VerbStats, args: []arg{argService},
		summary: "deployment frequency, lead time, change failure rate and time to restore",
		example: "stats web"},
	{verb: VerbWhoami,
		summary: "show who you are to dayops and what your roles allow",
		example: "whoami"},
}

// overrideHelp explains override="REASON" where it is allowed.
const overrideHelp = "A run whose phase gates (requires:) are missing is refused; someone granted " +
	"override:PHASE:NAME[:ENV] may start it anyway by adding override=\"REASON\", which is audited and shown on the run."

// lookup returns the row of v, or nil.
func lookup(v Verb) *spec {
	for i := range grammar {
		if grammar[i].verb == v {
			return &grammar[i]
		}
	}
	return nil
}

// usage renders the row as "deploy SERVICE ENV [VERSION] [key=value…]".
func (s *spec) usage() string {
	var b strings.Builder
	b.WriteString(string(s.verb))
	for i, a := range s.args {
		b.WriteByte(' ')
		if i < s.min {
			b.WriteString(a.label)
		} else {
			b.WriteString("[" + a.label + "]")
		}
	}
	if s.params {
		b.WriteString(" [key=value…]")
	}
	return b.String()
}

// Verbs returns every verb in table order.
func Verbs() []Verb {
	vs := make([]Verb, len(grammar))
	for i, s := range grammar {
		vs[i] = s.verb
	}
	return vs
}

// verbNames returns the verbs as strings, for Suggest.
func verbNames() []string {
	ns := make([]string, len(grammar))
	for i, s := range grammar {
		ns[i] = string(s.verb)
	}
	return ns
}

// Usage returns the synopsis of v without the prefix, such as
// "deploy SERVICE ENV [VERSION] [key=value…]", or "" for an unknown verb.
func Usage(v Verb) string {
	if s := lookup(v); s != nil {
		return s.usage()
	}
	return ""
}

// UsageReply returns problem followed by the usage line of v, the form of
// every arity and argument error Parse replies with. Doors use it for the
// checks only they can make, so those replies look the same, for example
// UsageReply(VerbDeploy, "missing SERVICE") when "deploy ENV" arrives
// anywhere but a pull request comment. An empty problem gives the usage line
// alone; an unknown verb gives problem alone.
func UsageReply(v Verb, problem string) string { return Grammar{}.UsageReply(v, problem) }

// UsageReply is the package's UsageReply with g's prefix.
func (g Grammar) UsageReply(v Verb, problem string) string {
	u := Usage(v)
	switch {
	case u == "":
		return problem
	case problem == "":
		return "usage: " + g.prefix() + " " + u
	}
	return problem + "\nusage: " + g.prefix() + " " + u
}

// Help answers "help [COMMAND]". With an empty topic it lists every command
// with its usage and summary; with a verb (any case) it gives the usage,
// summary, details and an example; for anything else it suggests the
// nearest verb.
func Help(topic string) string { return Grammar{}.Help(topic) }

// Help is the package's Help with g's prefix.
func (g Grammar) Help(topic string) string {
	p := g.prefix()
	topic = strings.TrimSpace(topic)
	if topic == "" {
		var b strings.Builder
		b.WriteString("dayops commands:\n")
		for i := range grammar {
			s := &grammar[i]
			b.WriteString(p + " " + s.usage() + " — " + s.summary + "\n")
		}
		b.WriteString(`Quotes group words ("two words"); key=value sets a parameter. ` +
			p + " help COMMAND explains one command.")
		return b.String()
	}
	s := lookup(Verb(strings.ToLower(topic)))
	if s == nil {
		return g.unknownCommand(topic)
	}
	var b strings.Builder
	b.WriteString("usage: " + p + " " + s.usage() + "\n")
	b.WriteString(s.summary + "\n")
	if s.detail != "" {
		b.WriteString(s.detail + "\n")
	}
	b.WriteString("example: " + p + " " + s.example)
	return b.String()
}

// unknownCommand is the reply to a word that is no verb.
func (g Grammar) unknownCommand(word string) string {
	msg := "unknown command " + quote(word) + "."
	if s := dayops.Suggest(word, verbNames()); s != "" {
		msg = "unknown command " + quote(word) + ` — did you mean "` + s + `"?`
	}
	return msg + " " + g.prefix() + " help lists every command."
}
