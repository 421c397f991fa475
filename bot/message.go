package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// Message is what the bot says, independent of any door. Each door renders
// it its own way (Block Kit, Markdown, terminal text); Plain is the shared
// plain-text rendering. Every text in it has already passed the Redactor.
type Message struct {
	Text    string   // the main text; lines separated by \n
	Fields  []Field  // labelled values, shown after Text
	Pre     string   // preformatted text: help, plans, diffs; shown as a code block
	Run     *RunView // a run's status, when the message is about one run
	Buttons []Button // actions offered; doors without buttons number them
	Footer  string   // small print: a revision, a hint
	// Private marks an answer for the asker alone: an error, a refusal,
	// help, a listing. Doors that can (Slack's ephemeral messages) show it
	// to that person only; decisions others must see (an approval, a
	// cancel, a freeze) and run messages are never private.
	Private bool
	// Form, when set, asks the asker for a run's parameters: doors that
	// can show it as a form do (and CheckForm, SubmitForm take it from
	// there); the others show Text, which says what to type.
	Form *Form
	// Broadcast marks a line for the whole conversation, not only the
	// thread it is posted in (Slack's reply_broadcast): a deploy's end.
	Broadcast bool
	// File, when set, is a text file to attach: a run's whole output.
	// Doors that upload files post it with Text as its comment; the others
	// show Text and where else to read it (File.Elsewhere).
	File *File
}

// File is a text file a Message carries: a run's whole output.
type File struct {
	Name    string // "run-12-output.txt"
	Content []byte
	// Elsewhere is the command that shows the same text where no file can
	// be shown: "dayops logs 12".
	Elsewhere string
}

// Field is one labelled value of a Message.
type Field struct {
	Label string
	Value string
}

// ButtonStyle suggests how a door draws a button.
type ButtonStyle string

// The button styles.
const (
	StyleDefault ButtonStyle = ""
	StylePrimary ButtonStyle = "primary"
	StyleDanger  ButtonStyle = "danger"
)

// The actions a Button carries back in a Click.
const (
	ActionApprove = "approve"
	ActionDeny    = "deny"
	ActionCancel  = "cancel"
	ActionRetry   = "retry"  // a failed run again: Value the run ID
	ActionRun     = "run"    // a suggested runbook: Value "DEFINITION" or "DEFINITION|ENV"
	ActionOutput  = "output" // a run's whole output as a file: Value the run ID
)

// Button is an action offered with a message. A click comes back to
// HandleClick as Click{Action, Value}, and is authorised again there.
type Button struct {
	Label  string // "Approve run 12"
	Action string // one of the Action constants
	Value  string // the run ID, or for ActionRun the definition
	Style  ButtonStyle
}

// RunView is a run as a message shows it.
type RunView struct {
	ID          int64
	Title       string // "Run #12 deploy-web staging — running"
	Definition  string
	Environment string
	State       dayops.RunState
	Rollback    dayops.RollbackState
	Requester   string // who asked, display name
	Revision    string // short
	Params      string // "version=v1.2.0", redacted
	Note        string // why it waits, is queued or ended as it did
	Steps       []StepView
	Output      []string // the failing step's last output lines (at most MaxOutputLines)
	OutputStep  string   // the step Output belongs to
	URL         string   // the run page, when a base URL is configured
	// Elsewhere are the other places the run is reported with a link, such
	// as its Slack thread beside its pull request: each door shows those
	// of the other doors.
	Elsewhere []ThreadLink
	// EnvironmentURL is where the run's environment is served (its url:
	// in the definition), "" when not given: a GitHub deployment links it.
	EnvironmentURL string
	Duration       time.Duration
}

// ThreadLink is a link to where a run is reported.
type ThreadLink struct {
	Door string // "slack"
	URL  string
}

// StepView is one step of a RunView.
type StepView struct {
	Index    int
	Name     string
	State    dayops.StepState
	Duration time.Duration // 0 while pending
	Rollback bool
	Error    string
}

// MaxErrorRunes bounds a step's error in its line; the output lines and the
// run page say the rest.
const MaxErrorRunes = 80

// MaxOutputLines bounds the output lines a run message quotes; the rest is
// on the run page.
const MaxOutputLines = 10

