package slack

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// Block Kit's limits, and the budget each part of a message gets so that a
// message stays within them by construction: at most 12 text blocks of at
// most maxSection bytes (bytes count at least as many as Slack's
// characters), 25 buttons of 75 and a fallback of 300: 38,175 in all, under
// maxMessage, in at most 14 blocks, far fewer than maxBlocks.
const (
	maxBlocks      = 50
	maxSection     = 3000
	maxMessage     = 40000
	maxButtonLabel = 75
	maxButtons     = 25
	maxFallback    = 300
	maxStepName    = 500

	textSections   = 2   // Message.Text
	preSections    = 2   // Message.Pre
	stepSections   = 2   // RunView.Steps
	cutNoticeBytes = 300 // room kept for a "… N more" line
)

// The action IDs of the buttons dayops draws, and the bot actions they stand for.
const (
	ActionIDApprove = "dayops_approve"
	ActionIDDeny    = "dayops_deny"
	ActionIDCancel  = "dayops_cancel"
	ActionIDRetry   = "dayops_retry"
	ActionIDRun     = "dayops_run"
	ActionIDOutput  = "dayops_output"
	// A checklist question's Yes and No: Value "RUN:QUESTION".
	ActionIDAnswerYes = "dayops_answer_yes"
	ActionIDAnswerNo  = "dayops_answer_no"
)

var actionIDs = map[string]string{
	bot.ActionApprove:   ActionIDApprove,
	bot.ActionDeny:      ActionIDDeny,
	bot.ActionCancel:    ActionIDCancel,
	bot.ActionRetry:     ActionIDRetry,
	bot.ActionRun:       ActionIDRun,
	bot.ActionOutput:    ActionIDOutput,
	bot.ActionAnswerYes: ActionIDAnswerYes,
	bot.ActionAnswerNo:  ActionIDAnswerNo,
}

// escape makes user text safe in mrkdwn: Slack reads &, < and > as the start
// of entities, links and mentions ("<!channel>" pings everyone).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// unescape is the text a person typed, from the text Slack sends, which
// escapes &, < and > the same way.
func unescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut. It
// does not cut an escaped entity ("&amp;") in two.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n -= len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	n = max(n, 0)
	if i := strings.LastIndexByte(s[max(n-4, 0):n], '&'); i >= 0 && !strings.Contains(s[max(n-4, 0)+i:n], ";") {
		n = max(n-4, 0) + i
	}
	return s[:n] + "…"
}

// pack puts lines into at most sections texts of at most limit bytes each.
// What does not fit is replaced by the line more(n) for the n lines left
// out: nothing is dropped without saying so.
func pack(lines []string, sections, limit int, more func(n int) string) []string {
	var out []string
	cur, started := "", false
	for i, line := range lines {
		line = cut(line, limit-cutNoticeBytes)
		last := len(out) == sections-1
		room := limit
		if last && i < len(lines)-1 {
			room -= cutNoticeBytes // keep room for the notice
		}
		next := line
		if started {
			next = cur + "\n" + line
		}
		if len(next) <= room {
			cur, started = next, true
			continue
		}
		if !last && started {
			out = append(out, cur)
			cur = line
			continue
		}
		cur += "\n" + cut(more(len(lines)-i), cutNoticeBytes)
		break
	}
	if started {
		out = append(out, cur)
	}
	return out
}

// tail keeps the last lines of lines that fit in limit bytes, saying how
// many earlier ones were left out.
func tail(lines []string, limit int, more func(n int) string) string {
	kept, size := 0, 0
	for i := len(lines) - 1; i >= 0; i-- {
		l := cut(lines[i], limit-cutNoticeBytes)
		if size+len(l)+1 > limit-cutNoticeBytes && kept > 0 {
			break
		}
		size += len(l) + 1
		kept++
	}
	start := len(lines) - kept
	out := make([]string, 0, kept+1)
	if start > 0 {
		out = append(out, cut(more(start), cutNoticeBytes))
	}
	for _, l := range lines[start:] {
		out = append(out, cut(l, limit-cutNoticeBytes))
	}
	return strings.Join(out, "\n")
}

