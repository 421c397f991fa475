package executor

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/dayops/dayops"
)

// Phase gates: a run whose definition requires Day-0 work (requires:) is
// refused before anything runs while that work has not passed recently
// enough, unless someone granted override:PHASE:NAME[:ENV] overrides it
// with a reason. The executor decides this, in one place; doors only ask.

// maxOverrideReason bounds an override's reason.
const maxOverrideReason = 500

// gates says how each phase gate of a run of def in env stands, read from
// the store (nil: a Planner without a database, which cannot tell).
func (e *Executor) gates(ctx context.Context, cat *dayops.Catalog, def *dayops.Definition, env string) ([]dayops.GateStatus, error) {
	var out []dayops.GateStatus
	now := e.now()
	for _, r := range def.Requirements(env) {
		g := dayops.GateStatus{Requirement: r, Environment: r.Environment}
		if g.Environment == "" {
			// The run's own environment, when the required definition
			// takes one (validation made sure it does).
			if req, ok := cat.Lookup(r.Definition); ok && len(req.Environments) > 0 {
				g.Environment = env
			}
		}
		g.Command = strings.TrimSpace("run " + r.Definition + " " + g.Environment)
		if e.store != nil {
			last, err := e.store.LastSucceeded(ctx, r.Definition, g.Environment, 0)
			if err != nil {
				return nil, fmt.Errorf("checking the phase gate %s: %w", r.Definition, err)
			}
			if last != nil {
				g.RunID, g.PassedAt = last.ID, last.EndedAt
				g.Met = !last.EndedAt.After(now) && now.Sub(last.EndedAt) <= r.Within
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// addGates fills the plan's phase gates.
func (e *Executor) addGates(ctx context.Context, p *prepared) error {
	gs, err := e.gates(ctx, p.cat, p.def, p.req.Environment)
	if err != nil {
		return err
	}
	p.plan.Gates = gs
	p.plan.GatesUnknown = e.store == nil && len(gs) > 0
	return nil
}

// checkGates refuses a run whose phase gates are missing, unless its
// request overrides them with a reason and a role allows that; the
// decision is audited either way. An allowed override is recorded in the
// run's context (dayops.ContextGateOverride), so the run shows it.
func (e *Executor) checkGates(ctx context.Context, p *prepared) error {
	// A uses: step runs as part of a run that passed its own gates; a
	// rollback (rollback SERVICE ENV) redeploys what an earlier run, which
	// passed them, deployed: neither is held up by a gate.
	if p.req.ParentID != 0 || p.req.RollbackOf != 0 || len(p.def.Requirements(p.req.Environment)) == 0 {
		return nil
	}
	if err := e.addGates(ctx, p); err != nil {
		return err
	}
	missing := dayops.Missing(p.plan.Gates)
	if len(missing) == 0 {
		return nil
	}
	now := e.now()
	target := p.def.Name
	if p.req.Environment != "" {
		target += ":" + p.req.Environment
	}
	var lines []string
	var names []string
	for _, g := range missing {
		lines = append(lines, g.String(now))
		names = append(names, strings.TrimSpace(g.Definition+" "+g.Environment))
	}
	act := dayops.Action{Kind: dayops.ActOverride, Phase: p.def.Phase, Name: p.def.Name, Environment: p.req.Environment}
	audit := func(allowed bool, reason string) {
		ev := dayops.AuditEvent{Time: now, Actor: p.req.Actor.ID, Where: p.req.Thread.String(), Action: "gate",
			Target: target, Allowed: allowed, Reason: e.redactor.Redact(reason), Trigger: p.req.Trigger}
		if err := e.store.Audit(ctx, ev); err != nil {
			e.logger.Error("auditing a phase gate", "definition", p.def.Name, "err", err)
		}
	}
	reason := dayops.Truncate(strings.TrimSpace(cleanText(p.req.Override)), maxOverrideReason)
	if reason == "" {
		msg := fmt.Sprintf("%s cannot start: its phase gates are not met: %s. Run what is missing first; someone granted %s may start it anyway with override=\"REASON\"",
			strings.ReplaceAll(target, ":", " "), strings.Join(lines, "; "), act.Target())
		if p.req.Override != "" {
			msg = fmt.Sprintf("an override needs a reason: write override=\"why it cannot wait\" (the gates of %s: %s)", strings.ReplaceAll(target, ":", " "), strings.Join(lines, "; "))
		}
		audit(false, msg)
		return dayops.Errorf(dayops.KindConflict, "%s", msg)
	}
	v := e.opts.Policy.MayOverride(p.req.Actor, p.req.Thread, p.def, p.req.Environment)
	if !v.Allowed {
		msg := fmt.Sprintf("%s; it may not override the missing phase gates of %s (%s): run them first",
			v.Reason, strings.ReplaceAll(target, ":", " "), strings.Join(lines, "; "))
		audit(false, msg)
		return dayops.Errorf(dayops.KindForbidden, "%s", msg)
	}
	audit(true, fmt.Sprintf("override of %s: %s (%s)", strings.Join(names, ", "), reason, v.Reason))
	p.req.Context = maps.Clone(p.req.Context)
	if p.req.Context == nil {
		p.req.Context = map[string]string{}
	}
	p.req.Context[dayops.ContextGateOverride] = reason
	p.req.Context[dayops.ContextGateOverridden] = strings.Join(names, ", ")
	return nil
}