// StateText is a run state as words: "awaiting approval", "timed out".
func StateText(s dayops.RunState) string {
	return strings.ReplaceAll(string(s), "_", " ")
}

// StepIcon is a one-character symbol for a step state, for doors that show
// symbols rather than words.
func StepIcon(s dayops.StepState) string {
	switch s {
	case dayops.StepSucceeded:
		return "✓"
	case dayops.StepFailed:
		return "✗"
	case dayops.StepTimedOut:
		return "⏱"
	case dayops.StepCancelled:
		return "■"
	case dayops.StepSkipped:
		return "↷"
	case dayops.StepRunning:
		return "▶"
	case dayops.StepAwaitingApproval:
		return "⏸"
	}
	return "○"
}

// FormatDuration renders d compactly: "0.4s", "12.0s", "3m07s", "1h02m".
func FormatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// StepLine renders one step as plain text: state word, name, duration.
func (s StepView) StepLine() string {
	line := fmt.Sprintf("%-17s %s", strings.ReplaceAll(string(s.State), "_", " "), s.Name)
	if d := FormatDuration(s.Duration); d != "" {
		line += "  " + d
	}
	if s.Error != "" && (s.State == dayops.StepFailed || s.State == dayops.StepTimedOut) {
		line += "  (" + dayops.Truncate(s.Error, MaxErrorRunes) + ")"
	}
	return line
}

// Lines renders the run as plain text lines: title, who and what, each step,
// the failing output and the link.
func (v *RunView) Lines() []string { return v.LinesWith(StepView.StepLine) }

// LinesWith is Lines with each step rendered by stepLine.
func (v *RunView) LinesWith(stepLine func(StepView) string) []string {
	lines := []string{v.Title}
	meta := []string{}
	if v.Requester != "" {
		meta = append(meta, "asked by "+v.Requester)
	}
	if v.Revision != "" {
		meta = append(meta, "revision "+v.Revision)
	}
	if v.Params != "" {
		meta = append(meta, v.Params)
	}
	if d := FormatDuration(v.Duration); d != "" {
		meta = append(meta, d)
	}
	if len(meta) > 0 {
		lines = append(lines, strings.Join(meta, " · "))
	}
	if v.Note != "" {
		lines = append(lines, v.Note)
	}
	inRollback := false
	for _, s := range v.Steps {
		if s.Rollback && !inRollback {
			lines = append(lines, "rollback:")
			inRollback = true
		}
		lines = append(lines, "  "+stepLine(s))
	}
	if len(v.Output) > 0 {
		lines = append(lines, "last output of "+v.OutputStep+":")
		for _, l := range v.Output {
			lines = append(lines, "  | "+l)
		}
	}
	if v.Rollback != dayops.RollbackNone {
		lines = append(lines, "rollback: "+strings.ReplaceAll(string(v.Rollback), "_", " "))
	}
	if v.URL != "" {
		lines = append(lines, v.URL)
	}
	return lines
}

// Plain renders the message as plain text, buttons as a numbered list.
func (m Message) Plain() string {
	var parts []string
	if m.Text != "" {
		parts = append(parts, m.Text)
	}
	for _, f := range m.Fields {
		parts = append(parts, f.Label+": "+f.Value)
	}
	if m.Run != nil {
		parts = append(parts, m.Run.Lines()...)
	}
	if m.Pre != "" {
		parts = append(parts, m.Pre)
	}
	if len(m.Buttons) > 0 {
		parts = append(parts, ButtonLine(m.Buttons))
	}
	if m.Footer != "" {
		parts = append(parts, m.Footer)
	}
	if m.File != nil && m.File.Elsewhere != "" {
		parts = append(parts, "read it with `"+m.File.Elsewhere+"`")
	}
	return strings.Join(parts, "\n")
}

// ButtonLine renders buttons as numbered choices: "[1] Approve run 12  [2] Deny".
func ButtonLine(buttons []Button) string {
	items := make([]string, len(buttons))
	for i, b := range buttons {
		items[i] = fmt.Sprintf("[%d] %s", i+1, b.Label)
	}
	return strings.Join(items, "  ")
}
