package commands

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "help deploy", "list day1", "describe deploy-api", "plan a staging k=v",
		"run a b c=\"d e\"", "deploy web staging v1 version=v1", "deploy staging",
		"rollback web prod", "status #42", "history a b", "approve 1", "deny 2 no way",
		"cancel 3", "lock prod “freeze now”", "unlock prod", "sync", "stats web", "whoami",
		"deplyo web staging", `"unterminated`, "‘smart’ ‘open", "a\\", "x=y", "run x A=1 a=2",
		"\xff", "deny 1 \x00", "status 99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r := Parse(text)
		set := 0
		if r.Command != nil {
			set++
		}
		if r.Reply != "" {
			set++
		}
		if r.Ignore {
			set++
		}
		if set != 1 {
			t.Fatalf("Parse(%q) = %+v: want exactly one of Command, Reply, Ignore", text, r)
		}
		if r.Reply != "" {
			checkReply(t, text, r.Reply)
		}
		if r.Command != nil {
			checkCommand(t, text, r.Command)
		}
	})
}

func checkReply(t *testing.T, text, reply string) {
	t.Helper()
	if !utf8.ValidString(reply) {
		t.Fatalf("Parse(%q) reply is not UTF-8: %q", text, reply)
	}
	for _, c := range reply {
		if c != '\n' && !unicode.IsGraphic(c) {
			t.Fatalf("Parse(%q) reply holds %U: %q", text, c, reply)
		}
	}
	// Echoes are bounded: the longest fixed text plus a few quoted words.
	if n := utf8.RuneCountInString(reply); n > 600 {
		t.Fatalf("Parse(%q) reply is %d characters: %q", text, n, reply)
	}
}

func checkCommand(t *testing.T, text string, c *Command) {
	t.Helper()
	fail := func(what string) { t.Fatalf("Parse(%q) = %+v: %s", text, c, what) }
	s := lookup(c.Verb)
	if s == nil {
		fail("unknown verb")
	}
	if c.Text != strings.TrimSpace(text) {
		fail("Text is not the trimmed input")
	}
	if c.Name != "" && !nameRE.MatchString(c.Name) {
		fail("bad Name")
	}
	if c.Service != "" && !nameRE.MatchString(c.Service) {
		fail("bad Service")
	}
	if c.Environment != "" && !envRE.MatchString(c.Environment) {
		fail("bad Environment")
	}
	if c.Phase != "" && !slices.Contains(phases, c.Phase) {
		fail("bad Phase")
	}
	if c.RunID < 0 {
		fail("negative RunID")
	}
	needsRun := c.Verb == VerbApprove || c.Verb == VerbDeny || c.Verb == VerbCancel
	if needsRun != (c.RunID > 0) && c.Verb != VerbStatus {
		fail("RunID does not fit the verb")
	}
	if c.Params != nil && len(c.Params) == 0 {
		fail("empty non-nil Params")
	}
	if len(c.Params) > 0 && !s.params {
		fail("Params on a verb without them")
	}
	folded := map[string]bool{}
	for k := range c.Params {
		if !paramRE.MatchString(k + "=") {
			fail("bad Params key " + k)
		}
		if folded[strings.ToLower(k)] {
			fail("Params keys differ only by case")
		}
		folded[strings.ToLower(k)] = true
	}
	if c.Version != "" && c.Params["version"] != c.Version {
		fail("Version and Params[version] disagree")
	}
	if c.Reason != strings.TrimSpace(c.Reason) {
		fail("Reason not trimmed")
	}
	// Parsing the same text again gives the same command.
	again := Parse(text)
	if again.Command == nil || again.Command.Text != c.Text || again.Command.Verb != c.Verb {
		fail("not deterministic")
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"a b", `"a b"`, `'a'`, `a\ b`, "“x”", "‘x’", `"\"`, "don’t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		words, err := Tokenize(text)
		if err != nil {
			return
		}
		// Quoting every word and joining them must give the words back.
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		back, err := Tokenize(strings.Join(quoted, " "))
		if err != nil {
			t.Fatalf("Tokenize(requoted %q): %v", words, err)
		}
		if !slices.Equal(words, back) {
			t.Fatalf("Tokenize(%q) = %q, requoted gives %q", text, words, back)
		}
	})
}
