package config

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dayops/dayops"
)

// memberForms are the member spellings of SPEC §6, by prefix.
var memberForms = map[string]*regexp.Regexp{
	"slack":       regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`),
	"slack-group": regexp.MustCompile(`^S[A-Z0-9]{2,}$`),
	"github":      regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`),
	"github-team": regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[a-z0-9][a-z0-9_-]*$`),
	"console":     regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`),
	"trigger":     regexp.MustCompile(`^(pull_request|alert|incident|schedule)$`),
}

// memberHelp says what each member form looks like.
var memberHelp = map[string]string{
	"slack":       "slack:USER_ID, a Slack user ID such as slack:U012ABC (never a display name)",
	"slack-group": "slack-group:GROUP_ID, a Slack user group ID such as slack-group:S0SRE",
	"github":      "github:LOGIN, a GitHub login such as github:alice",
	"github-team": "github-team:ORG/TEAM, such as github-team:acme/sre",
	"console":     "console:NAME, such as console:alice",
	"trigger":     "one of trigger:pull_request, trigger:alert, trigger:incident, trigger:schedule",
}

const memberList = "slack:USER_ID, slack-group:GROUP_ID, github:LOGIN, github-team:ORG/TEAM, console:NAME or trigger:KIND"

// checkMember returns what is wrong with a role member, or "".
func checkMember(m string) string {
	kind, id, ok := strings.Cut(m, ":")
	re, known := memberForms[kind]
	switch {
	case !ok || !known:
		hint := ""
		if s := dayops.Suggest(kind, slices.Sorted(mapKeys(memberForms))); ok && s != "" {
			hint = fmt.Sprintf(" (did you mean %s:%s?)", s, id)
		}
		return fmt.Sprintf("%q is not a member: write %s%s", m, memberList, hint)
	case !re.MatchString(id):
		return fmt.Sprintf("%q is not a member: write %s", m, memberHelp[kind])
	}
	return ""
}

var phases = []string{string(dayops.Day0), string(dayops.Day1), string(dayops.Day2)}

// checkAllow returns what is wrong with an allow pattern, or "".
func checkAllow(p string) string {
	const forms = "write *, read, PHASE:NAME[:ENV] (e.g. day1:*:staging), lock:ENV, unlock:ENV or override:PHASE:NAME[:ENV]"
	if p == "*" || p == "read" {
		return ""
	}
	parts := strings.Split(p, ":")
	for _, part := range parts {
		if part == "" {
			return fmt.Sprintf("%q has an empty part: %s", p, forms)
		}
		if _, err := path.Match(part, ""); err != nil {
			return fmt.Sprintf("%q: %q is not a valid glob (*, ? and [a-z] are)", p, part)
		}
	}
	switch parts[0] {
	case string(dayops.ActLock), string(dayops.ActUnlock):
		if len(parts) != 2 {
			return fmt.Sprintf("%q: write %s:ENV, e.g. %s:staging or %s:*", p, parts[0], parts[0], parts[0])
		}
		return ""
	case "override":
		parts = parts[1:]
		if len(parts) == 0 {
			return fmt.Sprintf("%q: write override:PHASE:NAME[:ENV], e.g. override:day1:*:staging", p)
		}
	}
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Sprintf("%q is not an allow pattern: %s", p, forms)
	}
	matches := false
	for _, ph := range phases {
		if ok, _ := path.Match(parts[0], ph); ok {
			matches = true
		}
	}
	if !matches {
		hint := ""
		if s := dayops.Suggest(parts[0], append(slices.Clone(phases), "read", "lock", "unlock", "override")); s != "" {
			hint = fmt.Sprintf(" — did you mean %s?", s)
		}
		return fmt.Sprintf("%q: %q matches no phase (day0, day1, day2)%s", p, parts[0], hint)
	}
	return ""
}

