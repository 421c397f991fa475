package github

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// MaxComment is the longest comment body GitHub takes (65,536 characters;
// counted here in bytes, which is never fewer).
const MaxComment = 65536

// cutNote ends a text that had to be cut.
const cutNote = "\n\n… (cut: too long for GitHub)"

// fit returns s cut, at a character boundary, to at most n bytes with a
// note saying so.
func fit(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= len(cutNote) {
		return cutRunes(s, n)
	}
	return cutRunes(s, n-len(cutNote)) + cutNote
}

// cutRunes is the longest prefix of s of at most n bytes that ends at a
// character boundary.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// escape makes text from the bot safe in Markdown outside code spans:
// mentions do not ping (@alice), HTML does not hide or forge anything (a
// "<!-- dayops:validate -->" marker), and brackets make no links. Inside
// `code spans` nothing is changed, as GitHub shows those as typed. Spans are
// found as GitHub finds them (CommonMark): a run of N backticks opens one
// only when a later run of exactly N closes it; any other backtick is
// escaped, so text quoted from a person (“ ` @org/team ``` “) can never
// end a span early and leave a live mention or tag outside it.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '`' {
			n := backticks(s[i:])
			if end := closingRun(s[i+n:], n); end >= 0 {
				b.WriteString(s[i : i+n+end+n]) // the whole span, as typed
				i += n + end + n
				continue
			}
			for range n {
				b.WriteString("\\`")
			}
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '@':
			b.WriteString("@&#8203;")
		case '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// backticks is the length of the run of backticks s starts with.
func backticks(s string) int {
	n := 0
	for n < len(s) && s[n] == '`' {
		n++
	}
	return n
}

// closingRun is where in s a run of exactly n backticks starts, or -1.
func closingRun(s string, n int) int {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		m := backticks(s[i:])
		if m == n {
			return i
		}
		i += m
	}
	return -1
}

// fence is text as a fenced code block, its fence longer than any run of
// backticks inside.
func fence(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", max(3, longest+1))
	return f + "\n" + strings.TrimRight(text, "\n") + "\n" + f
}

// buttonCommand is what to type in a comment for a button: "PREFIX approve
// 12"; "" for buttons with no command.
func buttonCommand(prefix string, b bot.Button) string {
	switch b.Action {
	case bot.ActionApprove, bot.ActionDeny, bot.ActionCancel:
		return prefix + " " + b.Action + " " + b.Value
	case bot.ActionRun:
		def, env, _ := strings.Cut(b.Value, "|")
		return strings.TrimSpace(prefix + " run " + def + " " + env)
	case bot.ActionAnswerYes, bot.ActionAnswerNo:
		// A readiness review's question: Value is "RUN:QUESTION".
		run, q, ok := strings.Cut(b.Value, ":")
		if !ok {
			return ""
		}
		answer := "yes"
		if b.Action == bot.ActionAnswerNo {
			answer = "no" // a note may follow
		}
		return prefix + " answer " + run + " " + q + " " + answer
	}
	return ""
}

// Render is m as a GitHub comment in Markdown, at most MaxComment bytes.
// Buttons become the commands to comment instead; a run keeps its link to
// the run page however much else has to be cut.
func Render(m bot.Message, prefix string) string {
	var parts []string
	if m.Text != "" {
		parts = append(parts, escape(m.Text))
	}
	if len(m.Fields) > 0 {
		lines := make([]string, len(m.Fields))
		for i, f := range m.Fields {
			lines[i] = "**" + escape(f.Label) + ":** " + escape(f.Value)
		}
		parts = append(parts, strings.Join(lines, "  \n"))
	}
	if m.Pre != "" {
		parts = append(parts, fence(m.Pre))
	}
	var after []string
	var cmds []string
	for _, b := range m.Buttons {
		if c := buttonCommand(prefix, b); c != "" {
			cmds = append(cmds, "`"+c+"` ("+escape(b.Label)+")")
		}
	}
	if len(cmds) > 0 {
		after = append(after, "Comment "+strings.Join(cmds, " or "))
	}
	if m.File != nil && m.File.Elsewhere != "" {
		after = append(after, "The whole text: `"+m.File.Elsewhere+"`")
	}
	if m.Footer != "" {
		after = append(after, "<sub>"+escape(m.Footer)+"</sub>")
	}
	if m.Run == nil {
		return fit(strings.Join(append(parts, after...), "\n\n"), MaxComment)
	}
	head := strings.Join(parts, "\n\n")
	if head != "" {
		head += "\n\n"
	}
	return renderRun(head, m.Run, fit(strings.Join(after, "\n\n"), MaxComment/8), MaxComment)
}

// runIcon is a run state as an emoji, for the title line.
func runIcon(s dayops.RunState) string {
	switch s {
	case dayops.RunSucceeded:
		return "✅"
	case dayops.RunFailed, dayops.RunTimedOut, dayops.RunInterrupted:
		return "❌"
	case dayops.RunCancelled, dayops.RunDenied:
		return "⛔"
	case dayops.RunRunning:
		return "▶️"
	case dayops.RunAwaitingApproval:
		return "⏸️"
	}
	return "⏳"
}

