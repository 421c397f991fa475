package dayops

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// CatalogDiff is what a new revision of the ops repo does to the
// catalog: the definitions it adds, removes and changes, each added or
// changed one with what running it involves — for a pull request comment
// on the ops repo.
type CatalogDiff struct {
	OldRevision string
	NewRevision string
	Added       []DefinitionSummary
	Removed     []DefinitionSummary // as they were
	Changed     []DefinitionSummary // as they are now, with What
}

// DefinitionSummary is one definition as a reviewer needs to see it: what
// it runs, who must approve, what starts it and which allow patterns a role
// needs to run it.
type DefinitionSummary struct {
	Name      string
	Phase     Phase
	File      string
	Steps     []string // "Back up the database (run)"
	Rollback  []string
	Approvals []string // "production: 2 from sre, release-managers"
	Triggers  []string // "pull_request org/api merged into main → staging"
	Allow     []string // "day1:deploy-api:staging", one per environment
	Secrets   []string
	// What are the parts that changed, for a changed definition: "steps",
	// "approvals", "triggers", "environments", "params", "secrets", "env",
	// "settings" (service, concurrency, timeout, description), or
	// "formatting or comments only".
	What []string
}

// CatalogChanges compares two catalogs (either may be nil: nothing) by
// definition name, each list sorted by name.
func CatalogChanges(old, new *Catalog) CatalogDiff {
	c := CatalogDiff{OldRevision: old.Revision(), NewRevision: new.Revision()}
	for _, d := range new.All() {
		was, ok := old.Lookup(d.Name)
		switch {
		case !ok:
			c.Added = append(c.Added, Summarize(d))
		case !bytes.Equal(was.Source.Content, d.Source.Content) || was.Source.File != d.Source.File:
			s := Summarize(d)
			s.What = changedParts(was, d)
			c.Changed = append(c.Changed, s)
		}
	}
	for _, d := range old.All() {
		if _, ok := new.Lookup(d.Name); !ok {
			c.Removed = append(c.Removed, Summarize(d))
		}
	}
	return c
}

// Empty reports whether nothing was added, removed or changed.
func (c CatalogDiff) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// Summarize describes one definition for review.
func Summarize(d *Definition) DefinitionSummary {
	s := DefinitionSummary{Name: d.Name, Phase: d.Phase, File: d.Source.File, Secrets: slices.Clone(d.Secrets)}
	s.Steps = stepSummaries(d.Steps)
	s.Rollback = stepSummaries(d.Rollback)
	for _, e := range d.Environments {
		if e.Approvals != nil {
			from := "any role allowed to run it"
			if len(e.Approvals.From) > 0 {
				from = strings.Join(e.Approvals.From, ", ")
			}
			s.Approvals = append(s.Approvals, fmt.Sprintf("%s: %d from %s", e.Name, max(e.Approvals.Count, 1), from))
		}
	}
	for _, a := range approvalSteps(d.Steps) {
		s.Approvals = append(s.Approvals, "step "+a)
	}
	s.Triggers = triggerSummaries(d.Triggers)
	if len(d.Environments) == 0 {
		s.Allow = []string{Action{Kind: ActRun, Phase: d.Phase, Name: d.Name}.Target()}
	}
	for _, e := range d.Environments {
		s.Allow = append(s.Allow, Action{Kind: ActRun, Phase: d.Phase, Name: d.Name, Environment: e.Name}.Target())
	}
	return s
}

func stepSummaries(steps []Step) []string {
	var out []string
	for _, st := range steps {
		name := st.Name
		if name == "" {
			name = st.ID
		}
		if name == "" {
			name = string(st.Kind)
		}
		detail := string(st.Kind)
		if st.Kind == StepKindUses {
			detail = "uses " + st.Uses
		}
		out = append(out, Truncate(name, 80)+" ("+detail+")")
	}
	return out
}

func approvalSteps(steps []Step) []string {
	var out []string
	for _, st := range steps {
		if st.Kind == StepKindApproval {
			out = append(out, Truncate(st.Name, 80))
		}
	}
	return out
}

func triggerSummaries(t Triggers) []string {
	var out []string
	for _, p := range t.PullRequest {
		s := "pull_request " + p.Repo + " " + p.On
		if len(p.Branches) > 0 {
			s += " into " + strings.Join(p.Branches, ", ")
		}
		if len(p.Labels) > 0 {
			s += " labeled " + strings.Join(p.Labels, ", ")
		}
		if p.Environment != "" {
			s += " → " + p.Environment
		}
		out = append(out, s)
	}
	for _, i := range t.Incident {
		s := "incident"
		if i.Channel != nil {
			s += " in " + i.Channel.String()
		}
		if i.Match != nil {
			s += " matching " + i.Match.String()
		}
		out = append(out, s+autoText(i.Auto, i.Cooldown, i.Budget))
	}
	for _, a := range t.Alert {
		s := "alert " + a.AlertName
		if len(a.Labels) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
				kv = append(kv, k+"="+a.Labels[k])
			}
			s += " {" + strings.Join(kv, ", ") + "}"
		}
		out = append(out, s+autoText(a.Auto, a.Cooldown, a.Budget))
	}
	for _, c := range t.Schedule {
		out = append(out, "schedule "+c.String())
	}
	return out
}

