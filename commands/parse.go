package commands

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dayops/dayops"
)

// MaxInputBytes is the longest text Parse accepts. Slack caps a message at
// 4000 characters; anything longer is a paste, not a command.
const MaxInputBytes = 4000

// maxEcho is how many characters of user text a reply quotes.
const maxEcho = 80

// The names a command takes are the ones definitions may declare.
var (
	nameRE  = dayops.NamePattern        // definitions and services
	envRE   = dayops.EnvironmentPattern // environments
	paramRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*=`)
)

// phases are the values of "list [day0|day1|day2]".
var phases = []string{"day0", "day1", "day2"}

// Command is a well-formed chat command. Fields a verb does not use are
// zero. Parse checks the shape of names, not whether they exist.
type Command struct {
	Verb Verb
	// Name is the definition of describe, plan, run and history.
	Name string
	// Service is the service of deploy, rollback and stats. It is empty for
	// the one-word form "deploy ENV", which only a pull request comment may
	// use: there the door fills it in from the repository, and every other
	// door refuses it (see UsageReply).
	Service string
	// Environment is the ENV of plan, run, deploy, rollback, history, lock
	// and unlock.
	Environment string
	// Version is the version of deploy, given either as the VERSION word or
	// as version=…; Params["version"] always holds it too.
	Version string
	// Phase is "day0", "day1" or "day2" for "list PHASE" (typed in any case).
	Phase string
	// RunID is the run of status, approve, deny and cancel, typed as 42 or
	// #42; 0 means none was given (only status allows that).
	RunID int64
	// Reason is the free text after deny RUN and lock ENV: the remaining
	// words joined by one space. Words that look like key=value are text here.
	Reason string
	// Override is the reason given as override="REASON" to run or deploy:
	// to start a run whose phase gates are missing. It is not a parameter.
	Override string
	// Question is the QUESTION number of answer; Answer is its "yes" or
	// "no" (typed in any case), and Reason its note.
	Question int
	Answer   string
	// Topic is the lowercased COMMAND of help; Help(Topic) answers it.
	Topic string
	// Params are the key=value words, nil when there are none. Keys keep
	// the case they were typed in, but two keys that differ only by case
	// are refused, so a lookup by strings.EqualFold is never ambiguous.
	Params map[string]string
	// Text is the text that was parsed, trimmed of surrounding white space.
	Text string
}

// Result is the outcome of Parse: exactly one of its fields is set.
type Result struct {
	// Command is the command when the text is one.
	Command *Command
	// Reply is, when the text is not a valid command, what to tell the user:
	// what was wrong, the usage, or a did-you-mean.
	Reply string
	// Ignore is true when there was nothing to parse (empty or blank text).
	Ignore bool
}

// Parse parses text, which is what follows the prefix or mention (see
// StripPrefix), such as "deploy web staging version=v1.2.0". It never
// panics and answers any input, including very long or invalid UTF-8 text.
func Parse(text string) Result { return Grammar{}.Parse(text) }

// Parse is the package's Parse with g's prefix in its replies.
func (g Grammar) Parse(text string) Result {
	if len(text) > MaxInputBytes {
		return reply(fmt.Sprintf("that message is %d bytes long; a command can be at most %d", len(text), MaxInputBytes))
	}
	if !utf8.ValidString(text) {
		return reply("that message is not valid UTF-8 text; type it again")
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return Result{Ignore: true}
	}
	words, err := Tokenize(text)
	if err != nil {
		return reply(err.Error())
	}
	if len(words) == 0 { // only separators that TrimSpace does not know
		return Result{Ignore: true}
	}
	s := lookup(Verb(strings.ToLower(words[0])))
	if s == nil {
		return reply(g.unknownCommand(words[0]))
	}
	c := &Command{Verb: s.verb, Text: text}
	if problem := s.bind(c, words[1:]); problem != "" {
		return reply(g.UsageReply(s.verb, problem))
	}
	return Result{Command: c}
}

func reply(msg string) Result { return Result{Reply: msg} }

// bind fills c from the words after the verb, or says what is wrong.
func (s *spec) bind(c *Command, words []string) string {
	restAt := -1 // index in s.args of a trailing reason
	if n := len(s.args); n > 0 && s.args[n-1].kind == kindReason {
		restAt = n - 1
	}
	var pos, rest []string
	folded := map[string]string{} // lowercased key -> key as typed
	for _, w := range words {
		if r, ok := controlRune(w); ok {
			return fmt.Sprintf("%s contains the control character %U; remove it", quote(w), r)
		}
		switch {
		case restAt >= 0 && len(pos) >= restAt:
			if w = strings.TrimSpace(w); w != "" {
				rest = append(rest, w)
			}
		case paramRE.MatchString(w):
			if !s.params {
				return fmt.Sprintf("%s takes no key=value parameters, but got %s", s.verb, quote(w))
			}
			k, v, _ := strings.Cut(w, "=")
			if prev, ok := folded[strings.ToLower(k)]; ok {
				if prev == k {
					return fmt.Sprintf("parameter %s is given twice; give it once", quote(k))
				}
				return fmt.Sprintf("parameters %s and %s differ only by case; use one spelling", quote(prev), quote(k))
			}
			folded[strings.ToLower(k)] = k
			if s.override && strings.EqualFold(k, "override") {
				if strings.TrimSpace(v) == "" {
					return `override needs a reason: write override="why it cannot wait"`
				}
				c.Override = strings.TrimSpace(v)
				continue
			}
			if c.Params == nil {
				c.Params = map[string]string{}
			}
			c.Params[k] = v
		default:
			pos = append(pos, w)
		}
	}

	limit := len(s.args)
	if restAt >= 0 {
		limit = restAt
	}
	if len(pos) > limit {
		msg := "unexpected word " + quote(pos[limit])
		if s.params {
			msg += " (parameters are written key=value)"
		}
		return msg
	}
	args := s.args
	switch {
	case s.single != nil && len(pos) == 1:
		args = []arg{*s.single}
	case len(pos) < s.min:
		var missing []string
		for _, a := range s.args[len(pos):s.min] {
			missing = append(missing, a.label)
		}
		return "missing " + strings.Join(missing, " and ")
	}
	for i, w := range pos {
		if problem := set(c, args[i], w); problem != "" {
			return problem
		}
	}
	c.Reason = strings.TrimSpace(strings.Join(rest, " "))
	return reconcileVersion(c, folded)
}

// reconcileVersion makes Version and Params["version"] agree for deploy:
// the VERSION word is short for version=VERSION, and saying both differently
// is a mistake worth pointing out rather than guessing which one was meant.
func reconcileVersion(c *Command, folded map[string]string) string {
	if c.Verb != VerbDeploy {
		return ""
	}
	k, explicit := folded["version"]
	switch {
	case c.Version == "" && explicit && k == "version":
		c.Version = c.Params[k]
	case c.Version == "":
	case explicit && k != "version":
		return fmt.Sprintf("VERSION %s and parameter %s both set the version; give it once", quote(c.Version), quote(k))
	case explicit && c.Params[k] != c.Version:
		return fmt.Sprintf("VERSION %s and version=%s disagree; give the version once", quote(c.Version), quote(c.Params[k]))
	default:
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		c.Params["version"] = c.Version
	}
	return ""
}

// set checks one positional word against its argument and stores it.
func set(c *Command, a arg, w string) string {
	switch a.kind {
	case kindName:
		if !nameRE.MatchString(w) {
			return invalid(a.label, w, "a definition name is lowercase letters, digits and hyphens, like deploy-api", nameRE)
		}
		c.Name = w
	case kindService:
		if !nameRE.MatchString(w) {
			return invalid(a.label, w, "a service name is lowercase letters, digits and hyphens, like web", nameRE)
		}
		c.Service = w
	case kindEnv:
		if !envRE.MatchString(w) {
			return invalid(a.label, w, "an environment is lowercase letters, digits, hyphens and underscores, like staging", envRE)
		}
		c.Environment = w
	case kindVersion:
		if w == "" {
			return "VERSION is empty; give a version like v1.2.0 or leave it out"
		}
		c.Version = w
	case kindPhase:
		p := strings.ToLower(w)
		for _, ph := range phases {
			if p == ph {
				c.Phase = p
				return ""
			}
		}
		msg := "invalid phase " + quote(w) + ": use day0, day1 or day2"
		if s := dayops.Suggest(w, phases); s != "" {
			msg += ` — did you mean "` + s + `"?`
		}
		return msg
	case kindRun:
		id, ok := parseRun(w)
		if !ok {
			return "invalid RUN " + quote(w) + ": give a run number, like 42 or #42"
		}
		c.RunID = id
	case kindTopic:
		c.Topic = strings.ToLower(w)
	case kindQuestion:
		n, err := strconv.Atoi(strings.TrimPrefix(w, "#"))
		if err != nil || n < 1 || n > 99 {
			return "invalid QUESTION " + quote(w) + ": give the question's number, like 2"
		}
		c.Question = n
	case kindAnswer:
		switch strings.ToLower(w) {
		case "yes", "y":
			c.Answer = "yes"
		case "no", "n":
			c.Answer = "no"
		default:
			return "invalid answer " + quote(w) + ": answer yes or no"
		}
	}
	return ""
}

// invalid explains a name that breaks its pattern, and offers the lowercase
// spelling when that one would do, since capitals are the usual slip.
func invalid(label, w, rule string, re *regexp.Regexp) string {
	msg := "invalid " + label + " " + quote(w) + ": " + rule
	if l := strings.ToLower(w); l != w && re.MatchString(l) {
		msg += " — did you mean " + quote(l) + "?"
	}
	return msg
}

// parseRun accepts "42" and "#42": digits only, positive, fitting int64.
func parseRun(w string) (int64, bool) {
	w = strings.TrimPrefix(w, "#")
	if w == "" || strings.TrimLeft(w, "0123456789") != "" {
		return 0, false
	}
	id, err := strconv.ParseInt(w, 10, 64)
	return id, err == nil && id > 0
}

// controlRune reports the first control character in w other than tab,
// newline and carriage return, which quoted prose may hold. Others would
// reach logs, process environments (a NUL breaks exec) and terminals.
func controlRune(w string) (rune, bool) {
	for _, r := range w {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return r, true
		}
	}
	return 0, false
}

// quote renders user text for a reply: in double quotes, white space made
// plain spaces, control, formatting and other invisible characters dropped,
// and cut to maxEcho characters.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	n := 0
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			r = ' '
		case !unicode.IsGraphic(r):
			continue
		}
		if n == maxEcho {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	b.WriteByte('"')
	return b.String()
}

// StripPrefix finds a command in text addressed to the bot. Leading white
// space is skipped, then prefix is matched case-insensitively and must end at
// a word boundary when it ends in a letter or digit (prefix "/ab" does not match "/abx",
// but prefix "!" matches "!deploy"). rest is what follows, trimmed; when text
// does not start with prefix, StripPrefix returns text unchanged and false.
// An empty prefix matches any text. A door whose platform addresses the bot
// by a mention passes the mention as it writes it, e.g. "<@U123ABC>".
func StripPrefix(text, prefix string) (rest string, ok bool) {
	s := strings.TrimLeftFunc(text, unicode.IsSpace)
	prefix = strings.TrimSpace(prefix)
	if prefix == "" {
		return strings.TrimSpace(s), true
	}
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return text, false
	}
	after := s[len(prefix):]
	last, _ := utf8.DecodeLastRuneInString(prefix)
	next, _ := utf8.DecodeRuneInString(after)
	if after != "" && isWordRune(last) && isWordRune(next) {
		return text, false
	}
	return strings.TrimSpace(after), true
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-'
}
