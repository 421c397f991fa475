package console

import (
	"context"
	"strings"
	"testing"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

// hostile are lines a step might print (a User-Agent in a log that a Day-2
// runbook shows, say), with how the terminal must show them.
var hostile = []struct{ raw, shown string }{
	{"title \x1b]0;pwned\x07", `title \x1b]0;pwned\a`},
	{"clear \x1b[2J\x1b[H", `clear \x1b[2J\x1b[H`},
	{"clipboard \x1b]52;c;cm0gLXJmIH4K\x07", `clipboard \x1b]52;c;cm0gLXJmIH4K\a`},
	{"csi \x1b[31mred\x1b[0m", `csi \x1b[31mred\x1b[0m`},
	{"c1 \u009b2J", `c1 \u009b2J`},
	{"bidi \u202Etxt.exe", `bidi \u202etxt.exe`},
	{"backspace ok\b\bno", `backspace ok\b\bno`},
	{"cr fine\rforged", `cr fine\rforged`},
}

// assertShownSafely fails when out holds anything a terminal would obey, or
// lacks the visible form of a hostile line.
func assertShownSafely(t *testing.T, out string) {
	t.Helper()
	for _, r := range out {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u202e' {
			t.Errorf("the transcript holds %U raw:\n%q", r, out)
			break
		}
	}
	for _, h := range hostile {
		if !strings.Contains(out, h.shown) {
			t.Errorf("the transcript lacks %q", h.shown)
		}
	}
}

// TestHostileOutputIsShownSafely: escape sequences in a step's output and in
// a run's reason reach the console through the real bot and are shown, not
// obeyed, on a terminal and in a script's transcript.
func TestHostileOutputIsShownSafely(t *testing.T) {
	var raw []string
	for _, h := range hostile {
		raw = append(raw, h.raw)
	}
	for _, interactive := range []bool{false, true} {
		got := sessionWith(t, "/ops run restart-web staging\n", interactive, &demoEngine{
			output: raw,
			reason: "step Start failed: " + hostile[0].raw,
		})
		if !strings.Contains(got, "last output of Start") {
			t.Fatalf("the run's summary quotes no output:\n%s", got)
		}
		assertShownSafely(t, got)
	}
}

// TestHostileMessageText: a message's text, fields and typed echo go through
// the same rendering.
func TestHostileMessageText(t *testing.T) {
	store := &bottest.Store{}
	b, err := bot.New(bot.Options{Engine: &demoEngine{store: store}, Store: store, Catalogs: &bottest.Catalogs{}})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	var lines []string
	for _, h := range hostile {
		lines = append(lines, h.raw)
	}
	c := New(Options{In: strings.NewReader("# " + strings.Join(lines, " ") + "\n" + hostile[0].raw + "\n"), Out: out, Bot: b})
	c.Post(context.Background(), dayops.Thread{}, bot.Message{Text: strings.Join(lines, "\n")})
	c.Post(context.Background(), dayops.Thread{}, bot.Message{Run: &bot.RunView{ID: 1, Title: "Run #1", State: dayops.RunRunning},
		Fields: []bot.Field{{Label: "note", Value: hostile[1].raw}}, Pre: strings.Join(lines, "\n")})
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Wait()
	assertShownSafely(t, out.String())
	if !strings.Contains(out.String(), "alice > "+hostile[0].shown+"\n") {
		t.Errorf("the typed line is not echoed safely:\n%s", out)
	}
}