// autoText says whether a trigger runs by itself, and within which guard:
// loosening the guard is a change reviewers must see.
func autoText(auto bool, cooldown time.Duration, budget int) string {
	switch {
	case auto && budget > 0:
		return fmt.Sprintf(" (runs by itself: cooldown %s, budget %d an hour)", cooldown, budget)
	case auto:
		return " (runs by itself)"
	}
	return " (offered)"
}

// changedParts names the parts of a definition that differ between was
// and now.
func changedParts(was, now *Definition) []string {
	a, b := Summarize(was), Summarize(now)
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("steps", !slices.Equal(a.Steps, b.Steps) || !slices.Equal(a.Rollback, b.Rollback) || stepsDiffer(was, now))
	add("approvals", !slices.Equal(a.Approvals, b.Approvals))
	add("triggers", !slices.Equal(a.Triggers, b.Triggers) || fmt.Sprint(was.Triggers.PullRequest) != fmt.Sprint(now.Triggers.PullRequest))
	add("environments", !slices.Equal(was.EnvironmentNames(), now.EnvironmentNames()) || environmentURLs(was) != environmentURLs(now))
	add("params", fmt.Sprint(was.Params) != fmt.Sprint(now.Params))
	add("secrets", !slices.Equal(was.Secrets, now.Secrets))
	add("env", !slices.Equal(was.Env, now.Env))
	add("settings", was.Service != now.Service || was.Concurrency != now.Concurrency || was.Timeout != now.Timeout ||
		was.Description != now.Description || was.Phase != now.Phase)
	if was.Source.File != now.Source.File {
		out = append(out, "moved from "+was.Source.File)
	}
	if len(out) == 0 {
		out = []string{"formatting or comments only"}
	}
	return out
}

// stepsDiffer compares what the steps do, beyond their names and kinds.
func stepsDiffer(a, b *Definition) bool {
	strip := func(steps []Step) string {
		cp := slices.Clone(steps)
		for i := range cp {
			cp[i].Line = 0
			if cp[i].HTTP != nil {
				h := *cp[i].HTTP
				cp[i].HTTP = nil
				cp[i].Run += fmt.Sprintf("%+v", h)
			}
		}
		return fmt.Sprintf("%+v", cp)
	}
	return strip(a.Steps) != strip(b.Steps) || strip(a.Rollback) != strip(b.Rollback)
}

func environmentURLs(d *Definition) string {
	var b strings.Builder
	for _, e := range d.Environments {
		b.WriteString(e.Name + "=" + e.URL + ";")
	}
	return b.String()
}

// MaxChangesMarkdown bounds Markdown: GitHub takes comments of up to 65536
// characters.
const MaxChangesMarkdown = 60000

// Markdown renders the changes for a pull request comment, at most
// MaxChangesMarkdown bytes: definitions that do not fit are counted at the
// end. Text from the ops repo (step names, patterns) is shown as code, so
// that it cannot format, link or mention anything.
func (c CatalogDiff) Markdown() string {
	return c.markdown(MaxChangesMarkdown)
}

func (c CatalogDiff) markdown(limit int) string {
	var b strings.Builder
	b.WriteString("### dayops: what this changes in the catalog\n\n")
	if c.Empty() {
		b.WriteString("No definition is added, removed or changed.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "%d added, %d removed, %d changed", len(c.Added), len(c.Removed), len(c.Changed))
	if c.NewRevision != "" {
		fmt.Fprintf(&b, " at `%s`", ShortRevision(c.NewRevision))
	}
	if c.OldRevision != "" {
		fmt.Fprintf(&b, ", against `%s`", ShortRevision(c.OldRevision))
	}
	b.WriteString(".\n")
	const tail = 200 // room for the "not shown" line
	left := 0
	section := func(title string, list []DefinitionSummary, full bool) {
		if len(list) == 0 {
			return
		}
		head := "\n#### " + title + "\n\n"
		for i, s := range list {
			block := summaryMarkdown(s, full)
			if i == 0 {
				block = head + block
			}
			if left > 0 || b.Len()+len(block) > limit-tail {
				left++
				continue
			}
			b.WriteString(block)
		}
	}
	section("Added", c.Added, true)
	section("Changed", c.Changed, true)
	section("Removed", c.Removed, false)
	if left > 0 {
		fmt.Fprintf(&b, "\n… and %d more definition(s) not shown: the comment would be too long.\n", left)
	}
	return b.String()
}

// summaryMarkdown is one definition's block.
func summaryMarkdown(s DefinitionSummary, full bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** (%s, %s)", s.Name, s.Phase, code(s.File))
	if len(s.What) > 0 {
		b.WriteString(" — changed: " + strings.Join(s.What, ", "))
	}
	b.WriteString("\n")
	if !full {
		return b.String()
	}
	line := func(label string, items []string) {
		if len(items) == 0 {
			return
		}
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = code(it)
		}
		b.WriteString("- " + label + ": " + strings.Join(parts, ", ") + "\n")
	}
	line("steps", s.Steps)
	line("rollback", s.Rollback)
	line("approvals", s.Approvals)
	line("triggers", s.Triggers)
	line("roles need", s.Allow)
	line("secrets", s.Secrets)
	b.WriteString("\n")
	return b.String()
}

// code renders text as an inline code span on one line.
func code(s string) string {
	s = strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(Truncate(s, 120))
	return "`" + s + "`"
}
