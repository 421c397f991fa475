package dayops

import (
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
	ActApprove ActionKind = "approve" // approve or deny a gate
	ActCancel  ActionKind = "cancel"  // cancel a run
	ActLock    ActionKind = "lock"    // lock or unlock an environment
)

// Action is a request to be authorised.
type Action struct {
	Kind        ActionKind
	Phase       Phase
	Name        string // definition name
	Environment string
}

// Target renders the action as a pattern target, "day1:deploy-web:staging".
func (a Action) Target() string {
	t := string(a.Phase) + ":" + a.Name
	if a.Environment != "" {
		t += ":" + a.Environment
	}
	return t
}

// Verdict is the outcome of an authorisation.
type Verdict struct {
	Allowed bool
	Reason  string   // why, for users and the audit log
	Roles   []string // the roles that granted it
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
// Approve, cancel and lock need the same grant as running the definition (for
// lock: a day1 grant whose name part is "*" for that environment).
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
	if act.Kind == ActLock {
		target = string(Day1) + ":*:" + act.Environment
	}
	for _, c := range p.Channels {
		if c.Pattern != nil && c.Pattern.MatchString(where.Name) && !matchAny(c.Allow, target, act.Kind == ActLock) {
			return Verdict{Reason: "channel #" + where.Name + " allows only " + strings.Join(c.Allow, ", ")}
		}
	}
	var roles []string
	for _, r := range p.Roles {
		if r.hasMember(a) && matchAny(r.Allow, target, act.Kind == ActLock) {
			roles = append(roles, r.Name)
		}
	}
	if len(roles) == 0 {
		return Verdict{Reason: who(a) + " has no role that allows " + string(act.Kind) + " " + target}
	}
	return Verdict{Allowed: true, Reason: "role " + strings.Join(roles, ", ") + " allows " + target, Roles: roles}
}

func who(a Actor) string {
	if a.Name != "" && a.Name != a.ID {
		return a.Name + " (" + a.ID + ")"
	}
	return a.ID
}

// matchAny matches target "phase:name[:env]" against allow patterns. With
// wholeEnv the name part of a pattern must be "*" (a grant over every
// definition of the environment).
func matchAny(patterns []string, target string, wholeEnv bool) bool {
	t := strings.SplitN(target, ":", 3)
	for _, p := range patterns {
		if p == "*" {
			return true
		}
		if p == "read" {
			continue
		}
		parts := strings.SplitN(p, ":", 3)
		if len(parts) < 2 {
			parts = append(parts, "*")
		}
		if wholeEnv && parts[1] != "*" {
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
