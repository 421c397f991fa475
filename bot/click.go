package bot

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// The Run and Retry buttons. Both go through the pipeline as the person who
// clicked: authorised and audited again like typed text. A button whose
// moment has passed (its definition is gone, its run was retried already)
// answers the clicker why it no longer applies, and does nothing.

// retryable are the states a Retry button is offered in.
var retryable = map[dayops.RunState]bool{dayops.RunFailed: true, dayops.RunTimedOut: true, dayops.RunInterrupted: true}

// clickRun answers a Run button: the runbook's form, for the clicker to
// fill in and submit (SubmitForm).
func (b *Bot) clickRun(ctx context.Context, c Click) {
	name, env, _ := strings.Cut(c.Value, "|")
	name, env = strings.TrimSpace(name), strings.TrimSpace(env)
	if name == "" {
		b.log.Warn("run button without a definition", "value", c.Value, "actor", c.Actor.ID)
		b.post(ctx, c.Thread, Message{Text: "that Run button names no runbook; type the command instead", Private: true})
		return
	}
	if _, err := b.definition(name); err != nil {
		b.post(ctx, c.Thread, Message{Private: true, Text: b.redact(fmt.Sprintf(
			"this Run button no longer applies: %s. Nothing was started.", dayops.UserMessage(err, "")))})
		return
	}
	cmd := &commands.Command{Verb: commands.VerbRun, Name: name, Environment: env, Text: strings.TrimSpace("run " + name + " " + env)}
	b.dispatch(ctx, &call{actor: c.Actor, thread: c.Thread, cmd: cmd, trigger: dayops.TriggerButton, askForm: true})
}

// clickRetry answers a Retry button: the failed run's definition,
// environment and parameters again, asked for by the clicker.
func (b *Bot) clickRetry(ctx context.Context, c Click) {
	id, ok := parseRunID(c.Value)
	if !ok {
		b.log.Warn("retry button without a run", "value", c.Value, "actor", c.Actor.ID)
		b.post(ctx, c.Thread, Message{Text: "that Retry button names no run; type the command instead", Private: true})
		return
	}
	stale := func(format string, args ...any) {
		b.post(ctx, c.Thread, Message{Private: true, Text: b.redact(fmt.Sprintf("this Retry button no longer applies: "+format+". Nothing was started.", args...))})
	}
	run, err := b.store.Run(ctx, id)
	if err != nil {
		if dayops.KindOf(err) == dayops.KindNotFound {
			stale("run %d is not known", id)
			return
		}
		b.post(ctx, c.Thread, b.errorMessage(err, "", &call{actor: c.Actor, thread: c.Thread, cmd: &commands.Command{Verb: commands.VerbRun}}))
		return
	}
	if !retryable[run.State] {
		stale("run %d is %s, and only a failed run is retried", id, StateText(run.State))
		return
	}
	if _, err := b.definition(run.Definition); err != nil {
		stale("%s", dayops.UserMessage(err, ""))
		return
	}
	later, err := b.store.Runs(ctx, dayops.RunFilter{Definition: run.Definition, Environment: run.Environment, Limit: 1})
	if err == nil && len(later) > 0 && later[0].ID > run.ID {
		stale("run %d of %s came after it and is %s", later[0].ID, strings.TrimSpace(run.Definition+" "+run.Environment), StateText(later[0].State))
		return
	}
	cmd := &commands.Command{Verb: commands.VerbRun, Name: run.Definition, Environment: run.Environment, Params: maps.Clone(run.Params),
		Text: strings.TrimSpace(fmt.Sprintf("run %s %s %s", run.Definition, run.Environment, dayops.FormatParams(run.Params)))}
	// A run that got no secrets (a fork's pull request) is retried without
	// them too: its parameters came from the fork.
	b.Submit(ctx, Submission{Actor: c.Actor, Thread: c.Thread, Command: cmd, Trigger: dayops.TriggerButton, NoSecrets: run.NoSecrets()})
}
