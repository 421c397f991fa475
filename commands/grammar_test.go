package commands

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVerbs(t *testing.T) {
	want := []Verb{
		VerbHelp, VerbList, VerbDescribe, VerbPlan, VerbRun, VerbDeploy, VerbRollback, VerbStatus,
		VerbHistory, VerbApprove, VerbDeny, VerbAnswer, VerbCancel, VerbLock, VerbUnlock, VerbSync, VerbStats, VerbWhoami,
	}
	if diff := cmp.Diff(want, Verbs()); diff != "" {
		t.Errorf("Verbs() mismatch (-want +got):\n%s", diff)
	}
}

// The usages are the contract of SPEC.md section 4, spelled out once here so
// that a change to the table is a deliberate change to this test too.
func TestUsage(t *testing.T) {
	want := map[Verb]string{
		VerbHelp:     "help [COMMAND]",
		VerbList:     "list [day0|day1|day2]",
		VerbDescribe: "describe NAME",
		VerbPlan:     "plan NAME [ENV] [key=value…]",
		VerbRun:      "run NAME [ENV] [key=value…]",
		VerbDeploy:   "deploy SERVICE ENV [VERSION] [key=value…]",
		VerbRollback: "rollback SERVICE ENV",
		VerbStatus:   "status [RUN]",
		VerbHistory:  "history [NAME] [ENV]",
		VerbApprove:  "approve RUN",
		VerbDeny:     "deny RUN [reason…]",
		VerbAnswer:   "answer RUN QUESTION yes|no [note…]",
		VerbCancel:   "cancel RUN",
		VerbLock:     "lock ENV [reason…]",
		VerbUnlock:   "unlock ENV",
		VerbSync:     "sync",
		VerbStats:    "stats [SERVICE]",
		VerbWhoami:   "whoami",
	}
	got := map[Verb]string{}
	for _, v := range Verbs() {
		got[v] = Usage(v)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Usage mismatch (-want +got):\n%s", diff)
	}
	if u := Usage("nope"); u != "" {
		t.Errorf(`Usage("nope") = %q, want ""`, u)
	}
}

func TestHelpLists(t *testing.T) {
	all := Help("")
	for _, v := range Verbs() {
		line := DefaultPrefix + " " + Usage(v) + " — "
		if !strings.Contains(all, line) {
			t.Errorf("Help(\"\") lacks %q:\n%s", line, all)
		}
	}
	if Help("  ") != all {
		t.Error(`Help("  ") differs from Help("")`)
	}
}

func TestHelpTopic(t *testing.T) {
	for _, v := range Verbs() {
		t.Run(string(v), func(t *testing.T) {
			h := Help(string(v))
			lines := strings.Split(h, "\n")
			if want := "usage: " + DefaultPrefix + " " + Usage(v); lines[0] != want {
				t.Errorf("Help(%q) first line = %q, want %q", v, lines[0], want)
			}
			if Help(strings.ToUpper(string(v))) != h {
				t.Errorf("Help(%q) depends on case", v)
			}
			// The example must parse to the verb it illustrates.
			last := lines[len(lines)-1]
			ex, ok := strings.CutPrefix(last, "example: ")
			if !ok {
				t.Fatalf("Help(%q) last line = %q, want an example", v, last)
			}
			rest, ok := StripPrefix(ex, DefaultPrefix)
			if !ok {
				t.Fatalf("example %q lacks the prefix", ex)
			}
			if r := Parse(rest); r.Command == nil || r.Command.Verb != v {
				t.Errorf("example %q parses to %+v, want verb %q", ex, r, v)
			}
		})
	}
}

func TestHelpUnknown(t *testing.T) {
	tests := []struct{ topic, want string }{
		{"deplyo", `unknown command "deplyo" — did you mean "deploy"?`},
		{"xyzzy", `unknown command "xyzzy". /ops help lists every command.`},
	}
	for _, tt := range tests {
		if got := Help(tt.topic); !strings.Contains(got, tt.want) {
			t.Errorf("Help(%q) = %q, want it to contain %q", tt.topic, got, tt.want)
		}
	}
}

// The table is the single source of truth; catch rows that could never
// parse as their usage says.
func TestGrammarTable(t *testing.T) {
	seen := map[Verb]bool{}
	for _, s := range grammar {
		if seen[s.verb] {
			t.Errorf("verb %q appears twice", s.verb)
		}
		seen[s.verb] = true
		if s.verb != Verb(strings.ToLower(string(s.verb))) {
			t.Errorf("verb %q is not lowercase", s.verb)
		}
		if s.min > len(s.args) {
			t.Errorf("%s: min %d > %d args", s.verb, s.min, len(s.args))
		}
		for i, a := range s.args {
			if a.kind == kindReason && i != len(s.args)-1 {
				t.Errorf("%s: reason is not the last argument", s.verb)
			}
		}
		if s.summary == "" || s.example == "" {
			t.Errorf("%s: summary or example missing", s.verb)
		}
	}
}