// renderRun renders v after head and before after (the commands to
// comment, the footer) within limit bytes: what has to go goes in this
// order — output lines (the oldest first), steps (the last first), then the
// text itself — and the run page link stays, last.
func renderRun(head string, v *bot.RunView, after string, limit int) string {
	var top []string
	top = append(top, "### "+runIcon(v.State)+" "+escape(dayops.Truncate(v.Title, 300)))
	var meta []string
	if v.Requester != "" {
		meta = append(meta, "asked by "+escape(v.Requester))
	}
	if v.Revision != "" {
		meta = append(meta, "revision `"+strings.ReplaceAll(v.Revision, "`", "")+"`")
	}
	if v.Params != "" {
		meta = append(meta, escape(dayops.Truncate(v.Params, 2000)))
	}
	if d := bot.FormatDuration(v.Duration); d != "" {
		meta = append(meta, d)
	}
	if len(meta) > 0 {
		top = append(top, strings.Join(meta, " · "))
	}
	if v.Note != "" {
		top = append(top, escape(dayops.Truncate(v.Note, 2000)))
	}
	var tail []string
	if v.Rollback != dayops.RollbackNone {
		tail = append(tail, "Rollback: "+strings.ReplaceAll(string(v.Rollback), "_", " "))
	}
	if after != "" {
		tail = append(tail, after)
	}
	for _, l := range v.Elsewhere {
		if l.Door != DoorName && strings.HasPrefix(l.URL, "https://") && len(l.URL) < 500 {
			tail = append(tail, "["+doorTitle(l.Door)+" thread]("+strings.ReplaceAll(l.URL, ")", "%29")+")")
		}
	}
	if v.URL != "" {
		tail = append(tail, "[Run page]("+strings.ReplaceAll(v.URL, ")", "%29")+")")
	}
	text := head + strings.Join(top, "\n\n")
	end := ""
	if len(tail) > 0 {
		end = "\n\n" + strings.Join(tail, "\n\n")
	}
	// The run's text never takes more than half; steps and output share
	// what is left.
	text = fit(text, limit/2)
	budget := limit - len(text) - len(end)

	steps := make([]string, 0, len(v.Steps))
	inRollback := false
	for _, s := range v.Steps {
		if s.Rollback && !inRollback {
			steps = append(steps, "- **rollback:**")
			inRollback = true
		}
		steps = append(steps, stepLine(s))
	}
	var out string
	if len(v.Output) > 0 {
		out = "\n\nLast output of " + escape(v.OutputStep) + ":\n\n"
		lines := v.Output
		for len(lines) > 0 && len(out)+len(fence(strings.Join(lines, "\n"))) > budget/2 {
			lines = lines[1:]
		}
		if len(lines) == 0 {
			out = ""
		} else {
			out += fence(strings.Join(lines, "\n"))
		}
	}
	budget -= len(out)
	var list string
	if len(steps) > 0 {
		list = "\n\n"
		for i, l := range steps {
			last := i == len(steps)-1
			more := fmt.Sprintf("- … %d more steps on the run page", len(steps)-i)
			if len(list)+len(l)+1 <= budget && (last || len(list)+len(l)+1+len(more) <= budget) {
				list += l + "\n"
				continue
			}
			list += more
			break
		}
		list = strings.TrimRight(list, "\n")
	}
	return text + list + out + end
}

// stepLine is one step as a Markdown list item.
func stepLine(s bot.StepView) string {
	line := "- " + bot.StepIcon(s.State) + " " + escape(dayops.Truncate(s.Name, 200)) + " — " + strings.ReplaceAll(string(s.State), "_", " ")
	if d := bot.FormatDuration(s.Duration); d != "" {
		line += " · " + d
	}
	if s.Error != "" && (s.State == dayops.StepFailed || s.State == dayops.StepTimedOut) {
		line += " (" + escape(dayops.Truncate(s.Error, bot.MaxErrorRunes)) + ")"
	}
	return line
}

// commentRef is "owner/name#12" of a thread, split.
func commentRef(t dayops.Thread) (repo string, number int, err error) {
	repo, number, ok := dayops.PRRef(t.Channel)
	if !ok {
		return "", 0, dayops.Errorf(dayops.KindInvalid, "github door: thread %q is not a pull request; its channel must be owner/name#NUMBER", t.Channel)
	}
	return repo, number, nil
}

// parseID reads a stored ID ("" is 0).
func parseID(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, dayops.Errorf(dayops.KindInvalid, "github door: stored id %q is not a GitHub id", s)
	}
	return id, nil
}

// doorTitle is a door's name as people write it: "Slack".
func doorTitle(door string) string {
	if door == "" {
		return "Chat"
	}
	return strings.ToUpper(door[:1]) + door[1:]
}
