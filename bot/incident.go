package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// Incident channels: the Day-2 runbooks whose incident triggers match a
// channel are offered there, and a message matching a trigger's match offers
// (or, with auto: true, runs) its runbook. This is door-neutral: a door says
// what the channel is called and what was said; the bot decides.

// IncidentChannel is an incident channel as a door knows it.
type IncidentChannel struct {
	Name    string
	Topic   string
	Purpose string
}

// IncidentMatch is a Day-2 definition one of whose incident triggers
// matched, and whether that trigger runs it without asking (auto: true).
type IncidentMatch struct {
	Definition *dayops.Definition
	Auto       bool
	Trigger    int // the index of the matching trigger, the first auto one when any is
}

// MatchIncident returns the Day-2 definitions of cat whose incident
// triggers match: the trigger's channel pattern against channel (no pattern
// matches every channel), and its match pattern against any of texts. A
// trigger without a match pattern matches when requireMatch is false (a new
// channel), never for a message (requireMatch true): a runbook is not
// offered on every word said. A definition appears once, auto when any of
// its matching triggers is.
func MatchIncident(cat *dayops.Catalog, channel string, requireMatch bool, texts ...string) []IncidentMatch {
	if cat == nil {
		return nil
	}
	var out []IncidentMatch
	for _, def := range cat.ByPhase(dayops.Day2) {
		found, auto, index := false, false, 0
		for i, tr := range def.Triggers.Incident {
			if tr.Channel != nil && !tr.Channel.MatchString(channel) {
				continue
			}
			ok := tr.Match == nil && !requireMatch
			for _, s := range texts {
				if tr.Match != nil && s != "" && tr.Match.MatchString(s) {
					ok = true
				}
			}
			if ok {
				if !found || tr.Auto && !auto {
					index = i
				}
				found, auto = true, auto || tr.Auto
			}
		}
		if found {
			out = append(out, IncidentMatch{Definition: def, Auto: auto, Trigger: index})
		}
	}
	return out
}

// IncidentChannelOpened offers, in the channel of t, the runbooks whose
// incident triggers match the channel ch: it was just created, renamed to
// an incident name, or dayops was invited. Nothing is posted when none
// matches.
func (b *Bot) IncidentChannelOpened(ctx context.Context, t dayops.Thread, ch IncidentChannel) {
	matches := MatchIncident(b.catalog(), ch.Name, false, ch.Name, ch.Topic, ch.Purpose)
	if len(matches) == 0 {
		return
	}
	defs := make([]*dayops.Definition, len(matches))
	for i, m := range matches {
		defs[i] = m.Definition
	}
	b.send(ctx, t, b.offer(fmt.Sprintf("Runbooks for #%s:", ch.Name), defs), 0)
}

// IncidentMessage answers a message said in the incident channel of t (t.ID
// the message's thread): each runbook whose trigger's match matches text is
// offered in that thread, or, when its trigger says auto and the roles
// allow trigger:incident to run it, run through Submit as the incident
// trigger, within the remediation guard: at most one automatic run of a
// runbook per channel within the trigger's cooldown, and at most its
// budget an hour. When the guard trips the thread is told, with a Run
// button.
func (b *Bot) IncidentMessage(ctx context.Context, t dayops.Thread, text string) {
	matches := MatchIncident(b.catalog(), t.Name, true, text)
	var offered []*dayops.Definition
	var notes []string
	for _, m := range matches {
		if !m.Auto {
			offered = append(offered, m.Definition)
			continue
		}
		env, why := b.autoTarget(m.Definition, t, dayops.TriggerIncident, "")
		if why != "" {
			offered = append(offered, m.Definition)
			notes = append(notes, m.Definition.Name+" was not run automatically: "+why)
			continue
		}
		tr := m.Definition.Triggers.Incident[m.Trigger]
		target := "#" + t.Name
		if t.Name == "" {
			target = t.Door + ":" + t.Channel
		}
		why, err := b.guard(ctx, guarded{kind: dayops.TriggerIncident, where: t, trigger: m.Definition.Name + "/incident/" + strconv.Itoa(m.Trigger), def: m.Definition,
			target: target, cooldown: tr.Cooldown, budget: tr.Budget})
		if err != nil {
			b.log.Error("guarding an automatic incident run", "channel", t.Channel, "definition", m.Definition.Name, "err", err)
			continue
		}
		if why != "" {
			b.send(ctx, t, b.tripped(m.Definition, target, why), 0)
			continue
		}
		text := "run " + m.Definition.Name
		if env != "" {
			text += " " + env
		}
		b.Submit(ctx, Submission{
			Thread: t, Trigger: dayops.TriggerIncident, Context: map[string]string{dayops.ContextIncident: t.Name},
			Command: &commands.Command{Verb: commands.VerbRun, Name: m.Definition.Name, Environment: env, Text: text},
		})
	}
	if len(offered) > 0 {
		m := b.offer("This looks like a job for:", offered)
		if len(notes) > 0 {
			m.Footer = strings.Join(notes, "\n")
		}
		b.send(ctx, t, m, 0)
	}
}

// autoTarget is the environment an automatic run of def by trigger takes
// ("" when def has none; with several, the one named by want), or why it
// cannot run automatically: an environment to choose, or roles that do not
// let the trigger's identity run it.
func (b *Bot) autoTarget(def *dayops.Definition, t dayops.Thread, trigger dayops.Trigger, want string) (env, why string) {
	switch {
	case len(def.Environments) == 0:
	case len(def.Environments) == 1:
		env = def.Environments[0].Name
	case want != "":
		if _, ok := def.Environment(want); !ok {
			return "", fmt.Sprintf("it has no environment %q, so someone must choose one", want)
		}
		env = want
	default:
		return "", "it has several environments, so someone must choose one"
	}
	v := b.policy.Authorize(dayops.TriggerActor(trigger), t,
		dayops.Action{Kind: dayops.ActRun, Phase: def.Phase, Name: def.Name, Environment: env})
	if !v.Allowed {
		return "", v.Reason
	}
	return env, ""
}

// offer is a message suggesting defs, with a Run button for each (one per
// environment when a definition has several).
func (b *Bot) offer(head string, defs []*dayops.Definition) Message {
	lines := []string{head}
	var buttons []Button
	for _, d := range defs {
		line := "• " + d.Name
		if d.Description != "" {
			line += " — " + d.Description
		}
		lines = append(lines, line)
		if len(d.Environments) == 0 {
			buttons = append(buttons, Button{Label: "Run " + d.Name, Action: ActionRun, Value: d.Name, Style: StylePrimary})
		}
		for _, e := range d.Environments {
			buttons = append(buttons, Button{Label: "Run " + d.Name + " " + e.Name, Action: ActionRun, Value: d.Name + "|" + e.Name})
		}
	}
	return Message{
		Text:    b.redact(strings.Join(lines, "\n")),
		Buttons: buttons,
		Footer:  "or type: " + b.prefix + " run NAME [ENV]",
	}
}
