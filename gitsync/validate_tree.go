package gitsync

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dayops/dayops"
	"gopkg.in/yaml.v3"
)

// checkTree checks what no single file can: unique names, one deploy per
// service, and uses steps that name existing definitions without cycles.
func checkTree(all []*loaded) []Problem {
	var problems []Problem
	add := func(file string, n *yaml.Node, format string, args ...any) {
		p := Problem{File: file, Message: fmt.Sprintf(format, args...)}
		if n != nil {
			p.Line, p.Col = n.Line, n.Column
		}
		problems = append(problems, p)
	}
	byName := map[string][]*loaded{}
	services := map[string][]*loaded{}
	var names []string
	for _, l := range all {
		if l.raw.Name.set() && dayops.NamePattern.MatchString(l.def.Name) {
			if len(byName[l.def.Name]) == 0 {
				names = append(names, l.def.Name)
			}
			byName[l.def.Name] = append(byName[l.def.Name], l)
		}
		if l.def.Phase == dayops.Day1 && l.raw.Service.set() && l.def.Service != "" {
			services[l.def.Service] = append(services[l.def.Service], l)
		}
	}
	for name, ls := range byName {
		for _, l := range ls {
			if others := otherFiles(ls, l); len(others) > 0 {
				add(l.file, l.raw.Name.n, "definition name %q is also used by %s: names must be unique", name, strings.Join(others, ", "))
			}
		}
	}
	for service, ls := range services {
		for _, l := range ls {
			if others := otherFiles(ls, l); len(others) > 0 {
				add(l.file, l.raw.Service.n, "service %q is also deployed by %s: one day1 definition per service", service, strings.Join(others, ", "))
			}
		}
	}
	problems = append(problems, checkRequires(all, byName, names)...)
	// uses: the target must exist and take the given params.
	edges := map[string][]string{}
	for _, l := range all {
		for _, rs := range usesSteps(l.raw) {
			target := rs.Uses.v
			ts := byName[target]
			if len(ts) == 0 {
				msg := fmt.Sprintf("uses %q: there is no definition with that name", dayops.Truncate(target, 40))
				if s := dayops.Suggest(target, names); s != "" {
					msg += fmt.Sprintf(" — did you mean %q?", s)
				}
				add(l.file, rs.Uses.n, "%s", msg)
				continue
			}
			if l.raw.Name.set() {
				edges[l.def.Name] = append(edges[l.def.Name], target)
			}
			t := ts[0].def
			given := map[string]bool{}
			for _, w := range rs.With {
				given[w.key.v] = true
				if _, ok := t.Param(w.key.v); !ok && paramNamePattern.MatchString(w.key.v) {
					add(l.file, w.key.n, "with %q: %s has no such parameter%s", dayops.Truncate(w.key.v, 40), target, paramList(t))
				}
			}
			for _, p := range t.Params {
				if p.Required && !p.HasDefault && !given[p.Name] {
					add(l.file, rs.Uses.n, "uses %s: its required parameter %s is not set: add with: {%s: ...}", target, p.Name, p.Name)
				}
			}
		}
	}
	// uses: no cycles. Every uses step on a cycle is reported, with the cycle.
	for _, l := range all {
		if !l.raw.Name.set() || len(byName[l.def.Name]) != 1 {
			continue
		}
		for _, rs := range usesSteps(l.raw) {
			if cycle := findPath(edges, rs.Uses.v, l.def.Name); cycle != nil {
				add(l.file, rs.Uses.n, "uses %s makes a cycle: %s", rs.Uses.v, strings.Join(append([]string{l.def.Name}, cycle...), " → "))
			}
		}
	}
	// uses: no deeper than the executor goes. Definitions on a cycle are
	// reported above and left out here.
	chains := usesChains{edges: edges, longest: map[string][]string{}, onPath: map[string]bool{}}
	for _, l := range all {
		if !l.raw.Name.set() || len(byName[l.def.Name]) != 1 {
			continue
		}
		for _, rs := range usesSteps(l.raw) {
			chain := append([]string{l.def.Name}, chains.of(rs.Uses.v)...)
			if len(chain) > dayops.MaxUsesDepth && !slices.Contains(chain[1:], l.def.Name) {
				add(l.file, rs.Uses.n, "uses %s nests runs more than %d definitions deep (%s): the executor would stop there, run some of them one after the other instead",
					rs.Uses.v, dayops.MaxUsesDepth, strings.Join(chain[:dayops.MaxUsesDepth+1], " → "))
			}
		}
	}
	return problems
}

// usesChains finds the longest chain of uses: steps from a definition.
type usesChains struct {
	edges   map[string][]string
	longest map[string][]string // name → its longest chain, name first
	onPath  map[string]bool     // being explored: an edge back to it is a cycle
}

// of returns the longest chain from name (name first), not following an
// edge that would close a cycle. Chains longer than MaxUsesDepth+1 are cut
// there: their exact length does not matter.
func (u *usesChains) of(name string) []string {
	if c, ok := u.longest[name]; ok {
		return c
	}
	if u.onPath[name] {
		return nil
	}
	u.onPath[name] = true
	var best []string
	for _, next := range u.edges[name] {
		if c := u.of(next); len(c) > len(best) {
			best = c
		}
	}
	delete(u.onPath, name)
	chain := append([]string{name}, best...)
	if len(chain) > dayops.MaxUsesDepth+1 {
		chain = chain[:dayops.MaxUsesDepth+1]
	}
	u.longest[name] = chain
	return chain
}

func otherFiles(ls []*loaded, self *loaded) []string {
	var out []string
	for _, l := range ls {
		if l != self {
			out = append(out, l.file)
		}
	}
	slices.Sort(out)
	return out
}

func paramList(d *dayops.Definition) string {
	if len(d.Params) == 0 {
		return " (it declares no params)"
	}
	names := make([]string, len(d.Params))
	for i, p := range d.Params {
		names[i] = p.Name
	}
	return " (its params: " + strings.Join(names, ", ") + ")"
}

// usesSteps returns the well-formed uses steps of steps and rollback.
func usesSteps(r *rawDefinition) []rawStep {
	var out []rawStep
	for _, list := range [][]rawStep{r.Steps, r.Rollback} {
		for _, rs := range list {
			if len(rs.kinds) > 0 && rs.kinds[0].name == "uses" && rs.Uses.set() && dayops.NamePattern.MatchString(rs.Uses.v) {
				out = append(out, rs)
			}
		}
	}
	return out
}

// findPath returns the names on a shortest path from → … → to in the uses
// graph (from first, to last), or nil when to cannot be reached.
func findPath(edges map[string][]string, from, to string) []string {
	parent := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for n := cur; n != ""; n = parent[n] {
				path = append(path, n)
			}
			slices.Reverse(path)
			return path
		}
		for _, next := range edges[cur] {
			if _, seen := parent[next]; !seen {
				parent[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return nil
}
