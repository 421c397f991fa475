package bot

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// The remediation guard: automatic runs from alerts and incident channels
// have a cooldown per runbook and target and a budget of runs per hour per
// trigger. When it trips nothing runs; the thread is told what would have
// run and how often it already did, with a Run button for people. Every
// automatic run is a row (GuardAutoRun), so restarts and replicas count
// the same runs.

// AutomationStore keeps what automatic runs must remember across restarts
// and replicas: Alertmanager groups and the guard's runs. storage.Store
// implements it.
type AutomationStore interface {
	OpenAlertGroup(ctx context.Context, key string, alerts []dayops.AlertInstance) (bool, error)
	SetAlertGroup(ctx context.Context, key string, thread dayops.Thread, runID int64) error
	ResolveAlertGroup(ctx context.Context, key string) (*dayops.AlertGroup, error)
	GuardAutoRun(ctx context.Context, g dayops.GuardCheck) (dayops.GuardVerdict, error)
}

// guarded is one automatic run the guard is asked about.
type guarded struct {
	kind     dayops.Trigger // TriggerAlert or TriggerIncident
	where    dayops.Thread
	trigger  string // "DEFINITION/alert/N": the trigger whose budget counts
	def      *dayops.Definition
	target   string // what it acts on: the alert's identifying labels, an incident channel
	cooldown time.Duration
	budget   int
}

// guard asks the guard about g: "" when the run may start (it is then
// counted), else the reason for people.
func (b *Bot) guard(ctx context.Context, g guarded) (string, error) {
	if b.auto == nil {
		return "dayops has no database to count automatic runs in, so it runs nothing by itself", nil
	}
	if g.budget < 1 {
		g.budget = dayops.DefaultBudget
	}
	v, err := b.auto.GuardAutoRun(ctx, dayops.GuardCheck{Trigger: g.trigger, Definition: g.def.Name, Target: g.target,
		Cooldown: g.cooldown, Budget: g.budget, At: b.now()})
	if err != nil || v.Allowed {
		return "", err
	}
	b.log.Info("remediation guard tripped", "definition", g.def.Name, "target", g.target, "runs_in_hour", v.InHour, "reason", v.Reason)
	// Not running is a decision too: audited as the trigger's refusal.
	ev := dayops.AuditEvent{Time: b.now(), Actor: dayops.TriggerActor(g.kind).ID, Where: g.where.String(), Action: "guard",
		Target: dayops.Truncate(g.def.Name+" "+g.target, 200), Reason: "remediation guard: " + v.Reason, Trigger: g.kind}
	if err := b.store.Audit(ctx, ev); err != nil {
		return "", fmt.Errorf("auditing the remediation guard of %s: %w", g.def.Name, err)
	}
	return fmt.Sprintf("%s; this trigger ran it %s in the last hour (budget %d an hour, cooldown %s)",
		v.Reason, times(v.InHour), g.budget, g.cooldown), nil
}

// tripped is the message when the guard stops an automatic run of def:
// what would have run, why not, and a Run button for people.
func (b *Bot) tripped(def *dayops.Definition, target, why string) Message {
	head := "Not run automatically: " + def.Name
	if target != "" {
		head += " for " + target
	}
	m := b.offer(head+" — "+why+". Run it yourself if it should run again:", []*dayops.Definition{def})
	return m
}

// times is "once", "twice" or "N times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// labelText is labels as people read them: k=v, sorted, comma separated.
func labelText(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ", ")
}
