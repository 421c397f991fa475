package gitsync

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dayops/dayops"
	"gopkg.in/yaml.v3"
)

// The raw* types hold a definition as written, with the YAML node of every
// value so that validation can point at line:col. They never leave gitsync:
// the loader converts them into dayops types once the whole tree is valid.

// str is a scalar read as text; n is nil when the key was absent.
type str struct {
	v string
	n *yaml.Node
}

func (s str) set() bool { return s.n != nil }

// num is a whole number; n is nil when the key was absent or not a number.
type num struct {
	v int
	n *yaml.Node
}

// boolean is a boolean; n is nil when the key was absent or not a boolean.
type boolean struct {
	v bool
	n *yaml.Node
}

// dur is a duration; n is nil when the key was absent or not a duration.
type dur struct {
	v time.Duration
	n *yaml.Node
}

// kv is one entry of a map from names to text, in file order.
type kv struct {
	key str
	val str
}

// decoder walks yaml.Nodes strictly and collects problems instead of
// stopping at the first one.
type decoder struct {
	file     string
	problems []Problem
	dropped  int // problems past maxFileProblems, counted only
	values   int // YAML values of the file, aliases expanded (withinBudget)
}

func (d *decoder) addf(n *yaml.Node, format string, args ...any) {
	p := Problem{File: d.file, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	d.report(p)
}

// report records a problem, or counts it once the file has maxFileProblems.
func (d *decoder) report(p Problem) {
	if len(d.problems) >= maxFileProblems {
		d.dropped++
		return
	}
	d.problems = append(d.problems, p)
}

// resolve follows aliases. The file was checked by withinBudget first, so
// following them is bounded and never meets a cycle.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// isMapping reports whether n is a mapping or null (an empty mapping): the
// shapes whose missing keys are worth reporting.
func isMapping(n *yaml.Node) bool {
	return n.Kind == yaml.MappingNode || isNull(n)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!null":
		return "empty"
	case "!!bool":
		return "a boolean"
	case "!!int":
		return "a number"
	case "!!float":
		return "a decimal number"
	}
	return fmt.Sprintf("%q", dayops.Truncate(n.Value, 40))
}

// pair is one key/value of a mapping, after alias resolution.
type pair struct {
	name string
	k, v *yaml.Node
}

// pairs returns the entries of a mapping in file order. A null node is an
// empty mapping. Keys must be plain text; duplicates and merge keys are errors.
func (d *decoder) pairs(n *yaml.Node, what string) []pair {
	n = d.resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n, "%s must be a mapping, not %s", what, kindName(n))
		return nil
	}
	var out []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.addf(k, "keys in %s must be names, not %s", what, kindName(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.addf(k, "merge keys (<<) are not supported: write the keys out")
			continue
		}
		if prev, ok := seen[k.Value]; ok {
			d.addf(k, "duplicate key %q in %s (first at line %d)", dayops.Truncate(k.Value, 40), what, prev.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{name: k.Value, k: k, v: v})
	}
	return out
}

// fields decodes a mapping with a fixed set of keys: unknown keys are errors
// with a suggestion, known ones are handed to set. It returns the known keys
// present, so that a value of the wrong type is not also reported missing.
func (d *decoder) fields(n *yaml.Node, what string, keys []string, set func(p pair)) map[string]bool {
	present := map[string]bool{}
	for _, p := range d.pairs(n, what) {
		if !slices.Contains(keys, p.name) {
			d.addf(p.k, "%s", unknownKey(p.name, what, keys))
			continue
		}
		present[p.name] = true
		set(p)
	}
	return present
}

func unknownKey(key, what string, keys []string) string {
	msg := fmt.Sprintf("unknown key %q in %s", dayops.Truncate(key, 40), what)
	if s := dayops.Suggest(key, keys); s != "" {
		return msg + fmt.Sprintf(" — did you mean %q?", s)
	}
	return msg + " (known keys: " + strings.Join(keys, ", ") + ")"
}

// list returns the items of a sequence; a null node is an empty list.
func (d *decoder) list(n *yaml.Node, what string) []*yaml.Node {
	n = d.resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n, "%s must be a list, not %s", what, kindName(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = d.resolve(c)
	}
	return out
}

var textTags = []string{"!!str", "!!int", "!!float", "!!bool", "!!timestamp", "!!null"}

// str reads a scalar as the text it was written as. Null is "".
func (d *decoder) str(n *yaml.Node, what string) str {
	n = d.resolve(n)
	if n.Kind != yaml.ScalarNode {
		d.addf(n, "%s must be text, not %s", what, kindName(n))
		return str{}
	}
	if !slices.Contains(textTags, n.ShortTag()) {
		d.addf(n, "%s: unsupported YAML tag %s", what, dayops.Truncate(n.Tag, 40))
		return str{}
	}
	if isNull(n) {
		return str{n: n}
	}
	return str{v: n.Value, n: n}
}

func (d *decoder) num(n *yaml.Node, what string) num {
	n = d.resolve(n)
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.addf(n, "%s must be a whole number, not %s", what, kindName(n))
		return num{}
	}
	return num{v: v, n: n}
}

func (d *decoder) boolean(n *yaml.Node, what string) boolean {
	n = d.resolve(n)
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		d.addf(n, "%s must be true or false, not %s", what, kindName(n))
		return boolean{}
	}
	return boolean{v: v, n: n}
}

func (d *decoder) dur(n *yaml.Node, what string) dur {
	n = d.resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.addf(n, "%s must be a duration like 30s, 10m or 1h30m, not %s", what, kindName(n))
		return dur{}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.addf(n, "%s must be a duration like 30s, 10m or 1h30m, not %q", what, dayops.Truncate(n.Value, 40))
		return dur{}
	}
	return dur{v: v, n: n}
}

// strs reads a list of text scalars.
func (d *decoder) strs(n *yaml.Node, what string) []str {
	var out []str
	for _, item := range d.list(n, what) {
		if s := d.str(item, what+" entries"); s.set() {
			out = append(out, s)
		}
	}
	return out
}

// strMap reads a mapping of names to text, in file order.
func (d *decoder) strMap(n *yaml.Node, what string) []kv {
	var out []kv
	for _, p := range d.pairs(n, what) {
		if v := d.str(p.v, fmt.Sprintf("%s value %s", what, dayops.Truncate(p.name, 40))); v.set() {
			out = append(out, kv{key: str{v: p.name, n: p.k}, val: v})
		}
	}
	return out
}
