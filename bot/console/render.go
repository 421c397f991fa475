package console

import (
	"fmt"
	"io"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// asciiFold spells the typographic characters the bot uses in ASCII, for
// output that scripts and tests read.
var asciiFold = strings.NewReplacer(
	"—", "-", "–", "-", "…", "...", "·", "|", "▸", ">", "→", "->",
	"“", `"`, "”", `"`, "‘", "'", "’", "'",
)

// The line prefixes: what the bot says, and what the console itself says.
const (
	botPrefix     = "bot ▸ "
	consolePrefix = "-- "
)

// render is a whole message as lines.
func (c *Console) render(m bot.Message) []string {
	if m.Run == nil {
		return prefixed(botPrefix, strings.Split(m.Plain(), "\n"))
	}
	var lines []string
	if m.Text != "" {
		lines = append(lines, strings.Split(m.Text, "\n")...)
	}
	for _, f := range m.Fields {
		lines = append(lines, f.Label+": "+f.Value)
	}
	lines = append(lines, m.Run.LinesWith(c.stepLine)...)
	if m.Pre != "" {
		lines = append(lines, strings.Split(m.Pre, "\n")...)
	}
	if len(m.Buttons) > 0 {
		lines = append(lines, bot.ButtonLine(m.Buttons))
	}
	if m.Footer != "" {
		lines = append(lines, m.Footer)
	}
	return prefixed(botPrefix, lines)
}

// changes are the lines that tell what changed from prev to m: the new
// state, each step that moved, new choices. A run that has just ended is
// shown whole, as its summary.
func (c *Console) changes(prev, m bot.Message) []string {
	pv, v := prev.Run, m.Run
	if pv == nil || v == nil {
		return c.render(m)
	}
	if v.State.Final() && !pv.State.Final() {
		return c.render(m)
	}
	var lines []string
	if v.Title != pv.Title {
		lines = append(lines, v.Title)
	}
	if v.Note != pv.Note && v.Note != "" {
		lines = append(lines, v.Note)
	}
	for _, s := range v.Steps {
		old, ok := stepAt(pv.Steps, s.Index)
		if !ok || old.State != s.State {
			lines = append(lines, fmt.Sprintf("#%d %s", v.ID, c.stepLine(s)))
		}
	}
	if v.Rollback != pv.Rollback && v.Rollback != "" {
		lines = append(lines, fmt.Sprintf("#%d rollback: %s", v.ID, strings.ReplaceAll(string(v.Rollback), "_", " ")))
	}
	if len(m.Buttons) > 0 && bot.ButtonLine(m.Buttons) != bot.ButtonLine(prev.Buttons) {
		lines = append(lines, bot.ButtonLine(m.Buttons))
	}
	return prefixed(botPrefix, lines)
}

func stepAt(steps []bot.StepView, index int) (bot.StepView, bool) {
	for _, s := range steps {
		if s.Index == index {
			return s, true
		}
	}
	return bot.StepView{}, false
}

// stepLine is one step: a symbol on a terminal, the state word otherwise.
func (c *Console) stepLine(s bot.StepView) string {
	if !s.State.Final() {
		s.Duration = 0 // a running step's age is stale the moment it prints
	}
	if !c.interactive {
		return s.StepLine()
	}
	line := bot.StepIcon(s.State) + " " + s.Name
	if d := bot.FormatDuration(s.Duration); d != "" {
		line += "  " + d
	}
	if s.Error != "" && (s.State == dayops.StepFailed || s.State == dayops.StepTimedOut) {
		line += "  (" + dayops.Truncate(s.Error, bot.MaxErrorRunes) + ")"
	}
	return line
}

func prefixed(prefix string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = prefix + l
	}
	return out
}

// writeLocked writes whole lines at once; the caller holds c.mu.
func (c *Console) writeLocked(lines []string) {
	if len(lines) == 0 {
		return
	}
	c.writeRawLocked(c.fold(strings.Join(lines, "\n") + "\n"))
}

// writeRawLocked writes s as the terminal must show it: its newlines are the
// console's own, and every other control character, escape sequence or bidi
// override (from step output, a reason, a name or a typed line) is shown
// visibly, never obeyed.
func (c *Console) writeRawLocked(s string) {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = dayops.Printable(l)
	}
	s = strings.Join(lines, "\n")
	if _, err := io.WriteString(c.out, s); err != nil && c.err == nil {
		c.err = fmt.Errorf("writing the conversation: %w", err)
	}
}

// fold makes text plain ASCII punctuation when the output is not a terminal.
func (c *Console) fold(s string) string {
	if c.interactive {
		return s
	}
	return asciiFold.Replace(s)
}
