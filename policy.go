package dayops

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Role is a named set of members and what they may do. Members are written as
// "slack:U012ABC", "slack-group:S0SRE", "github:alice", "console:alice".
type Role struct {
	Name    string
	Members []string
	Allow   []string // "PHASE:NAME[:ENV]" globs, "read", or "*"
}

// ChannelRule restricts what may be run in channels whose name matches.
type ChannelRule struct {
	Pattern *regexp.Regexp
	Allow   []string
}

// Policy is the server's roles and channel rules. Nobody may do anything that
// no role grants; a channel rule can only narrow what its channels allow.
type Policy struct {
	Roles    []Role
	Channels []ChannelRule
}

// ActionKind is what an actor wants to do.
type ActionKind string

// The action kinds.
const (
	ActRead    ActionKind = "read"    // list, describe, plan, status, history, stats, sync
	ActRun     ActionKind = "run"     // start a run (run, deploy, rollback, triggers)
	ActApprove ActionKind = "approve" // approve a gate
	ActDeny    ActionKind = "deny"    // deny a gate
	ActCancel  ActionKind = "cancel"  // cancel a run
	ActLock    ActionKind = "lock"    // freeze an environment: granted by "lock:ENV"
	ActUnlock  ActionKind = "unlock"  // lift a freeze: granted by "unlock:ENV"
	// ActOverride starts a run whose phase gates are missing: granted by
	// "override:PHASE:NAME[:ENV]".
	ActOverride ActionKind = "override"
)

// Action is a request to be authorised.
type Action struct {
	Kind        ActionKind
	Phase       Phase
	Name        string // definition name
	Environment string
}

// Target renders the action as a pattern target, "day1:deploy-web:staging",
// or for a freeze "lock:staging" / "unlock:staging".
func (a Action) Target() string {
	if a.Kind == ActLock || a.Kind == ActUnlock {
		return string(a.Kind) + ":" + a.Environment
	}
	t := string(a.Phase) + ":" + a.Name
	if a.Environment != "" {
		t += ":" + a.Environment
	}
	if a.Kind == ActOverride {
		t = string(ActOverride) + ":" + t
	}
	return t
}

// Verdict is the outcome of an authorisation.
type Verdict struct {
	Allowed bool
	Reason  string   // why, for users and the audit log
	Roles   []string // the roles that granted it
	Kind    Kind     // of a refusal: KindForbidden, or KindConflict when it was done already
}

// Err is the refusal as an error (nil when allowed).
func (v Verdict) Err() error {
	if v.Allowed {
		return nil
	}
	k := v.Kind
	if k == "" {
		k = KindForbidden
	}
	return Errorf(k, "%s", v.Reason)
}

// RolesOf returns the names of the roles a has.
func (p Policy) RolesOf(a Actor) []string {
	var out []string
	for _, r := range p.Roles {
		if r.hasMember(a) {
			out = append(out, r.Name)
		}
	}
	return out
}

// HasRole reports whether a is a member of the named role.
func (p Policy) HasRole(a Actor, role string) bool {
	return slices.Contains(p.RolesOf(a), role)
}

