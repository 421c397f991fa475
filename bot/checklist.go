package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// Readiness reviews and phase gates as the conversation shows them. The
// executor decides (who may answer, whether a gate is met or may be
// overridden); the bot asks it and shows the answers.

// The checklist buttons: Value is "RUN:QUESTION".
const (
	ActionAnswerYes = "answer_yes"
	ActionAnswerNo  = "answer_no"
)

// answer answers a checklist question: typed, or a Yes / No button.
func (b *Bot) answer(ctx context.Context, c *call) (*Message, error) {
	a, err := b.engine.Answer(ctx, c.cmd.RunID, c.cmd.Question, c.cmd.Answer == dayops.AnswerYes, c.cmd.Reason, c.actor, c.thread)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s answered %s to question %d of run %d", c.actor, a.Answer, a.Question, a.RunID)
	if a.Text != "" {
		text += " (" + dayops.Truncate(a.Text, 120) + ")"
	}
	if a.Note != "" {
		text += ": " + a.Note
	}
	return &Message{Text: b.redact(text)}, nil
}

// clickAnswer answers a Yes or No button of a checklist question as the
// typed command would: "answer RUN QUESTION yes|no".
func (b *Bot) clickAnswer(ctx context.Context, c Click) {
	run, q, _ := strings.Cut(c.Value, ":")
	id, okRun := parseRunID(run)
	n, err := strconv.Atoi(q)
	if !okRun || err != nil || n < 1 {
		b.log.Warn("answer button without a run and question", "value", c.Value, "actor", c.Actor.ID)
		b.post(ctx, c.Thread, Message{Text: "that answer button names no question; type answer RUN QUESTION yes|no instead", Private: true})
		return
	}
	ans := dayops.AnswerYes
	if c.Action == ActionAnswerNo {
		ans = dayops.AnswerNo
	}
	cmd := &commands.Command{Verb: commands.VerbAnswer, RunID: id, Question: n, Answer: ans,
		Text: fmt.Sprintf("answer %d %d %s", id, n, ans)}
	b.Submit(ctx, Submission{Actor: c.Actor, Thread: c.Thread, Command: cmd, Trigger: dayops.TriggerButton})
}

// checklistStep is the checklist step run r waits at, or nil.
func checklistStep(r *dayops.Run) *dayops.StepRun {
	if r.State != dayops.RunAwaitingApproval {
		return nil
	}
	for i := range r.Steps {
		if s := &r.Steps[i]; s.Kind == dayops.StepKindChecklist && s.State == dayops.StepAwaitingApproval {
			return s
		}
	}
	return nil
}

// checklistView is what a run waiting at a checklist adds to its message:
// each question with its answer so far, and a Yes and a No button for each
// question still open.
func (b *Bot) checklistView(ctx context.Context, r *dayops.Run, step *dayops.StepRun) (string, []Button) {
	answers, err := b.store.Checklist(ctx, r.ID)
	if err != nil {
		b.log.Warn("reading a checklist", "run_id", r.ID, "err", err)
		return "", nil
	}
	lines := []string{fmt.Sprintf("%s — answer each question yes or no (answer %d QUESTION yes|no [note]):", step.Name, r.ID)}
	var buttons []Button
	for _, a := range answers {
		if a.Step != step.Index {
			continue
		}
		line := fmt.Sprintf("%d. %s", a.Question, a.Text)
		switch a.Answer {
		case "":
			line += " — waiting"
			v := fmt.Sprintf("%d:%d", r.ID, a.Question)
			buttons = append(buttons,
				Button{Label: fmt.Sprintf("%d: Yes", a.Question), Action: ActionAnswerYes, Value: v, Style: StylePrimary},
				Button{Label: fmt.Sprintf("%d: No", a.Question), Action: ActionAnswerNo, Value: v, Style: StyleDanger})
		default:
			line += fmt.Sprintf(" — %s (%s)", a.Answer, a.Actor)
			if a.Note != "" {
				line += ": " + a.Note
			}
		}
		lines = append(lines, dayops.Truncate(line, 300))
	}
	return b.redact(strings.Join(lines, "\n")), buttons
}

// overrideNote says that a run started past missing phase gates, or "".
func overrideNote(r *dayops.Run) string {
	reason, gates := r.GateOverride()
	if reason == "" {
		return ""
	}
	return fmt.Sprintf("phase gates overridden by %s (%s missing): %s", r.Actor, gates, reason)
}

// gatesField renders a plan's phase gates, one a line, with the command
// that would meet a missing one.
func (b *Bot) gatesField(p *dayops.Plan) string {
	var lines []string
	now := b.now()
	for _, g := range p.Gates {
		if g.Command != "" {
			g.Command = b.prefix + " " + g.Command
		}
		lines = append(lines, g.String(now))
	}
	if len(dayops.Missing(p.Gates)) > 0 {
		lines = append(lines, `a run would be refused; a role granted override may add override="REASON"`)
	}
	return strings.Join(lines, "\n")
}
