package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// Alerts in: an Alertmanager notification, decoded by its door, is matched
// here against the Day-2 definitions' alert triggers (door-neutral, like
// incident channels). A group that starts firing is answered once, in a
// thread of its own: its runbooks offered, or with auto: true run (within
// the remediation guard) as trigger:alert. The same group firing again
// starts nothing; resolved, it is noted in its thread and a run of it still
// waiting for approval or in its queue is cancelled.

// LabelIncidentChannel is the alert label that names the incident channel
// an alert group is answered in, instead of slack.notify_channel.
const LabelIncidentChannel = "incident_channel"

// LabelEnvironment is the alert label that picks the environment of a
// runbook that declares several.
const LabelEnvironment = "environment"

// AlertNotice is one Alertmanager webhook notification (payload version 4)
// of one group.
type AlertNotice struct {
	Receiver          string
	Status            string // "firing" or "resolved"
	GroupKey          string
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	Alerts            []Alert
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string // "firing" or "resolved"
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	Fingerprint  string
}

// Alert statuses.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// AlertMatch is a Day-2 definition one of whose alert triggers matched a
// firing alert: Trigger is the index of that trigger, the first auto one
// when any is.
type AlertMatch struct {
	Definition *dayops.Definition
	Trigger    int
	Auto       bool
}

// MatchAlert returns the Day-2 definitions of cat whose alert triggers
// match a firing alert of alerts: the trigger's alertname is the alert's,
// and every label it names has the given value. A definition appears once.
func MatchAlert(cat *dayops.Catalog, alerts []Alert) []AlertMatch {
	if cat == nil {
		return nil
	}
	var out []AlertMatch
	for _, def := range cat.ByPhase(dayops.Day2) {
		m := AlertMatch{Definition: def, Trigger: -1}
		for i, tr := range def.Triggers.Alert {
			if !slices.ContainsFunc(alerts, func(a Alert) bool { return a.Status != AlertResolved && alertMatches(tr, a) }) {
				continue
			}
			if m.Trigger < 0 || tr.Auto && !m.Auto {
				m.Trigger, m.Auto = i, tr.Auto
			}
		}
		if m.Trigger >= 0 {
			out = append(out, m)
		}
	}
	return out
}

func alertMatches(tr dayops.AlertTrigger, a Alert) bool {
	if a.Labels["alertname"] != tr.AlertName {
		return false
	}
	for k, v := range tr.Labels {
		if a.Labels[k] != v {
			return false
		}
	}
	return true
}

// groupKey identifies n's group: Alertmanager's group key within its
// receiver.
func (n AlertNotice) groupKey() string { return n.Receiver + "|" + n.GroupKey }

// target is what the group's alerts act on, for the guard's cooldown: the
// labels Alertmanager grouped by, or the labels all its alerts share.
func (n AlertNotice) target() string {
	if len(n.GroupLabels) > 0 {
		return labelText(n.GroupLabels)
	}
	return labelText(n.CommonLabels)
}

// name is the group's alert name(s), for people.
func (n AlertNotice) name() string {
	if s := n.CommonLabels["alertname"]; s != "" {
		return s
	}
	var names []string
	for _, a := range n.Alerts {
		if s := a.Labels["alertname"]; s != "" && !slices.Contains(names, s) {
			names = append(names, s)
		}
	}
	return strings.Join(names, ", ")
}