var roleName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func (d *decoder) roles(n *yaml.Node, key string) []dayops.Role {
	var out []dayops.Role
	d.entries(n, key, func(name string, v *yaml.Node, key string) {
		if !roleName.MatchString(name) {
			d.addf(v, key, "%q is not a role name: lowercase letters, digits, - and _, e.g. sre", name)
		}
		r := dayops.Role{Name: name}
		var members, allow *yaml.Node
		d.mapping(v, key, map[string]field{
			"members": func(n *yaml.Node, key string) { members = n; r.Members = d.list(n, key) },
			"allow":   func(n *yaml.Node, key string) { allow = n; r.Allow = d.list(n, key) },
		})
		if v.Kind != yaml.MappingNode && !isNull(v) {
			return
		}
		d.patterns(members, v, key+".members", r.Members, checkMember, "list who has this role, e.g. [\"slack:U012ABC\"]")
		d.patterns(allow, v, key+".allow", r.Allow, checkAllow, "list what this role may do, e.g. [\"day1:*:staging\", read]")
		out = append(out, r)
	})
	return out
}

// patterns checks each item of a list with check; an empty list is an
// error saying what to write.
func (d *decoder) patterns(list, parent *yaml.Node, key string, items []string, check func(string) string, empty string) {
	if len(items) == 0 {
		at := parent
		if list != nil {
			at = list
		}
		d.addf(at, key, "is empty: %s", empty)
		return
	}
	for i, it := range items {
		if problem := check(it); problem != "" {
			at := list
			if list != nil && i < len(list.Content) {
				at = list.Content[i]
			}
			d.addf(at, fmt.Sprintf("%s[%d]", key, i), "%s", problem)
		}
	}
}

func (d *decoder) channels(n *yaml.Node, key string) []dayops.ChannelRule {
	var out []dayops.ChannelRule
	d.entries(n, key, func(name string, v *yaml.Node, key string) {
		re := d.regexp(v, key, name)
		var rule dayops.ChannelRule
		var allow *yaml.Node
		d.mapping(v, key, map[string]field{
			"allow": func(n *yaml.Node, key string) { allow = n; rule.Allow = d.list(n, key) },
		})
		d.patterns(allow, v, key+".allow", rule.Allow, checkAllow, "list what may run in these channels, e.g. [\"day2:*\"]")
		if re != nil {
			rule.Pattern = re
			out = append(out, rule)
		}
	})
	return out
}

