package dayops

import (
	"bytes"
	"fmt"
	"strings"
)

// UnifiedDiff returns the unified diff ("diff -u") that turns a into b, with
// context unchanged lines around each change (a negative context means 3). It
// returns "" when a and b are equal. The edit script is a shortest one (Myers'
// O(ND) algorithm in linear space), so a plan shows only what really changed.
// A last line without a newline is marked "\ No newline at end of file".
func UnifiedDiff(oldName, newName string, a, b []byte, context int) string {
	if bytes.Equal(a, b) {
		return ""
	}
	if context < 0 {
		context = 3
	}
	al, bl := splitLines(a), splitLines(b)
	ai, bi := internLines(al, bl)
	d := &differ{a: ai, b: bi, da: make([]bool, len(ai)), db: make([]bool, len(bi))}
	d.compare(0, len(ai), 0, len(bi))
	ops := d.script()

	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", oldName, newName)
	for start := 0; start < len(ops); {
		// Find the next change and the extent of its hunk: changes separated
		// by at most 2*context equal lines share a hunk.
		first := start
		for first < len(ops) && ops[first].kind == opEqual {
			first++
		}
		if first == len(ops) {
			break
		}
		last := first
		for i := first; i < len(ops); i++ {
			if ops[i].kind != opEqual {
				last = i
				continue
			}
			if i-last > 2*context {
				break
			}
		}
		from := max(first-context, start)
		to := min(last+context+1, len(ops))
		writeHunk(&out, ops[from:to], al, bl)
		start = to
	}
	return out.String()
}

type opKind byte

const (
	opEqual  opKind = ' '
	opDelete opKind = '-'
	opInsert opKind = '+'
)

// op is one line of the edit script: a line of a (equal, delete) or of b
// (insert). ai and bi are the positions in a and b before the line.
type op struct {
	kind   opKind
	ai, bi int
}

func writeHunk(out *strings.Builder, ops []op, al, bl []string) {
	var na, nb int
	for _, o := range ops {
		if o.kind != opInsert {
			na++
		}
		if o.kind != opDelete {
			nb++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(ops[0].ai, na), hunkRange(ops[0].bi, nb))
	for _, o := range ops {
		line := ""
		switch o.kind {
		case opInsert:
			line = bl[o.bi]
		default:
			line = al[o.ai]
		}
		out.WriteByte(byte(o.kind))
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange renders "start,count" as diff -u does: a one-line range is just
// its line number, and an empty range names the line before it.
func hunkRange(pos, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", pos)
	case 1:
		return fmt.Sprintf("%d", pos+1)
	}
	return fmt.Sprintf("%d,%d", pos+1, n)
}

// splitLines splits text after each newline; the last line keeps no newline
// when the text does not end with one, so "x" and "x\n" are different lines.
func splitLines(s []byte) []string {
	var lines []string
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, string(s))
			break
		}
		lines = append(lines, string(s[:i+1]))
		s = s[i+1:]
	}
	return lines
}

// internLines numbers distinct lines so that the diff compares ints.
func internLines(a, b []string) ([]int, []int) {
	ids := map[string]int{}
	conv := func(lines []string) []int {
		out := make([]int, len(lines))
		for i, l := range lines {
			id, ok := ids[l]
			if !ok {
				id = len(ids)
				ids[l] = id
			}
			out[i] = id
		}
		return out
	}
	return conv(a), conv(b)
}

// differ marks the lines of a that are deleted (da) and the lines of b that
// are inserted (db); every other line is common to both.
type differ struct {
	a, b   []int
	da, db []bool
}

// compare marks the changes between a[a0:a1] and b[b0:b1].
func (d *differ) compare(a0, a1, b0, b1 int) {
	for a0 < a1 && b0 < b1 && d.a[a0] == d.b[b0] {
		a0++
		b0++
	}
	for a0 < a1 && b0 < b1 && d.a[a1-1] == d.b[b1-1] {
		a1--
		b1--
	}
	if a0 == a1 || b0 == b1 {
		mark(d.da[a0:a1])
		mark(d.db[b0:b1])
		return
	}
	x, y, ok := d.bisect(a0, a1, b0, b1)
	if !ok || (x == a0 && y == b0) || (x == a1 && y == b1) {
		// No common line at all, or no progress: replace the whole range.
		mark(d.da[a0:a1])
		mark(d.db[b0:b1])
		return
	}
	d.compare(a0, x, b0, y)
	d.compare(x, a1, y, b1)
}