// Alert answers one notification. It returns an error only when what it
// must remember could not be read or written: the door then answers with
// a server error, so that Alertmanager sends the notification again.
func (b *Bot) Alert(ctx context.Context, n AlertNotice) error {
	if n.GroupKey == "" {
		return dayops.Errorf(dayops.KindInvalid, "the notification has no groupKey")
	}
	if b.auto == nil {
		return dayops.Errorf(dayops.KindUnavailable, "dayops keeps no alert groups: it has no database for them")
	}
	if n.Status == AlertResolved {
		return b.alertResolved(ctx, n)
	}
	matches := MatchAlert(b.catalog(), n.Alerts)
	if len(matches) == 0 {
		b.log.Info("alert matches no trigger", "alertname", n.name(), "group_key", n.GroupKey)
		return nil
	}
	thread := b.alertThread(n)
	if thread.Door == "" {
		b.log.Warn("alert matches but has nowhere to be answered: set slack.notify_channel or the incident_channel label",
			"alertname", n.name(), "group_key", n.GroupKey)
		return nil
	}
	var seen []dayops.AlertInstance
	for _, a := range n.Alerts {
		if a.Status != AlertResolved {
			seen = append(seen, dayops.AlertInstance{Fingerprint: a.Fingerprint, StartsAt: a.StartsAt})
		}
	}
	opened, err := b.auto.OpenAlertGroup(ctx, n.groupKey(), seen)
	if err != nil || !opened {
		return err
	}
	if id := b.post(ctx, thread, b.alertHead(n)); id != "" && thread.ID == "" {
		thread.ID = id
	}
	// The thread is recorded before anything runs, and the run as soon as
	// it starts: a resolution arriving meanwhile finds both.
	if err := b.auto.SetAlertGroup(ctx, n.groupKey(), thread, 0); err != nil {
		return err
	}
	var offered []*dayops.Definition
	var notes []string
	recorded := false
	for _, m := range matches {
		if !m.Auto {
			offered = append(offered, m.Definition)
			continue
		}
		note := b.autoAlertRun(ctx, n, m, thread, func(r *dayops.Run) {
			if recorded {
				return
			}
			recorded = true
			if err := b.auto.SetAlertGroup(ctx, n.groupKey(), thread, r.ID); err != nil {
				b.log.Error("recording the run of an alert group", "group_key", n.GroupKey, "run_id", r.ID, "err", err)
			}
		})
		if note != "" {
			offered = append(offered, m.Definition)
			notes = append(notes, note)
		}
	}
	if len(offered) > 0 {
		m := b.offer("Runbooks for this alert:", offered)
		if len(notes) > 0 {
			m.Footer = strings.Join(notes, "\n")
		}
		b.send(ctx, thread, m, 0)
	}
	return nil
}

// autoAlertRun runs m's definition for n as trigger:alert, telling started
// of its run, unless the roles or the guard say no: then it returns why, for
// the offer (or "" when the guard already said so in the thread).
func (b *Bot) autoAlertRun(ctx context.Context, n AlertNotice, m AlertMatch, t dayops.Thread, started func(*dayops.Run)) string {
	def, tr := m.Definition, m.Definition.Triggers.Alert[m.Trigger]
	env, why := b.autoTarget(def, t, dayops.TriggerAlert, n.CommonLabels[LabelEnvironment])
	if why != "" {
		return def.Name + " was not run automatically: " + why
	}
	why, err := b.guard(ctx, guarded{kind: dayops.TriggerAlert, where: t, trigger: def.Name + "/alert/" + strconv.Itoa(m.Trigger), def: def, target: n.target(),
		cooldown: tr.Cooldown, budget: tr.Budget})
	if err != nil {
		b.log.Error("guarding an automatic alert run", "definition", def.Name, "err", err)
		return def.Name + " was not run automatically: dayops could not count its automatic runs"
	}
	if why != "" {
		b.send(ctx, t, b.tripped(def, n.target(), why), 0)
		return ""
	}
	cmd := &commands.Command{Verb: commands.VerbRun, Name: def.Name, Environment: env, Params: map[string]string{}}
	for _, p := range def.Params {
		if v, ok := n.CommonLabels[p.Name]; ok {
			cmd.Params[p.Name] = v
		}
	}
	cmd.Text = strings.TrimSpace("run " + def.Name + " " + env)
	ctxVals := map[string]string{dayops.ContextAlertName: n.name()}
	for k, v := range n.CommonLabels {
		ctxVals[dayops.ContextAlertLabel+k] = v
	}
	b.submit(ctx, Submission{Thread: t, Trigger: dayops.TriggerAlert, Context: ctxVals, Command: cmd}, started)
	return ""
}

