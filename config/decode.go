package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dayops/dayops"
)

// Problem is one thing wrong with the configuration.
type Problem struct {
	Key     string // "slack.mode", or an environment variable such as "DAYOPS_SLACK_MODE"
	Line    int    // line in the file; 0 for the environment and for missing keys
	Message string // what is wrong and what is expected
}

// String renders the problem as "line 4: slack.mode: …".
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Key, p.Message)
	}
	return p.Key + ": " + p.Message
}

// decoder walks the YAML tree by hand rather than unmarshalling into
// structs, so that every problem names its key as the user wrote it
// ("slack.mode", not a Go type) and all of them are reported at once.
type decoder struct {
	problems []Problem
}

func (d *decoder) addf(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.problems = append(d.problems, Problem{Key: key, Line: line, Message: fmt.Sprintf(format, args...)})
}

// has reports whether a problem was already found with key, so that a
// check of settings together does not repeat it as "missing".
func (d *decoder) has(key string) bool {
	for _, p := range d.problems {
		if p.Key == key || strings.HasPrefix(p.Key, key+"[") || strings.HasPrefix(p.Key, key+".") {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// kindName says what a node is, for "is a list, expected a mapping".
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return fmt.Sprintf("%q", n.Value)
}

// isNull reports a key written with no value ("slack:"), which means the
// default, like an absent key.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// field handles the value of one known key.
type field func(n *yaml.Node, key string)

// mapping walks a mapping node: each key must be one of fields (a nil field
// marks a key that is known but refused, reported by refuse). Unknown keys
// are errors with a did-you-mean.
func (d *decoder) mapping(n *yaml.Node, path string, fields map[string]field) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "is %s, expected a mapping of keys", kindName(n))
		return
	}
	known := slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	})
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.addf(k, join(path, "?"), "a key must be a plain word, not %s", kindName(k))
			continue
		}
		if seen[k.Value] {
			d.addf(k, key, "is given twice")
			continue
		}
		seen[k.Value] = true
		f, ok := fields[k.Value]
		if !ok {
			hint := ""
			if s := dayops.Suggest(k.Value, known); s != "" {
				hint = fmt.Sprintf(" — did you mean %q?", s)
			}
			d.addf(k, key, "unknown key%s (known: %s)", hint, strings.Join(known, ", "))
			continue
		}
		if v.Kind == yaml.AliasNode {
			d.addf(v, key, "aliases (*name) are not supported in the configuration: write the value out")
			continue
		}
		f(v, key)
	}
}

// entries walks a mapping whose keys are names the user chooses (roles,
// targets, repos), calling each for every entry in file order.
func (d *decoder) entries(n *yaml.Node, path string, each func(name string, v *yaml.Node, key string)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "is %s, expected a mapping of names", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.addf(k, join(path, "?"), "a name must be a plain word, not %s", kindName(k))
			continue
		}
		key := join(path, k.Value)
		if seen[k.Value] {
			d.addf(k, key, "is given twice")
			continue
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			d.addf(v, key, "aliases (*name) are not supported in the configuration: write the value out")
			continue
		}
		each(k.Value, v, key)
	}
}

// scalar returns the text of a scalar node, reporting anything else.
func (d *decoder) scalar(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.addf(n, key, "is %s, expected a single value", kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", false
	}
	return n.Value, true
}

// str returns a string field (or "" when empty).
func (d *decoder) str(n *yaml.Node, key string) string {
	s, _ := d.scalar(n, key)
	return s
}

func (d *decoder) boolean(n *yaml.Node, key string) bool {
	s, ok := d.scalar(n, key)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil || n.Tag != "!!bool" {
		d.addf(n, key, "%q is not true or false", s)
		return false
	}
	return b
}

func (d *decoder) list(n *yaml.Node, key string) []string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n, key, "is %s, expected a list, e.g. [a, b]", kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		if s, ok := d.scalar(item, fmt.Sprintf("%s[%d]", key, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

// parseDuration checks a positive duration, from the file or the environment.
func parseDuration(s string) (time.Duration, string) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Sprintf("%q is not a duration, e.g. 1m", s)
	}
	if v <= 0 {
		return 0, fmt.Sprintf("%q must be more than zero", s)
	}
	return v, ""
}

// parseHTTPURL checks an absolute http or https URL and drops a trailing
// slash, so that paths can be appended.
func parseHTTPURL(s string) (string, string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Sprintf("%q is not an http or https URL, e.g. https://dayops.example.com", dayops.NewRedactor().Redact(s))
	}
	if u.User != nil {
		return "", "must not hold a user name or password: credentials come from the environment"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Sprintf("%q must not have a query or fragment", s)
	}
	return strings.TrimRight(s, "/"), ""
}
