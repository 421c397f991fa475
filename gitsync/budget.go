package gitsync

import (
	"fmt"

	"github.com/dayops/dayops"
	"gopkg.in/yaml.v3"
)

// A definition is a page of YAML, but a file of a few kilobytes can describe
// gigabytes once its aliases are expanded (one anchored mapping of a few
// thousand keys referenced a thousand times). The loader therefore counts
// what a file would expand to before it decodes anything, and refuses a file
// over budget with one problem at the alias (or value) that crossed it.
const (
	// maxValues bounds the YAML values (scalars, lists and mappings, each
	// alias counted as the whole value it stands for) of one file. The
	// largest example definitions hold a few hundred.
	maxValues = 50_000

	// maxFileProblems bounds the problems reported for one file: past it
	// the rest are counted, not listed.
	maxFileProblems = 50

	// maxProblems bounds the problems reported for a whole folder, so that
	// a revision's record stays readable.
	maxProblems = 1000

	// maxTreeBytes and maxTreeValues bound a whole definitions folder:
	// decoded definitions keep their YAML nodes until the tree is checked,
	// so many files each within budget could still add up. A thousand
	// definitions of a page each are about 3 MiB and 100,000 values.
	maxTreeBytes  = 32 << 20
	maxTreeValues = 500_000
)

// expansion counts the values of a YAML tree with every alias expanded.
type expansion struct {
	// sizes holds the expanded size of anchored values already counted;
	// counting marks the ones being counted, so that an alias inside its
	// own anchor (a cycle) is found instead of followed.
	sizes    map[*yaml.Node]int
	counting map[*yaml.Node]bool
}

// errCycle is the size of a value that contains an alias to itself.
const errCycle = -1

// size is n's expanded size, saturated at maxValues+1, or errCycle.
func (e *expansion) size(n *yaml.Node) int {
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 1
		}
		n = n.Alias
	}
	if s, ok := e.sizes[n]; ok {
		return s
	}
	if e.counting[n] {
		return errCycle
	}
	e.counting[n] = true
	total := 1
	for _, c := range n.Content {
		s := e.size(c)
		if s == errCycle {
			total = errCycle
			break
		}
		total = min(total+s, maxValues+1)
	}
	delete(e.counting, n)
	if n.Anchor != "" {
		e.sizes[n] = total
	}
	return total
}

// withinBudget reports whether the tree under root stays within maxValues
// once its aliases are expanded, and whether it has no alias cycle. When it
// does not, it reports one problem at the node where the walk (in file
// order) crossed the budget or met the cycle.
func (d *decoder) withinBudget(root *yaml.Node) bool {
	e := &expansion{sizes: map[*yaml.Node]int{}, counting: map[*yaml.Node]bool{}}
	total := 0
	defer func() { d.values = total }()
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if n.Kind == yaml.AliasNode {
			s := e.size(n)
			if s == errCycle {
				d.addf(n, "alias *%s is used inside the value it names, which would never end: write the value out", dayops.Truncate(n.Value, 40))
				return false
			}
			if total += s; total > maxValues {
				d.addf(n, "alias *%s expands this file to more than %d values: write the values out or split the file", dayops.Truncate(n.Value, 40), maxValues)
				return false
			}
			return true
		}
		if total++; total > maxValues {
			d.addf(n, "this file holds more than %d values: a definition should be a page of YAML, split it into several definitions", maxValues)
			return false
		}
		for _, c := range n.Content {
			if !walk(c) {
				return false
			}
		}
		return true
	}
	return walk(root)
}

// capProblems keeps the first maxFileProblems problems of each file (ps is
// sorted by file) and puts before them one that says how many more there
// are, counting those the decoder already left out (dropped, by file).
func capProblems(ps []Problem, dropped map[string]int) []Problem {
	out := make([]Problem, 0, len(ps))
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].File == ps[i].File {
			j++
		}
		file, kept := ps[i].File, ps[i:j]
		more := dropped[file]
		if len(kept) > maxFileProblems {
			more += len(kept) - maxFileProblems
			kept = kept[:maxFileProblems]
		}
		if more > 0 {
			out = append(out, Problem{File: file, Message: fmt.Sprintf(
				"only the first %d problems of this file are listed, and %d more were found: fix these first",
				len(kept), more)})
		}
		out = append(out, kept...)
		i = j
	}
	if len(out) > maxProblems {
		rest := len(out) - (maxProblems - 1)
		last := out[maxProblems-1].File
		out = append(out[:maxProblems-1], Problem{File: last, Message: fmt.Sprintf(
			"%d more problems in this file and the files after it are not listed: fix the ones above first", rest)})
	}
	return out
}