// Members returns the members of the named roles, sorted and unique.
func (p Policy) Members(roles []string) []string {
	var out []string
	for _, r := range p.Roles {
		if slices.Contains(roles, r.Name) {
			out = append(out, r.Members...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (r Role) hasMember(a Actor) bool {
	for _, m := range r.Members {
		if m == a.ID || slices.Contains(a.Groups, m) {
			return true
		}
	}
	return false
}

// Authorize decides whether a may do act in the conversation where.
// Approve and cancel need the same grant as running the definition; freezing
// an environment and lifting a freeze are grants of their own, "lock:ENV" and
// "unlock:ENV" (globs), so that who may deploy need not be who may stop or
// restart deploys.
func (p Policy) Authorize(a Actor, where Thread, act Action) Verdict {
	if act.Kind == ActRead {
		for _, r := range p.Roles {
			if r.hasMember(a) && (slices.Contains(r.Allow, "read") || slices.Contains(r.Allow, "*")) {
				return Verdict{Allowed: true, Reason: "role " + r.Name + " allows read", Roles: []string{r.Name}}
			}
		}
		return Verdict{Reason: who(a) + " has no role that allows read"}
	}
	target := act.Target()
	for _, c := range p.Channels {
		if c.Pattern != nil && c.Pattern.MatchString(where.Name) && !matchAny(c.Allow, target) {
			return Verdict{Reason: "channel #" + where.Name + " allows only " + strings.Join(c.Allow, ", ")}
		}
	}
	var roles []string
	for _, r := range p.Roles {
		if r.hasMember(a) && matchAny(r.Allow, target) {
			roles = append(roles, r.Name)
		}
	}
	if len(roles) == 0 {
		what := string(act.Kind) + " " + target
		if act.Kind == ActLock || act.Kind == ActUnlock || act.Kind == ActOverride {
			what = target
		}
		return Verdict{Reason: who(a) + " has no role that allows " + what}
	}
	return Verdict{Allowed: true, Reason: "role " + strings.Join(roles, ", ") + " allows " + target, Roles: roles}
}

func who(a Actor) string {
	if a.Name != "" && a.Name != a.ID {
		return a.Name + " (" + a.ID + ")"
	}
	return a.ID
}

// matchAny matches target "phase:name[:env]" (or "lock:env", "unlock:env")
// against allow patterns. A freeze is granted only by patterns that name it:
// a phase glob never matches "lock" or "unlock".
func matchAny(patterns []string, target string) bool {
	// An override is granted only by "override:…" patterns (or "*"), which
	// grant nothing else.
	if rest, ok := strings.CutPrefix(target, string(ActOverride)+":"); ok {
		var grants []string
		for _, p := range patterns {
			if g, ok := strings.CutPrefix(p, string(ActOverride)+":"); ok {
				grants = append(grants, g)
			} else if p == "*" {
				grants = append(grants, p)
			}
		}
		return matchAny(grants, rest)
	}
	t := strings.SplitN(target, ":", 3)
	freeze := t[0] == string(ActLock) || t[0] == string(ActUnlock)
	for _, p := range patterns {
		if p == "*" {
			return true
		}
		if p == "read" || strings.HasPrefix(p, string(ActOverride)+":") {
			continue
		}
		parts := strings.SplitN(p, ":", 3)
		if len(parts) < 2 {
			parts = append(parts, "*")
		}
		if isFreeze := parts[0] == string(ActLock) || parts[0] == string(ActUnlock); isFreeze != freeze {
			continue
		}
		if !glob(parts[0], t[0]) || !glob(parts[1], t[1]) {
			continue
		}
		if len(parts) == 3 {
			env := ""
			if len(t) == 3 {
				env = t[2]
			}
			if !glob(parts[2], env) {
				continue
			}
		}
		return true
	}
	return false
}

func glob(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

// rolesAllowing are the roles whose grants allow act, whoever their members.
func (p Policy) rolesAllowing(act Action) []string {
	target := act.Target()
	var out []string
	for _, r := range p.Roles {
		if matchAny(r.Allow, target) {
			out = append(out, r.Name)
		}
	}
	return out
}

// ApproverRoles are the roles whose members may decide a gate with rule on
// def in env: the rule's roles, or else every role that may run it.
func (p Policy) ApproverRoles(def *Definition, env string, rule ApprovalRule) []string {
	if len(rule.From) > 0 {
		return slices.Clone(rule.From)
	}
	return p.rolesAllowing(Action{Kind: ActRun, Phase: def.Phase, Name: def.Name, Environment: env})
}

// Approvers are the members who may approve such a gate of a run requested by
// requester: the members of ApproverRoles, without the requester, who never
// counts.
func (p Policy) Approvers(def *Definition, env string, rule ApprovalRule, requester Actor) []string {
	members := p.Members(p.ApproverRoles(def, env, rule))
	return slices.DeleteFunc(members, func(m string) bool { return m == requester.ID })
}

// Gate is one approval gate of a run, at the run's pinned revision: what
// MayDecide and Tally need to know.
type Gate struct {
	Run  *Run        // the run as stored: its requester, environment and plan hash
	Def  *Definition // the definition at the run's revision
	Rule ApprovalRule
	// Prior are the gate's decisions recorded so far, oldest first.
	Prior []Approval
}

// MayActOnRun decides whether a may act on run in where: cancel it
// (ActCancel), approve (ActApprove) or deny (ActDeny) its gate. The requester
// may always cancel or deny — withdraw — their own run, and never approve
// it; anyone else needs a role whose grants allow act on the run's
// definition and environment (and, for a gate, one of the gate's roles:
// MayDecide).
//
// The author of the pull request a run came from (its pr.author context,
// as github:LOGIN) never approves it either: a change is not approved by
// whoever wrote it.
func (p Policy) MayActOnRun(a Actor, where Thread, run *Run, act ActionKind) Verdict {
	requester := run.Actor.ID != "" && a.ID == run.Actor.ID
	switch {
	case requester && act == ActApprove:
		return Verdict{Reason: fmt.Sprintf("%s requested run %d and cannot approve it: someone else must", a, run.ID)}
	case act == ActApprove && isPRAuthor(a.ID, run):
		return Verdict{Reason: fmt.Sprintf("%s wrote pull request %s#%s, which run %d deploys, and cannot approve it: someone else must",
			a, run.Context[contextPR+"repo"], run.Context[contextPR+"number"], run.ID)}
	case requester:
		return Verdict{Allowed: true, Reason: fmt.Sprintf("%s asked for run %d and may withdraw it", who(a), run.ID)}
	}
	kind := act
	if act == ActDeny {
		kind = ActApprove
	}
	return p.Authorize(a, where, Action{Kind: kind, Phase: run.Phase, Name: run.Definition, Environment: run.Environment})
}

// MayDecide says whether a may approve (or, with approve false, deny) the
// gate: MayActOnRun, then for anyone but a withdrawing requester one of
// ApproverRoles, and one person's approval counts once. The Verdict's
// Reason says why, for users and audit.
func (p Policy) MayDecide(a Actor, g Gate, approve bool) Verdict {
	act := ActApprove
	if !approve {
		act = ActDeny
	}
	requester := g.Run.Actor.ID != "" && a.ID == g.Run.Actor.ID
	if requester || (approve && isPRAuthor(a.ID, g.Run)) {
		return p.MayActOnRun(a, Thread{}, g.Run, act)
	}
	roles := p.ApproverRoles(g.Def, g.Run.Environment, g.Rule)
	var have []string
	for _, r := range p.RolesOf(a) {
		if slices.Contains(roles, r) {
			have = append(have, r)
		}
	}
	if len(have) == 0 {
		from := "a role that may run it (none does)"
		if len(roles) > 0 {
			from = "role " + strings.Join(roles, " or ")
		}
		if approve {
			return Verdict{Reason: fmt.Sprintf("%s cannot approve run %d: approvals must come from %s", a, g.Run.ID, from)}
		}
		return Verdict{Reason: fmt.Sprintf("%s cannot deny run %d: decisions must come from %s or the requester", a, g.Run.ID, from)}
	}
	if approve {
		counted, _ := p.Tally(g)
		for _, x := range g.Prior {
			if x.Approved && x.Valid && x.PlanHash == g.Run.PlanHash && x.Actor.ID == a.ID {
				return Verdict{Kind: KindConflict, Reason: fmt.Sprintf("%s already approved run %d: one person counts once (%d of %d approvals)", a, g.Run.ID, counted, g.need())}
			}
		}
	}
	return Verdict{Allowed: true, Reason: "role " + strings.Join(have, ", ") + " may decide", Roles: have}
}

// Tally counts the gate's approvals that count — valid, for the run's plan
// (its pinned revision and parameters) — and returns them with the number
// needed. Only this method counts approvals.
func (p Policy) Tally(g Gate) (have, need int) {
	seen := map[string]bool{}
	for _, x := range g.Prior {
		if x.Approved && x.Valid && x.PlanHash == g.Run.PlanHash && !seen[x.Actor.ID] && x.Actor.ID != g.Run.Actor.ID && !isPRAuthor(x.Actor.ID, g.Run) {
			seen[x.Actor.ID] = true
			have++
		}
	}
	return have, g.need()
}

func (g Gate) need() int { return max(g.Rule.Count, 1) }

// MayLift decides whether a may lift the freeze l of an environment in
// where: with an "unlock:ENV" grant, or when it is a's own freeze and a may
// still freeze that environment. The reason says whose freeze it is.
func (p Policy) MayLift(a Actor, where Thread, l EnvLock) Verdict {
	own := l.Actor.ID != "" && l.Actor.ID == a.ID
	v := p.Authorize(a, where, Action{Kind: ActUnlock, Environment: l.Environment})
	if !v.Allowed && own {
		if lv := p.Authorize(a, where, Action{Kind: ActLock, Environment: l.Environment}); lv.Allowed {
			lv.Reason = fmt.Sprintf("%s lifts their own freeze of %s (%s)", who(a), l.Environment, lv.Reason)
			return lv
		}
	}
	if !own {
		v.Reason += fmt.Sprintf("; the freeze of %s is %s's", l.Environment, l.Actor)
	}
	return v
}

// isPRAuthor reports whether id is the GitHub identity (github:LOGIN, any
// case, as logins are) of the author of the pull request run came from.
func isPRAuthor(id string, run *Run) bool {
	author := run.Context[contextPR+"author"]
	login, ok := strings.CutPrefix(id, "github:")
	return ok && author != "" && strings.EqualFold(login, author)
}
