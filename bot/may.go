package bot

import (
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// What the asker may do, for help, list and whoami: the same decisions as
// authorize, asked of the policy without acting (and without an audit row:
// nothing is done).

// runnableEnvs are the environments of def the actor of c may run it in
// ("" for a definition without environments); none when it may not run it.
func (b *Bot) runnableEnvs(c *call, def *dayops.Definition) []string {
	envs := []string{""}
	if len(def.Environments) > 0 {
		envs = envs[:0]
		for _, e := range def.Environments {
			envs = append(envs, e.Name)
		}
	}
	var out []string
	for _, env := range envs {
		act := dayops.Action{Kind: dayops.ActRun, Phase: def.Phase, Name: def.Name, Environment: env}
		if b.policy.Authorize(c.actor, c.thread, act).Allowed {
			out = append(out, env)
		}
	}
	return out
}

// mayUse reports whether the actor of c may use verb at all: read for the
// verbs that look, running some definition for run, deploy and rollback
// (of a service) and for approve, deny and cancel, a freeze grant of some
// environment for lock and unlock. help and whoami are for everyone.
func (b *Bot) mayUse(c *call, verb commands.Verb) bool {
	switch verb {
	case commands.VerbHelp, commands.VerbWhoami:
		return true
	case commands.VerbRun, commands.VerbDeploy, commands.VerbRollback,
		commands.VerbApprove, commands.VerbDeny, commands.VerbCancel, commands.VerbAnswer:
		for _, def := range b.catalog().All() {
			if (verb == commands.VerbDeploy || verb == commands.VerbRollback) && def.Service == "" {
				continue
			}
			if len(b.runnableEnvs(c, def)) > 0 {
				return true
			}
		}
		return false
	case commands.VerbLock, commands.VerbUnlock:
		kind := dayops.ActLock
		if verb == commands.VerbUnlock {
			kind = dayops.ActUnlock
		}
		seen := map[string]bool{}
		for _, def := range b.catalog().All() {
			for _, e := range def.Environments {
				if !seen[e.Name] && b.policy.Authorize(c.actor, c.thread, dayops.Action{Kind: kind, Environment: e.Name}).Allowed {
					return true
				}
				seen[e.Name] = true
			}
		}
		return false
	default:
		return b.policy.Authorize(c.actor, c.thread, dayops.Action{Kind: dayops.ActRead}).Allowed
	}
}

// helpFor is the command list cut to the commands the actor of c may use;
// one command's help is given whole, with a line saying when the asker may
// not use it.
func (b *Bot) helpFor(c *call) string {
	g := commands.Grammar{Prefix: b.prefix}
	text := g.Help(c.cmd.Topic)
	topic := strings.ToLower(strings.TrimSpace(c.cmd.Topic))
	if topic != "" {
		if strings.HasPrefix(text, "usage:") && !b.mayUse(c, commands.Verb(topic)) {
			text += "\nyou may not use " + topic + " here: no role of yours allows it (" + b.prefix + " whoami shows what yours allow)"
		}
		return text
	}
	lines := strings.Split(text, "\n")
	out := lines[:0:0]
	hidden := 0
	for _, line := range lines {
		rest, ok := strings.CutPrefix(line, b.prefix+" ")
		if ok {
			verb, _, _ := strings.Cut(rest, " ")
			if !b.mayUse(c, commands.Verb(verb)) {
				hidden++
				continue
			}
		}
		out = append(out, line)
	}
	if hidden > 0 {
		out = append(out, "Only the commands your roles allow are listed ("+b.prefix+" whoami shows them).")
	}
	return strings.Join(out, "\n")
}