// alertThread is where n is answered: the incident channel its label
// names, else the notify channel.
func (b *Bot) alertThread(n AlertNotice) dayops.Thread {
	t := b.notify
	if ch := n.CommonLabels[LabelIncidentChannel]; ch != "" && b.notify.Door != "" {
		t = dayops.Thread{Door: b.notify.Door, Channel: ch, Name: strings.TrimPrefix(ch, "#")}
	}
	t.Message = ""
	return t
}

// alertHead opens the thread of a firing group.
func (b *Bot) alertHead(n AlertNotice) Message {
	firing := 0
	for _, a := range n.Alerts {
		if a.Status != AlertResolved {
			firing++
		}
	}
	text := fmt.Sprintf("Alert firing: %s (%d alert", n.name(), firing)
	if firing != 1 {
		text += "s"
	}
	text += ")"
	if t := n.target(); t != "" {
		text += " — " + t
	}
	m := Message{Text: text}
	for _, k := range []string{"summary", "description"} {
		if v := n.CommonAnnotations[k]; v != "" {
			m.Fields = append(m.Fields, Field{Label: k, Value: dayops.Truncate(v, 500)})
		}
	}
	return m
}

// alertResolved notes a resolved group in its thread and cancels its run
// if it has not started yet.
func (b *Bot) alertResolved(ctx context.Context, n AlertNotice) error {
	g, err := b.auto.ResolveAlertGroup(ctx, n.groupKey())
	if dayops.KindOf(err) == dayops.KindNotFound {
		return nil // never answered firing: nothing to say
	}
	if err != nil || !g.Open {
		return err
	}
	text := "Alert resolved: " + n.name()
	if g.RunID != 0 {
		text += " " + b.withdrawRun(ctx, g.RunID, n.name())
	}
	if g.Thread.Door != "" {
		b.send(ctx, g.Thread, Message{Text: text}, 0)
	}
	return nil
}

// withdrawer is an engine that cancels a run still waiting for approval
// or in its queue, and never one that runs (executor.Withdraw).
type withdrawer interface {
	Withdraw(ctx context.Context, id int64, who dayops.Actor, note string) (bool, error)
}

// handedOn reports whether err says that the engine handed a supersede or
// withdraw on to the dayops replica that drives the run (the executor's
// HandedOnError), which applies it if the run still waits: neither a fault
// nor a refusal.
func handedOn(err error) bool {
	var h interface{ HandedOn() bool }
	return errors.As(err, &h) && h.HandedOn()
}

// withdrawRun cancels run id if it has not started, and says what became of it.
func (b *Bot) withdrawRun(ctx context.Context, id int64, name string) string {
	note := "the alert " + name + " resolved before the run started"
	who := dayops.TriggerActor(dayops.TriggerAlert)
	var ok bool
	var err error
	if w, is := b.engine.(withdrawer); is {
		ok, err = w.Withdraw(ctx, id, who, note)
	} else {
		ok, err = b.engine.Supersede(ctx, id, who, note)
	}
	if handedOn(err) {
		return fmt.Sprintf("— run %d is driven by another dayops replica, which cancels it if it still has not started.", id)
	}
	if err != nil {
		b.log.Error("cancelling the run of a resolved alert", "run_id", id, "err", err)
	}
	if ok {
		return fmt.Sprintf("— run %d had not started and is cancelled.", id)
	}
	if r, err := b.store.Run(ctx, id); err == nil && !r.State.Final() {
		return fmt.Sprintf("— run %d has started and goes on.", id)
	} else if err != nil && !errors.Is(err, context.Canceled) && dayops.KindOf(err) != dayops.KindNotFound {
		b.log.Error("reading the run of a resolved alert", "run_id", id, "err", err)
	}
	return ""
}
