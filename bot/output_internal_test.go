package bot

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

func TestOutputFileCap(t *testing.T) {
	line := strings.Repeat("x", 99) // 100 bytes with its newline
	for _, tc := range []struct {
		name        string
		limit       int
		lines       int
		wantLines   int
		wantDropped string // "" when nothing is left out
	}{
		{name: "all fits", limit: 10_000, lines: 50, wantLines: 50},
		{name: "capped", limit: 1_000 + noteRoom + 11, lines: 50, wantLines: 9, wantDropped: "… 41 more lines (4100 bytes) left out"},
		{name: "nothing fits", limit: noteRoom, lines: 3, wantLines: 0, wantDropped: "… 3 more lines (300 bytes) left out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := outputWriter{limit: tc.limit, names: map[int]string{0: "build"}, step: -1}
			for i := range tc.lines {
				w.add(dayops.LogLine{Step: 0, Seq: int64(i + 1), Text: line})
			}
			w.finish("dayops logs 1")
			got := w.buf.String()
			if diff := cmp.Diff(tc.wantLines, w.lines); diff != "" {
				t.Errorf("lines written (-want +got):\n%s", diff)
			}
			if len(got) > tc.limit {
				t.Errorf("file of %d bytes; the cap is %d", len(got), tc.limit)
			}
			if tc.wantDropped == "" {
				if strings.Contains(got, "left out") {
					t.Errorf("a note of lines left out where none were:\n%s", got)
				}
				return
			}
			if !strings.Contains(got, tc.wantDropped) || !strings.Contains(got, "dayops logs 1") {
				t.Errorf("file ends %q; want %q and where to read it all", got[max(0, len(got)-200):], tc.wantDropped)
			}
		})
	}
}

func TestFilePlainSaysWhereToReadIt(t *testing.T) {
	m := Message{Text: "Full output of run 3", File: &File{Name: "run-3-output.txt", Content: []byte("a\n"), Elsewhere: "dayops logs 3"}}
	if got, want := m.Plain(), fmt.Sprintf("Full output of run 3\nread it with `%s`", "dayops logs 3"); got != want {
		t.Errorf("Plain() = %q; want %q", got, want)
	}
}
