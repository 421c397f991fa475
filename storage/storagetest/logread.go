package storagetest

import (
	"context"
	"testing"

	"github.com/dayops/dayops"
	"github.com/google/go-cmp/cmp"
)

func testLogTailAndSearch(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	run := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunRunning))
	other := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunRunning))
	texts := []string{"Pulling image", "pulled 100% of it", "ERROR: disk_full", "retrying", "error again", `a\b`, "done"}
	var lines []dayops.LogLine
	for i, text := range texts {
		lines = append(lines, dayops.LogLine{RunID: run.ID, Step: i / 3, Seq: int64(i + 1), Time: clk.Now(), Stream: dayops.Stdout, Text: text})
	}
	if err := s.AppendLogs(ctx, lines); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(ctx, []dayops.LogLine{{RunID: other.ID, Seq: 1, Time: clk.Now(), Stream: dayops.Stdout, Text: "error elsewhere"}}); err != nil {
		t.Fatal(err)
	}
	seqs := func(ls []dayops.LogLine) []int64 {
		var out []int64
		for _, l := range ls {
			out = append(out, l.Seq)
		}
		return out
	}
	for _, tc := range []struct {
		before int64
		limit  int
		want   []int64
	}{
		{0, 3, []int64{5, 6, 7}},
		{0, 100, []int64{1, 2, 3, 4, 5, 6, 7}},
		{5, 2, []int64{3, 4}},
		{2, 5, []int64{1}},
		{1, 5, nil},
	} {
		got, err := s.LogsBefore(ctx, run.ID, tc.before, tc.limit)
		if err != nil {
			t.Fatalf("LogsBefore: %v", err)
		}
		if diff := cmp.Diff(tc.want, seqs(got)); diff != "" {
			t.Errorf("LogsBefore(%d, %d) (-want +got):\n%s", tc.before, tc.limit, diff)
		}
	}
	if got, _ := s.LogsBefore(ctx, run.ID, 0, 1); len(got) != 1 || !cmp.Equal(got[0], lines[6]) {
		t.Errorf("LogsBefore(0, 1) = %+v, want the whole last line %+v", got, lines[6])
	}
	WantKind(t, func() error { _, err := s.LogsBefore(ctx, run.ID, 0, 0); return err }(), dayops.KindInvalid, "positive limit")

	for _, tc := range []struct {
		step  int
		text  string
		after int64
		limit int
		want  []int64
	}{
		{-1, "error", 0, 10, []int64{3, 5}},
		{-1, "ERROR", 0, 10, []int64{3, 5}},
		{-1, "error", 3, 10, []int64{5}},
		{-1, "error", 0, 1, []int64{3}},
		{-1, "100%", 0, 10, []int64{2}},  // % is literal
		{-1, "g_i", 0, 10, nil},          // _ is literal ("Pulling image")
		{-1, "disk_", 0, 10, []int64{3}}, // and matches itself
		{-1, `a\b`, 0, 10, []int64{6}},
		{-1, "nothing like it", 0, 10, nil},
		{1, "", 0, 10, []int64{4, 5, 6}}, // steps: 0 0 0 1 1 1 2
		{1, "", 4, 1, []int64{5}},
		{1, "error", 0, 10, []int64{5}},
		{2, "", 0, 10, []int64{7}},
		{3, "", 0, 10, nil},
	} {
		got, err := s.SearchLogs(ctx, run.ID, tc.step, tc.text, tc.after, tc.limit)
		if err != nil {
			t.Fatalf("SearchLogs(%q): %v", tc.text, err)
		}
		if diff := cmp.Diff(tc.want, seqs(got)); diff != "" {
			t.Errorf("SearchLogs(step %d, %q, after %d, limit %d) (-want +got):\n%s", tc.step, tc.text, tc.after, tc.limit, diff)
		}
	}
	for _, bad := range []struct {
		text  string
		limit int
		want  string
	}{{"", 10, "some text to look for or a step"}, {"x", 0, "positive limit"}} {
		_, err := s.SearchLogs(ctx, run.ID, -1, bad.text, 0, bad.limit)
		WantKind(t, err, dayops.KindInvalid, bad.want)
	}
}