var targetName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// targets reads `targets`: a name maps to a target (a mapping) or to a group
// (a list of target names).
func (d *decoder) targets(n *yaml.Node, key string) (map[string]Target, map[string][]string) {
	targets, groups := map[string]Target{}, map[string][]string{}
	groupNodes := map[string]*yaml.Node{}
	d.entries(n, key, func(name string, v *yaml.Node, key string) {
		if !targetName.MatchString(name) {
			d.addf(v, key, "%q is not a target name: lowercase letters, digits, ., - and _, e.g. web-1", name)
		}
		if v.Kind == yaml.SequenceNode {
			groups[name] = d.list(v, key)
			groupNodes[name] = v
			if len(v.Content) == 0 {
				d.addf(v, key, "is an empty group: list its targets, e.g. [web-1, web-2]")
			}
			return
		}
		if v.Kind != yaml.MappingNode {
			d.addf(v, key, "is %s, expected a target {host: …, user: …} or a group [web-1, web-2]", kindName(v))
			return
		}
		t := Target{Port: 22}
		d.mapping(v, key, map[string]field{
			"host": func(n *yaml.Node, key string) { t.Host = d.str(n, key) },
			"port": func(n *yaml.Node, key string) {
				if s, ok := d.scalar(n, key); ok {
					p, err := strconv.Atoi(s)
					if err != nil || p < 1 || p > 65535 {
						d.addf(n, key, "%q is not a port: a number from 1 to 65535", s)
					}
					t.Port = p
				}
			},
			"user":               func(n *yaml.Node, key string) { t.User = d.str(n, key) },
			"trust_on_first_use": func(n *yaml.Node, key string) { t.TrustOnFirstUse = d.boolean(n, key) },
			"key_env": func(n *yaml.Node, key string) {
				t.KeyEnv = d.str(n, key)
				if t.KeyEnv != "" && !heldVar(t.KeyEnv) {
					d.addf(n, key, "%q must start with DAYOPS_ and contain KEY (e.g. DAYOPS_SSH_KEY_WEB), so that dayops takes it out of the environment its steps see", t.KeyEnv)
					t.KeyEnv = ""
				}
			},
			"key": func(n *yaml.Node, key string) {
				d.addf(n, key, "is a secret, and secrets are never read from the file: remove it, put the private key in an environment variable such as DAYOPS_SSH_KEY_WEB and name it in key_env")
			},
			"environments": func(n *yaml.Node, key string) {
				t.Environments = d.list(n, key)
				for i, e := range t.Environments {
					if !dayops.EnvironmentPattern.MatchString(e) {
						d.addf(n.Content[i], fmt.Sprintf("%s[%d]", key, i), "%q is not an environment name: lowercase letters, digits, - and _", e)
					}
				}
			},
		})
		if t.Host == "" {
			d.addf(v, key+".host", "is missing: the address dayops connects to")
		}
		if t.User == "" {
			d.addf(v, key+".user", "is missing: the user dayops logs in as")
		}
		if t.KeyEnv == "" && !d.has(key+".key_env") {
			d.addf(v, key+".key_env", "is missing: name the environment variable that holds the private key, e.g. DAYOPS_SSH_KEY_WEB")
		}
		targets[name] = t
	})
	for _, g := range slices.Sorted(mapKeys(groups)) {
		for i, m := range groups[g] {
			if _, ok := targets[m]; !ok {
				hint := ""
				if s := dayops.Suggest(m, slices.Sorted(mapKeys(targets))); s != "" {
					hint = fmt.Sprintf(" — did you mean %q?", s)
				}
				d.addf(groupNodes[g].Content[i], fmt.Sprintf("%s.%s[%d]", key, g, i), "%q is not a target defined in targets%s", m, hint)
			}
		}
	}
	return targets, groups
}

// heldVar reports whether dayops takes variable name out of its
// environment at start (cmd/dayops isSecretVar): DAYOPS_ and a word that
// says it holds a credential.
func heldVar(name string) bool {
	rest, ok := strings.CutPrefix(name, "DAYOPS_")
	if !ok || !regexp.MustCompile(`^[A-Z0-9_]+$`).MatchString(rest) {
		return false
	}
	for _, w := range []string{"SECRET", "TOKEN", "PASSWORD", "KEY"} {
		if strings.Contains(rest, w) {
			return true
		}
	}
	return false
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// maxKeyFile bounds a private key file named by a target's key_env.
const maxKeyFile = 64 << 10

// targetKey is the private key of target name from the value of its
// key_env variable: the key itself (PEM), or the path of a file holding it,
// as DAYOPS_REPO_SSH_KEY is. A file that cannot be read is a problem that
// names it; the key is never shown.
func (d *decoder) targetKey(name, env, v string) (string, bool) {
	if v == "" || strings.Contains(v, "PRIVATE KEY-----") {
		return v, true
	}
	key := "targets." + name + ".key_env"
	info, err := os.Stat(v)
	switch {
	case err != nil:
		d.addf(nil, key, "%s is neither a private key nor the path of a readable file: %v", env, err)
		return "", false
	case !info.Mode().IsRegular() || info.Size() > maxKeyFile:
		d.addf(nil, key, "%s names %s, which is not a private key file (a regular file of at most 64 KiB)", env, v)
		return "", false
	}
	b, err := os.ReadFile(v)
	if err != nil {
		d.addf(nil, key, "%s names %s, which cannot be read: %v", env, v, err)
		return "", false
	}
	if !strings.Contains(string(b), "PRIVATE KEY-----") {
		d.addf(nil, key, "%s names %s, which holds no PEM private key (-----BEGIN … PRIVATE KEY-----)", env, v)
		return "", false
	}
	return string(b), true
}