// code is lines as a code block; a fence inside the text cannot close it.
func code(s string) string {
	return "```\n" + strings.ReplaceAll(s, "```", "'''") + "\n```"
}

func mrkdwn(s string) *slack.TextBlockObject {
	// verbatim: Slack does not turn names in user text into links or mentions.
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func section(s string) slack.Block { return slack.NewSectionBlock(mrkdwn(s), nil, nil) }

func contextLine(s string) slack.Block {
	return slack.NewContextBlock("", mrkdwn(cut(s, maxSection)))
}

// Render turns a message into Block Kit blocks and the fallback text
// Slack shows in notifications. Every user text is escaped; long parts are
// cut with a line saying what was left out and where to find it.
func Render(m bot.Message) ([]slack.Block, string) {
	var blocks []slack.Block
	fallback := ""
	if m.Text != "" {
		lines := strings.Split(escape(m.Text), "\n")
		for _, s := range pack(lines, textSections, maxSection, func(n int) string {
			return fmt.Sprintf("_… %d more lines not shown: the answer is too long for one Slack message_", n)
		}) {
			blocks = append(blocks, section(s))
		}
		fallback = strings.SplitN(m.Text, "\n", 2)[0]
	}
	if len(m.Fields) > 0 {
		lines := make([]string, len(m.Fields))
		for i, f := range m.Fields {
			lines[i] = "*" + escape(f.Label) + ":* " + escape(f.Value)
		}
		for _, s := range pack(lines, 1, maxSection, func(n int) string {
			return fmt.Sprintf("_… %d more fields not shown_", n)
		}) {
			blocks = append(blocks, section(s))
		}
	}
	if m.Run != nil {
		blocks = append(blocks, runBlocks(m.Run)...)
		fallback = m.Run.Title
	}
	if m.Pre != "" {
		lines := strings.Split(escape(m.Pre), "\n")
		for _, s := range pack(lines, preSections, maxSection-len(code("")), func(n int) string {
			return fmt.Sprintf("… %d more lines not shown: too long for one Slack message", n)
		}) {
			blocks = append(blocks, section(code(s)))
		}
		if fallback == "" {
			fallback = strings.SplitN(m.Pre, "\n", 2)[0]
		}
	}
	if b := buttons(m); b != nil {
		blocks = append(blocks, b)
	}
	if m.Footer != "" {
		blocks = append(blocks, contextLine(escape(m.Footer)))
	}
	if fallback == "" {
		fallback = "dayops"
	}
	// The fallback is mrkdwn too, and shows in notifications: escaped.
	return blocks, cut(escape(fallback), maxFallback)
}

// runBlocks is a run: its title (a link to the run page when there is one),
// who asked and with what, why it is where it is, its steps, the failing
// output, and the rollback.
func runBlocks(v *bot.RunView) []slack.Block {
	more := func(n int) string {
		if u := escape(v.URL); u != "" && len(u) < cutNoticeBytes-60 {
			return fmt.Sprintf("_… %d more steps on the <%s|run page>_", n, u)
		}
		return fmt.Sprintf("_… %d more steps on the run page_", n)
	}
	title := "*" + cut(escape(v.Title), maxSection/2) + "*"
	if u := escape(v.URL); u != "" && len(u) < maxSection/2 {
		// A link is whole or not at all: a cut URL leads nowhere.
		title = "*<" + u + "|" + cut(escape(v.Title), maxSection/4) + ">*"
	}
	blocks := []slack.Block{section(title)}
	var meta []string
	if v.Requester != "" {
		meta = append(meta, "asked by "+escape(v.Requester))
	}
	if v.Revision != "" {
		meta = append(meta, "revision `"+escape(v.Revision)+"`")
	}
	if v.Params != "" {
		meta = append(meta, escape(v.Params))
	}
	if d := bot.FormatDuration(v.Duration); d != "" {
		meta = append(meta, d)
	}
	if len(meta) > 0 {
		blocks = append(blocks, contextLine(strings.Join(meta, " · ")))
	}
	if v.Note != "" {
		blocks = append(blocks, section(cut(escape(v.Note), maxSection)))
	}
	if len(v.Steps) > 0 {
		var lines []string
		inRollback := false
		for _, s := range v.Steps {
			if s.Rollback && !inRollback {
				lines = append(lines, "*rollback:*")
				inRollback = true
			}
			lines = append(lines, stepLine(s))
		}
		for _, s := range pack(lines, stepSections, maxSection, more) {
			blocks = append(blocks, section(s))
		}
	}
	if len(v.Output) > 0 {
		lines := make([]string, len(v.Output))
		for i, l := range v.Output {
			lines[i] = escape(l)
		}
		head := "last output of *" + cut(escape(v.OutputStep), 200) + "*:\n"
		body := tail(lines, maxSection-len(head)-len(code("")), func(n int) string {
			return fmt.Sprintf("… %d earlier lines on the run page", n)
		})
		blocks = append(blocks, section(head+code(body)))
	}
	var foot []string
	if v.Rollback != dayops.RollbackNone {
		foot = append(foot, "rollback: "+strings.ReplaceAll(string(v.Rollback), "_", " "))
	}
	if u := escape(v.URL); u != "" && len(u) < maxSection/2 {
		foot = append(foot, "<"+u+"|Open the run page>")
	}
	if len(foot) > 0 {
		blocks = append(blocks, contextLine(strings.Join(foot, " · ")))
	}
	return blocks
}

// stepLine is one step: its state as a symbol, its name, its duration and,
// when it failed, why.
func stepLine(s bot.StepView) string {
	name := cut(escape(s.Name), maxStepName)
	line := bot.StepIcon(s.State) + " " + name
	if s.State == dayops.StepRunning || s.State == dayops.StepAwaitingApproval {
		line = bot.StepIcon(s.State) + " *" + name + "*"
	}
	if d := bot.FormatDuration(s.Duration); d != "" {
		line += "  `" + d + "`"
	}
	if s.Error != "" && (s.State == dayops.StepFailed || s.State == dayops.StepTimedOut) {
		line += "  — " + escape(dayops.Truncate(s.Error, bot.MaxErrorRunes))
	}
	return line
}

// buttons is the actions block of m, or nil. A button dayops does not know
// the action of is left out (and logged by the caller's tests): Slack would
// send back an action ID nothing answers.
func buttons(m bot.Message) slack.Block {
	var els []slack.BlockElement
	for i, b := range m.Buttons {
		id, ok := actionIDs[b.Action]
		if !ok || len(els) == maxButtons {
			continue
		}
		label := cut(b.Label, maxButtonLabel)
		btn := slack.NewButtonBlockElement(id, b.Value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
		// Action IDs must be unique in their block: two buttons of one kind
		// (two runs) get the index as a suffix, which intake strips.
		if i > 0 && hasAction(m.Buttons[:i], b.Action) {
			btn.ActionID = id + "." + strconv.Itoa(i)
		}
		switch b.Style {
		case bot.StylePrimary:
			btn = btn.WithStyle(slack.StylePrimary)
		case bot.StyleDanger:
			btn = btn.WithStyle(slack.StyleDanger)
		}
		els = append(els, btn)
	}
	if len(els) == 0 {
		return nil
	}
	return slack.NewActionBlock("dayops_actions", els...)
}

func hasAction(bs []bot.Button, action string) bool {
	for _, b := range bs {
		if b.Action == action {
			return true
		}
	}
	return false
}

// actionOf maps an action ID from a click back to the bot's action, or "".
func actionOf(actionID string) string {
	id, _, _ := strings.Cut(actionID, ".")
	for action, aid := range actionIDs {
		if aid == id {
			return action
		}
	}
	return ""
}
