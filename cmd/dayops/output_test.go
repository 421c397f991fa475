package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dayops/dayops/storage"
)

// hostileStep prints what a Day-2 runbook might show from a log: escape
// sequences that set the window title, clear the screen, write the
// clipboard, colour, a C1 CSI, a bidi override, backspaces and a carriage
// return; then fails with more of the same on stderr, which the reason quotes.
const hostileStep = `apiVersion: dayops/v1
phase: day2
name: noisy
steps:
  - name: print
    run: |
      printf 'title \033]0;pwned\007\n'
      printf 'clear \033[2J\033[H\n'
      printf 'clipboard \033]52;c;cm0gLXJmIH4K\007\n'
      printf 'csi \033[31mred\033[0m\n'
      printf 'c1 \302\2332J\n'
      printf 'bidi \342\200\256txt.exe\n'
      printf 'backspace ok\b\bno\n'
      printf 'cr fine\rforged\n'
      printf 'stderr \033]0;err\007\n' >&2
      exit 3
`

// hostileShown is how each line must be shown.
var hostileShown = []string{
	`title \x1b]0;pwned\a`, `clear \x1b[2J\x1b[H`, `clipboard \x1b]52;c;cm0gLXJmIH4K\a`,
	`csi \x1b[31mred\x1b[0m`, `c1 \u009b2J`, `bidi \u202etxt.exe`, `backspace ok\b\bno`,
	`cr fine\rforged`, `stderr \x1b]0;err\a`,
}

// obeyed returns the first character in s that a terminal would act on.
func obeyed(s string) (rune, bool) {
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u202e' {
			return r, true
		}
	}
	return 0, false
}

// TestHostileOutputIsShownSafely: dayops run and dayops logs show a step's
// escape sequences visibly, and the database keeps the bytes as they were.
func TestHostileOutputIsShownSafely(t *testing.T) {
	dir := writeDefs(t, map[string]string{"noisy.yaml": hostileStep})
	db := filepath.Join(t.TempDir(), "d.db")
	code, out, stderr := cli(t, "", "run", "noisy", "--dir", dir, "--database", db)
	if code != exitFail || !strings.Contains(out, "run #1 failed") {
		t.Fatalf("run: exit %d, want 1\n%s%s", code, out, stderr)
	}
	code, logs, stderr := cli(t, "", "logs", "1", "--database", db)
	if code != exitOK {
		t.Fatalf("logs: exit %d\n%s%s", code, logs, stderr)
	}
	for verb, out := range map[string]string{"run": out + stderr, "logs": logs + stderr} {
		if r, ok := obeyed(out); ok {
			t.Errorf("dayops %s prints %U raw:\n%q", verb, r, out)
		}
		for _, want := range hostileShown {
			if !strings.Contains(out, want) {
				t.Errorf("dayops %s lacks %q:\n%s", verb, want, out)
			}
		}
	}
	if !strings.Contains(logs, `stderr \x1b]0;err\a`) || !strings.Contains(logs, "(exit 3)") {
		t.Errorf("logs lacks the reason:\n%s", logs)
	}

	st, err := storage.Open(context.Background(), db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lines, err := st.Logs(context.Background(), 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, l := range lines {
		stored = append(stored, l.Text)
	}
	all := strings.Join(stored, "\n")
	for _, raw := range []string{"title \x1b]0;pwned\x07", "c1 \u009b2J", "bidi \u202etxt.exe", "cr fine\rforged"} {
		if !strings.Contains(all, raw) {
			t.Errorf("the database does not keep %q as it was:\n%q", raw, all)
		}
	}
}

// TestValidateHostileFileNames: a file name with a newline, or one that
// reads like a problem line, cannot forge a file:line:col: line.
func TestValidateHostileFileNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a\nb.yaml", "x.yaml:1:1: fake error.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("name: broken\n"), 0o644); err != nil {
			t.Skipf("this file system refuses the name %q: %v", name, err)
		}
	}
	os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("apiVersion: dayops/v1\nphase: day2\nname: fine\nsteps:\n  - run: 'true'\n"), 0o644)
	code, out, stderr := cli(t, "", "validate", dir)
	if code != exitFail {
		t.Fatalf("validate: exit %d, want 1\n%s%s", code, out, stderr)
	}
	if r, ok := obeyed(out + stderr); ok {
		t.Errorf("validate prints %U raw:\n%q", r, out+stderr)
	}
	// How a CI annotation reads a line: the first file:line:col: on it.
	annotation := regexp.MustCompile(`^(.+?):(\d+):(\d+): (.*)$`)
	var files []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := annotation.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a file:line:col: line: %q", l)
			continue
		}
		if !slices.Contains(files, m[1]) {
			files = append(files, m[1])
		}
	}
	want := []string{filepath.Join(dir, `a\nb.yaml`), filepath.Join(dir, `x.yaml\x3a1\x3a1\x3a fake error.yaml`)}
	if strings.Join(files, "|") != strings.Join(want, "|") {
		t.Errorf("annotations name files %q, want %q:\n%s", files, want, out)
	}

	// JSON keeps the names exact; its own escaping makes them safe.
	code, out, _ = cli(t, "", "validate", "--format", "json", dir)
	var doc struct {
		Errors []struct{ File string }
	}
	if err := json.Unmarshal([]byte(out), &doc); code != exitFail || err != nil {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	files = nil
	for _, e := range doc.Errors {
		if !slices.Contains(files, e.File) {
			files = append(files, e.File)
		}
	}
	if want := []string{filepath.Join(dir, "a\nb.yaml"), filepath.Join(dir, "x.yaml:1:1: fake error.yaml")}; !slices.Equal(files, want) {
		t.Errorf("json names %q, want %q", files, want)
	}
	if r, ok := obeyed(out); ok {
		t.Errorf("validate --format json prints %U raw", r)
	}
}

// TestDemoHostileAndLongInput: the demo shows a typed escape sequence
// visibly, answers a 1 MB line with an error and goes on to the next command.
func TestDemoHostileAndLongInput(t *testing.T) {
	script := "/ops deploy web staging version=\x1b]0;pwned\x07\n/ops " + strings.Repeat("x", 1<<20) + "\n/ops list\n"
	code, out, stderr := cli(t, script, "demo", "--data", t.TempDir())
	if code != exitOK {
		t.Fatalf("demo: exit %d, want 0\n%.2000s\n%s", code, out, stderr)
	}
	for _, want := range []string{
		`alice > /ops deploy web staging version=\x1b]0;pwned\a`,
		"-- that line is 1048581 bytes; commands are at most 4000 bytes, so it was not read",
		"alice > /ops list\nbot > 9 definitions at revision",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo transcript lacks %q:\n%.3000s", want, out)
		}
	}
	if r, ok := obeyed(out); ok {
		t.Errorf("the demo prints %U raw", r)
	}
}
