package dayops

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name    string
		a, b    string
		context int
		want    string
	}{
		{name: "equal", a: "x\ny\n", b: "x\ny\n", context: 3, want: ""},
		{name: "both empty", a: "", b: "", context: 3, want: ""},
		{
			name: "from empty", a: "", b: "a\nb\n", context: 3,
			want: "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n",
		},
		{
			name: "to empty", a: "a\n", b: "", context: 3,
			want: "--- old\n+++ new\n@@ -1 +0,0 @@\n-a\n",
		},
		{
			name: "one line changed in the middle", context: 1,
			a:    "1\n2\n3\n4\n5\n",
			b:    "1\n2\nthree\n4\n5\n",
			want: "--- old\n+++ new\n@@ -2,3 +2,3 @@\n 2\n-3\n+three\n 4\n",
		},
		{
			name: "two hunks", context: 1,
			a:    "1\n2\n3\n4\n5\n6\n7\n8\n9\n",
			b:    "one\n2\n3\n4\n5\n6\n7\n8\nnine\n",
			want: "--- old\n+++ new\n@@ -1,2 +1,2 @@\n-1\n+one\n 2\n@@ -8,2 +8,2 @@\n 8\n-9\n+nine\n",
		},
		{
			name: "close changes share a hunk", context: 1,
			a:    "1\n2\n3\n4\n",
			b:    "one\n2\n3\nfour\n",
			want: "--- old\n+++ new\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n-4\n+four\n",
		},
		{
			name: "insertion with zero context", context: 0,
			a:    "1\n2\n3\n",
			b:    "1\n2\nnew\n3\n",
			want: "--- old\n+++ new\n@@ -2,0 +3 @@\n+new\n",
		},
		{
			name: "missing newline at end", context: 3,
			a:    "a\nb",
			b:    "a\nb\n",
			want: "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
		},
		{
			name: "negative context means three", context: -1,
			a:    "1\n2\n3\n4\n5\n6\n7\n8\n",
			b:    "1\n2\n3\n4\nfive\n6\n7\n8\n",
			want: "--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			name: "definition edit", context: 3,
			a: "apiVersion: dayops/v1\nphase: day2\nname: restart-web\ndescription: Restart\nsteps:\n  - name: Restart\n    run: echo restarting\n",
			b: "apiVersion: dayops/v1\nphase: day2\nname: restart-web\ndescription: Restart the web tier\nsteps:\n  - name: Restart\n    run: systemctl restart web\n",
			want: "--- old\n+++ new\n@@ -1,7 +1,7 @@\n apiVersion: dayops/v1\n phase: day2\n name: restart-web\n" +
				"-description: Restart\n+description: Restart the web tier\n steps:\n   - name: Restart\n" +
				"-    run: echo restarting\n+    run: systemctl restart web\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := UnifiedDiff("old", "new", []byte(tt.a), []byte(tt.b), tt.context)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("UnifiedDiff (-want +got):\n%s\ngot:\n%s", diff, got)
			}
		})
	}
}

// TestUnifiedDiffRandom checks on random texts that the patch turns a into b
// and that its edit count is the minimum (n+m-2*LCS).
func TestUnifiedDiffRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 3000 {
		a := randomText(rng)
		b := randomText(rng)
		if rng.IntN(4) == 0 {
			b = mutate(rng, a)
		}
		ctx := rng.IntN(4)
		d := UnifiedDiff("a", "b", []byte(a), []byte(b), ctx)
		if a == b {
			if d != "" {
				t.Fatalf("iter %d: equal texts gave a diff:\n%s", iter, d)
			}
			continue
		}
		got, edits, err := applyUnified(a, d)
		if err != nil {
			t.Fatalf("iter %d: applying the diff: %v\na=%q\nb=%q\ndiff:\n%s", iter, err, a, b, d)
		}
		if got != b {
			t.Fatalf("iter %d: patch gives %q, want %q\ndiff:\n%s", iter, got, b, d)
		}
		la, lb := splitLines([]byte(a)), splitLines([]byte(b))
		if want := len(la) + len(lb) - 2*lcs(la, lb); edits != want {
			t.Fatalf("iter %d: %d edits, the minimum is %d\na=%q\nb=%q\ndiff:\n%s", iter, edits, want, a, b, d)
		}
	}
}

// TestUnifiedDiffPatchCLI feeds the diff to patch(1) when it is installed.
func TestUnifiedDiffPatchCLI(t *testing.T) {
	patch, err := exec.LookPath("patch")
	if err != nil {
		t.Skip("patch is not installed")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for iter := range 40 {
		a, b := randomText(rng), randomText(rng)
		if a == b {
			continue
		}
		dir := t.TempDir()
		file := filepath.Join(dir, "f")
		if err := os.WriteFile(file, []byte(a), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(patch, "-s", "-f", file)
		cmd.Stdin = strings.NewReader(UnifiedDiff("a/f", "b/f", []byte(a), []byte(b), 3))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("iter %d: patch: %v\n%s", iter, err, out)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != b {
			t.Fatalf("iter %d: patch(1) gives %q, want %q", iter, got, b)
		}
	}
}

func TestUnifiedDiffLarge(t *testing.T) {
	var a, b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&a, "line %d\n", i)
		if i%1000 == 0 {
			fmt.Fprintf(&b, "changed %d\n", i)
		} else {
			fmt.Fprintf(&b, "line %d\n", i)
		}
	}
	d := UnifiedDiff("a", "b", []byte(a.String()), []byte(b.String()), 3)
	got, edits, err := applyUnified(a.String(), d)
	if err != nil {
		t.Fatal(err)
	}
	if got != b.String() || edits != 40 {
		t.Fatalf("large diff: %d edits (want 40), result equal: %v", edits, got == b.String())
	}
	// Thousands of changes interleaved with common lines pass the exact
	// search's cost limit: the patch must still be right.
	var c strings.Builder
	for i := range 20000 {
		if i%3 == 0 {
			fmt.Fprintf(&c, "other %d\n", i)
		} else {
			fmt.Fprintf(&c, "line %d\n", i)
		}
	}
	d = UnifiedDiff("a", "c", []byte(a.String()), []byte(c.String()), 2)
	if got, _, err := applyUnified(a.String(), d); err != nil || got != c.String() {
		t.Fatalf("interleaved diff does not apply: %v", err)
	}
	// Nothing in common: the diff replaces everything.
	d = UnifiedDiff("a", "b", []byte(a.String()), []byte(strings.ToUpper(a.String())), 3)
	if _, edits, err := applyUnified(a.String(), d); err != nil || edits != 40000 {
		t.Fatalf("disjoint diff: %d edits, %v", edits, err)
	}
}

