package executor_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

// TestOutputBudget runs steps that print far more than their budget — one
// 50 MB line, and `yes` for 200 MB — and checks that what is stored stays
// within the budget, that the head and the tail are kept, and that a line says
// what was dropped.
func TestOutputBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("prints 250 MB")
	}
	const stepBudget, runBudget = 4 << 20, 6 << 20
	yes := "200000000"
	if raceDetector {
		yes = "20000000" // 10 M lines: still 10 times the budget
	}
	body := `
steps:
  - name: Long line
    run: |
      echo first-line
      head -c 50000000 /dev/zero | tr '\0' 'x'; echo
      echo last-line-of-long
  - name: Yes
    run: |
      echo yes-begins
      head -c ` + yes + ` < <(yes)
      echo yes-ends
  - name: After
    run: echo after-the-floods
`
	h := newHarness(t, map[string]string{"b.yaml": def("floods", body)}, func(o *executor.Options) {
		o.StepOutputBudget, o.RunOutputBudget = stepBudget, runBudget
		o.DefaultTimeout = 5 * time.Minute
	})
	began := time.Now()
	r := h.start(dayops.RunRequest{Definition: "floods"})
	got := h.done(r.ID)
	took := time.Since(began)
	if got.State != dayops.RunSucceeded {
		t.Fatalf("run %s: %s", got.State, got.Reason)
	}
	for _, st := range got.Steps {
		t.Logf("step %s took %s", st.Name, st.EndedAt.Sub(st.StartedAt).Round(time.Millisecond))
	}
	lines, err := h.store.Logs(context.Background(), r.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int]int64{}
	var total int64
	var notes []string
	first, last := map[int]string{}, map[int]string{}
	for _, l := range lines {
		if l.Stream == dayops.System {
			notes = append(notes, l.Text)
			continue
		}
		n := int64(len(l.Text)) + 64
		stored[l.Step] += n
		total += n
		if _, ok := first[l.Step]; !ok {
			first[l.Step] = l.Text
		}
		last[l.Step] = l.Text
	}
	t.Logf("50 MB + %s bytes of output in %s; stored %d lines, %d bytes charged; per step %v", yes, took.Round(time.Millisecond), len(lines), total, stored)
	for step, n := range stored {
		if n > stepBudget+64<<10 {
			t.Errorf("step %d stored %d bytes, over its budget of %d", step, n, stepBudget)
		}
	}
	if total > runBudget+3*(64<<10) {
		t.Errorf("the run stored %d bytes, over its budget of %d", total, runBudget)
	}
	for step, want := range map[int][2]string{0: {"first-line", "last-line-of-long"}, 1: {"yes-begins", "yes-ends"}, 2: {"after-the-floods", "after-the-floods"}} {
		if first[step] != want[0] || last[step] != want[1] {
			t.Errorf("step %d: head %q, tail %q; want %q and %q", step, dayops.Truncate(first[step], 40), dayops.Truncate(last[step], 40), want[0], want[1])
		}
	}
	wantNotes := []string{
		"output over its budget of 4 MiB per step: ", // the long line
		"output over the run's budget of 6 MiB: ",    // yes: the run had 2 MiB left
	}
	for i, w := range wantNotes {
		if i >= len(notes) || !strings.HasPrefix(notes[i], w) || !strings.Contains(notes[i], "dropped here; the last ") {
			t.Errorf("note %d: %q, want it to begin %q", i, notes, w)
		}
	}
	if len(notes) == 2 && !strings.Contains(notes[1], " lines (") {
		t.Errorf("the note does not count dropped lines and bytes: %q", notes[1])
	}
	if fi, err := os.Stat(h.db); err == nil {
		wal, _ := os.Stat(h.db + "-wal")
		size := fi.Size()
		if wal != nil {
			size += wal.Size()
		}
		t.Logf("database file + WAL: %d bytes", size)
		if size > 4*runBudget {
			t.Errorf("database and WAL take %d bytes for a run budget of %d", size, runBudget)
		}
	}
}
