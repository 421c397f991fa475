package bot

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
)

// logPage is how many log lines one Store.Logs call reads when looking for
// the end of a step's output; maxLogPages bounds the search.
const (
	logPage     = 1000
	maxLogPages = 200
)

// maxReasonRunes bounds the reason a run message quotes.
const maxReasonRunes = 200

// runMessage renders a run as stored: its view, the last output lines of a
// step that failed it, and the buttons that fit its state.
func (b *Bot) runMessage(ctx context.Context, r *dayops.Run) Message {
	v := b.runView(r)
	if failed := failingStep(r); failed != nil {
		for _, l := range b.tailFromStore(ctx, r.ID, failed.Index) {
			v.Output = append(v.Output, b.redact(l))
		}
		v.OutputStep = failed.Name
	}
	buttons := runButtons(r)
	if step := checklistStep(r); step != nil {
		note, answers := b.checklistView(ctx, r, step)
		if note != "" {
			v.Note = note
		}
		buttons = append(answers, Button{Label: "Cancel run " + strconv.FormatInt(r.ID, 10), Action: ActionCancel, Value: strconv.FormatInt(r.ID, 10), Style: StyleDanger})
	}
	if o := overrideNote(r); o != "" {
		v.Note = strings.TrimPrefix(v.Note+"\n"+b.redact(o), "\n")
	}
	return Message{Run: v, Buttons: buttons}
}

// runView is the door-neutral view of a run.
func (b *Bot) runView(r *dayops.Run) *RunView {
	title := fmt.Sprintf("Run #%d %s", r.ID, r.Definition)
	if r.Environment != "" {
		title += " " + r.Environment
	}
	title += " — " + StateText(r.State)
	v := &RunView{
		ID:          r.ID,
		Title:       b.redact(title),
		Definition:  r.Definition,
		Environment: r.Environment,
		State:       r.State,
		Rollback:    r.Rollback,
		Requester:   b.redact(r.Actor.String()),
		Revision:    dayops.ShortRevision(r.Revision),
		Params:      b.redact(dayops.FormatParams(r.Params)),
		Duration:    r.Duration(b.now()),
	}
	var notes []string
	if r.RollbackOf != 0 {
		notes = append(notes, fmt.Sprintf("rolls back run %d", r.RollbackOf))
	}
	switch {
	case r.State == dayops.RunAwaitingApproval && r.Reason != "":
		notes = append(notes, b.redact(dayops.Truncate(r.Reason, maxReasonRunes)), fmt.Sprintf("approve %d or deny %d", r.ID, r.ID))
	case r.State == dayops.RunAwaitingApproval:
		notes = append(notes, fmt.Sprintf("waiting for approval (not %s, who asked): approve %d or deny %d", r.Actor.String(), r.ID, r.ID))
	case r.State == dayops.RunQueued && r.Reason != "":
		// What it waits for: "queued behind run 12 (deploy-web, running), …".
		notes = append(notes, b.redact(dayops.Truncate(r.Reason, maxReasonRunes)))
	case r.Reason != "" && r.State.Final():
		// Only an ended run's reason is sure to be current: a reason stays
		// recorded while the run moves on through states that set none.
		notes = append(notes, b.redact(dayops.Truncate(r.Reason, maxReasonRunes)))
	}
	v.Note = strings.Join(notes, "; ")
	now := b.now()
	for _, s := range r.Steps {
		sv := StepView{Index: s.Index, Name: b.redact(s.Name), State: s.State, Rollback: s.Rollback, Error: b.redact(s.Error)}
		switch {
		case s.StartedAt.IsZero():
		case s.EndedAt.IsZero():
			sv.Duration = now.Sub(s.StartedAt)
		default:
			sv.Duration = s.EndedAt.Sub(s.StartedAt)
		}
		v.Steps = append(v.Steps, sv)
	}
	v.URL = b.RunURL(r.ID)
	if def, ok := b.catalog().Lookup(r.Definition); ok && r.Environment != "" {
		// The current definition's: an environment's address seldom
		// changes between revisions, and a message never reads git.
		if env, ok := def.Environment(r.Environment); ok {
			v.EnvironmentURL = env.URL
		}
	}
	return v
}

// RunURL is the link to run id's page that messages carry: Options.RunURL's
// signed one, else BaseURL/runs/ID, "" without a base URL. A door that links
// a run outside a message (a check run, a deployment status) uses it too.
func (b *Bot) RunURL(id int64) string {
	switch {
	case b.runURL != nil:
		return b.runURL(id)
	case b.baseURL != "":
		return b.baseURL + "/runs/" + strconv.FormatInt(id, 10)
	}
	return ""
}

// runButtons are the actions a run's state allows.
func runButtons(r *dayops.Run) []Button {
	id := strconv.FormatInt(r.ID, 10)
	switch r.State {
	case dayops.RunAwaitingApproval:
		return []Button{
			{Label: "Approve run " + id, Action: ActionApprove, Value: id, Style: StylePrimary},
			{Label: "Deny", Action: ActionDeny, Value: id, Style: StyleDanger},
		}
	case dayops.RunRunning, dayops.RunQueued, dayops.RunPending:
		return []Button{{Label: "Cancel run " + id, Action: ActionCancel, Value: id, Style: StyleDanger}}
	case dayops.RunFailed, dayops.RunTimedOut, dayops.RunInterrupted:
		return []Button{{Label: "Retry run " + id, Action: ActionRetry, Value: id}, {Label: "Full output", Action: ActionOutput, Value: id}}
	}
	return nil
}

// failingStep is the first main step that failed or timed out, for a run
// that ended badly.
func failingStep(r *dayops.Run) *dayops.StepRun {
	if !r.State.Final() || r.State == dayops.RunSucceeded {
		return nil
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		if !s.Rollback && (s.State == dayops.StepFailed || s.State == dayops.StepTimedOut) {
			return s
		}
	}
	return nil
}

// tailFromStore reads the last output lines of one step from the store.
func (b *Bot) tailFromStore(ctx context.Context, runID int64, step int) []string {
	var tail []string
	var after int64
	for range maxLogPages {
		lines, err := b.store.Logs(ctx, runID, after, logPage)
		if err != nil {
			b.log.Warn("reading run output", "run_id", runID, "err", err)
			return tail
		}
		for _, l := range lines {
			if l.Step == step {
				tail = append(tail, dayops.Truncate(l.Text, maxLineRunes))
			}
		}
		if len(tail) > MaxOutputLines {
			tail = slices.Clone(tail[len(tail)-MaxOutputLines:])
		}
		if len(lines) < logPage {
			break
		}
		after = lines[len(lines)-1].Seq
	}
	return tail
}