func randomText(rng *rand.Rand) string {
	n := rng.IntN(12)
	var b strings.Builder
	for i := range n {
		b.WriteString(string(rune('a' + rng.IntN(4))))
		if i < n-1 || rng.IntN(3) > 0 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func mutate(rng *rand.Rand, s string) string {
	lines := splitLines([]byte(s))
	for range rng.IntN(3) + 1 {
		i := 0
		if len(lines) > 0 {
			i = rng.IntN(len(lines))
		}
		switch rng.IntN(3) {
		case 0:
			lines = append(lines[:i], append([]string{"x\n"}, lines[i:]...)...)
		case 1:
			if len(lines) > 0 {
				lines = append(lines[:i], lines[i+1:]...)
			}
		default:
			if len(lines) > 0 {
				lines[i] = "y\n"
			}
		}
	}
	return strings.Join(lines, "")
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

// applyUnified applies a unified diff to a, checking every context and
// deleted line and every hunk header, and counts the changed lines.
func applyUnified(a, d string) (string, int, error) {
	src := splitLines([]byte(a))
	lines := strings.Split(d, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "--- ") || !strings.HasPrefix(lines[1], "+++ ") {
		return "", 0, fmt.Errorf("bad header")
	}
	var out []string
	pos, edits := 0, 0
	i := 2
	for i < len(lines) && lines[i] != "" {
		var oStart, oc, ns, nc int
		h := lines[i]
		if !strings.HasPrefix(h, "@@ -") || !strings.HasSuffix(h, " @@") {
			return "", 0, fmt.Errorf("bad hunk header %q", h)
		}
		parts := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(h, "@@ "), " @@"))
		if len(parts) != 2 {
			return "", 0, fmt.Errorf("bad hunk header %q", h)
		}
		var err error
		if oStart, oc, err = parseRange(parts[0][1:]); err != nil {
			return "", 0, err
		}
		if ns, nc, err = parseRange(parts[1][1:]); err != nil {
			return "", 0, err
		}
		start := oStart - 1
		if oc == 0 {
			start = oStart
		}
		if start < pos {
			return "", 0, fmt.Errorf("hunk %q overlaps", h)
		}
		out = append(out, src[pos:start]...)
		if nstart := ns - 1; nc == 0 {
			nstart = ns
			if nstart != len(out) {
				return "", 0, fmt.Errorf("hunk %q: new start %d, have %d lines", h, nstart, len(out))
			}
		} else if nstart != len(out) {
			return "", 0, fmt.Errorf("hunk %q: new start %d, have %d lines", h, nstart, len(out))
		}
		pos = start
		i++
		seenOld, seenNew := 0, 0
		for i < len(lines) && lines[i] != "" && !strings.HasPrefix(lines[i], "@@") {
			l := lines[i]
			text := l[1:] + "\n"
			if i+1 < len(lines) && lines[i+1] == `\ No newline at end of file` {
				text = l[1:]
				i++
			}
			switch l[0] {
			case ' ', '-':
				if pos >= len(src) || src[pos] != text {
					return "", 0, fmt.Errorf("line %q does not match the source", l)
				}
				pos++
				seenOld++
				if l[0] == ' ' {
					out = append(out, text)
					seenNew++
				} else {
					edits++
				}
			case '+':
				out = append(out, text)
				seenNew++
				edits++
			default:
				return "", 0, fmt.Errorf("bad line %q", l)
			}
			i++
		}
		if seenOld != oc || seenNew != nc {
			return "", 0, fmt.Errorf("hunk %q has %d old and %d new lines", h, seenOld, seenNew)
		}
	}
	out = append(out, src[pos:]...)
	return strings.Join(out, ""), edits, nil
}

func parseRange(s string) (int, int, error) {
	start, count, ok := strings.Cut(s, ",")
	n, err := strconv.Atoi(start)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return n, 1, nil
	}
	c, err := strconv.Atoi(count)
	return n, c, err
}

func FuzzUnifiedDiff(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nc\nd", 3)
	f.Add("", "x", 0)
	f.Fuzz(func(t *testing.T, a, b string, context int) {
		context %= 8
		d := UnifiedDiff("a", "b", []byte(a), []byte(b), context)
		if a == b {
			if d != "" {
				t.Fatalf("equal texts gave a diff")
			}
			return
		}
		if strings.Contains(a, "\\ No newline") || strings.Contains(b, "\\ No newline") {
			return // the test's applier cannot tell such a line from the marker
		}
		got, _, err := applyUnified(a, d)
		if err != nil || got != b {
			t.Fatalf("diff does not turn a into b (%v):\n%s", err, d)
		}
	})
}
