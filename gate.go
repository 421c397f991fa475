package dayops

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Requirement is a phase gate (requires:): Day-0 work that must have passed
// before a run of the definition may start.
type Requirement struct {
	Definition  string        // a day0 definition of the catalog
	Within      time.Duration // how recent its successful run must be
	Environment string        // "": the run's own environment
	Line        int           // in the source file, for messages
}

// Requirements are the gates of a run of d in env: the definition's, then
// the environment's.
func (d *Definition) Requirements(env string) []Requirement {
	out := slices.Clone(d.Requires)
	if e, ok := d.Environment(env); ok {
		out = append(out, e.Requires...)
	}
	return out
}

// GateStatus is one phase gate of a plan: met by a run, or missing.
type GateStatus struct {
	Requirement
	Environment string // the environment the required run must have had
	Met         bool
	RunID       int64     // the run that meets it, or the last one that passed (expired)
	PassedAt    time.Time // when that run ended
	Command     string    // missing: the chat command that would meet it
}

// String says how the gate stands, for plans and refusals:
// "preflight production within 24h: met by run 12, 2h ago" or
// "… missing: run preflight production".
func (g GateStatus) String(now time.Time) string {
	what := g.Definition
	if g.Environment != "" {
		what += " " + g.Environment
	}
	what += " within " + FormatWithin(g.Within)
	switch {
	case g.Met:
		return fmt.Sprintf("%s: met by run %d, passed %s ago", what, g.RunID, FormatWithin(now.Sub(g.PassedAt).Round(time.Minute)))
	case g.RunID != 0:
		return fmt.Sprintf("%s: missing (run %d passed %s ago, which is too long): %s", what, g.RunID, FormatWithin(now.Sub(g.PassedAt).Round(time.Minute)), g.Command)
	}
	return fmt.Sprintf("%s: missing: %s", what, g.Command)
}

// FormatWithin writes a duration as a definition would: 24h, 90m, 1h30m.
func FormatWithin(d time.Duration) string {
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	return strings.Replace(s, "h0m", "h", 1)
}

// Missing returns the gates that are not met.
func Missing(gates []GateStatus) []GateStatus {
	var out []GateStatus
	for _, g := range gates {
		if !g.Met {
			out = append(out, g)
		}
	}
	return out
}

// ContextGateOverride is the Run.Context key of an overridden phase gate's
// reason; ContextGateOverridden names the gates it overrode.
const (
	ContextGateOverride   = "gate.override"
	ContextGateOverridden = "gate.overridden"
)

// GateOverride returns the reason a run overrode missing phase gates with,
// and which, or "" when it did not.
func (r *Run) GateOverride() (reason, gates string) {
	return r.Context[ContextGateOverride], r.Context[ContextGateOverridden]
}

// Checklist is a checklist step (checklist:): questions answered yes or no
// by people, each by a member of one of From.
type Checklist struct {
	From      []string // roles whose members may answer
	Others    bool     // the requester may not answer
	Questions []string
}

// The answers to a checklist question.
const (
	AnswerYes = "yes"
	AnswerNo  = "no"
)

// Answer is one question of a checklist step of a run, and its answer once
// given ("" until then).
type Answer struct {
	RunID      int64
	Step       int // StepRun.Index
	Question   int // 1-based, as people number them
	Text       string
	Answer     string // "", AnswerYes or AnswerNo
	Note       string
	Actor      Actor
	AnsweredAt time.Time
}

// MayAnswer decides whether a may answer a question of run's checklist c:
// a member of one of c.From, and not the requester when c.Others.
func (p Policy) MayAnswer(a Actor, run *Run, c Checklist) Verdict {
	if c.Others && run.Actor.ID != "" && a.ID == run.Actor.ID {
		return Verdict{Reason: fmt.Sprintf("%s requested run %d, and its checklist must be answered by someone else", a, run.ID)}
	}
	var have []string
	for _, r := range p.RolesOf(a) {
		if slices.Contains(c.From, r) {
			have = append(have, r)
		}
	}
	if len(have) == 0 {
		return Verdict{Reason: fmt.Sprintf("%s cannot answer the checklist of run %d: answers must come from role %s", a, run.ID, strings.Join(c.From, " or "))}
	}
	return Verdict{Allowed: true, Reason: "role " + strings.Join(have, ", ") + " may answer", Roles: have}
}

// MayOverride decides whether a may override the missing phase gates of a
// run of def in env: a role granting "override:PHASE:NAME[:ENV]" (or "*").
func (p Policy) MayOverride(a Actor, where Thread, def *Definition, env string) Verdict {
	return p.Authorize(a, where, Action{Kind: ActOverride, Phase: def.Phase, Name: def.Name, Environment: env})
}