func mark(changed []bool) {
	for i := range changed {
		changed[i] = true
	}
}

// bisect finds a point (x, y) on a shortest edit path from (a0, b0) to
// (a1, b1) by running the forward and the reverse search of Myers' paper
// until they overlap (the "middle snake").
func (d *differ) bisect(a0, a1, b0, b1 int) (int, int, bool) {
	a, b := d.a[a0:a1], d.b[b0:b1]
	n, m := len(a), len(b)
	maxD := (n + m + 1) / 2
	off := maxD + 1
	vf := make([]int, 2*maxD+3)
	vb := make([]int, 2*maxD+3)
	for i := range vf {
		vf[i], vb[i] = -1, -1
	}
	vf[off+1], vb[off+1] = 0, 0
	delta := n - m
	front := delta%2 != 0
	// Bounds of the diagonals still inside the grid.
	fStart, fEnd, bStart, bEnd := 0, 0, 0, 0
	for step := 0; step < maxD; step++ {
		for k := -step + fStart; k <= step-fEnd; k += 2 {
			var x int
			if k == -step || (k != step && vf[off+k-1] < vf[off+k+1]) {
				x = vf[off+k+1]
			} else {
				x = vf[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			vf[off+k] = x
			switch {
			case x > n:
				fEnd += 2
			case y > m:
				fStart += 2
			case front:
				kb := off + delta - k
				if kb >= 0 && kb < len(vb) && vb[kb] != -1 && x >= n-vb[kb] {
					return a0 + x, b0 + y, true
				}
			}
		}
		for k := -step + bStart; k <= step-bEnd; k += 2 {
			var x int
			if k == -step || (k != step && vb[off+k-1] < vb[off+k+1]) {
				x = vb[off+k+1]
			} else {
				x = vb[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[n-x-1] == b[m-y-1] {
				x++
				y++
			}
			vb[off+k] = x
			switch {
			case x > n:
				bEnd += 2
			case y > m:
				bStart += 2
			case !front:
				kf := delta - k
				if off+kf >= 0 && off+kf < len(vf) && vf[off+kf] != -1 {
					xf := vf[off+kf]
					if xf >= n-x {
						return a0 + xf, b0 + xf - kf, true
					}
				}
			}
		}
		if step >= diffCostLimit {
			// Too expensive to be exact: split at the forward point that got
			// furthest. The diff stays correct, only perhaps not the shortest.
			bestX, bestY := -1, -1
			for k := -step + fStart; k <= step-fEnd; k += 2 {
				x := vf[off+k]
				y := x - k
				if x >= 0 && x <= n && y >= 0 && y <= m && x+y > bestX+bestY && (x < n || y < m) {
					bestX, bestY = x, y
				}
			}
			if bestX+bestY > 0 {
				return a0 + bestX, b0 + bestY, true
			}
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// diffCostLimit bounds the edit distance searched exactly in one bisection;
// beyond it (thousands of changed lines) the diff is correct but may be
// longer than the shortest, and costs O((N+M)·limit) instead of O(N·M).
const diffCostLimit = 1024

// script turns the marks into an edit script: within a change, deletions
// come before insertions, as diff prints them.
func (d *differ) script() []op {
	var ops []op
	i, j := 0, 0
	for i < len(d.a) || j < len(d.b) {
		switch {
		case i < len(d.a) && d.da[i]:
			ops = append(ops, op{opDelete, i, j})
			i++
		case j < len(d.b) && d.db[j]:
			ops = append(ops, op{opInsert, i, j})
			j++
		default:
			ops = append(ops, op{opEqual, i, j})
			i++
			j++
		}
	}
	return ops
}
