package executor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

// TestAFencedHolderStopsItsSteps: a dayops process of another host took over
// a run (its lease had expired: this process was paused). On its next
// heartbeat this process finds it lost the run: it terminates the running
// step and starts nothing more of it, not even its rollback.
func TestAFencedHolderStopsItsSteps(t *testing.T) {
	body := `
concurrency: k
steps:
  - name: Long
    run: |
      echo $$ > long.pid
      sleep 60
  - name: Next
    run: touch next.ran
rollback:
  - name: Undo
    run: touch rollback.ran
`
	h := newHarness(t, map[string]string{"f.yaml": def("fenced", body)}, func(o *executor.Options) {
		o.Owner = "host-a:100:1"
		o.HeartbeatInterval = 100 * time.Millisecond
		o.KillGrace = 500 * time.Millisecond
	})
	r := h.start(dayops.RunRequest{Definition: "fenced"})
	pid := readPid(t, filepath.Join(h.dir, "long.pid"))
	// Another host's dayops takes the run over.
	if err := h.store.SetOwner(context.Background(), r.ID, "host-b:200:2", time.Now()); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid, 5*time.Second)
	if err := h.exec.Wait(contextWithTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("the fenced run did not stop: %v", err)
	}
	for _, f := range []string{"next.ran", "rollback.ran"} {
		if _, err := os.Stat(filepath.Join(h.dir, f)); err == nil {
			t.Errorf("%s: a step of the lost run was started", f)
		}
	}
	if logs := h.logs(r.ID); strings.Contains(logs, "next.ran") {
		t.Errorf("logs: %s", logs)
	}
	// The run is the new owner's: this process neither ended it nor gave
	// up its concurrency key.
	got, err := h.store.Run(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != dayops.RunRunning || got.Owner != "host-b:200:2" || got.Steps[0].State != dayops.StepRunning {
		t.Errorf("the lost run was changed: %s, owner %s, steps %v", got.State, got.Owner, stepStates(got))
	}
	if head, err := h.store.QueueHead(context.Background(), "k"); err != nil || head != r.ID {
		t.Errorf("queue head of k: %d (%v), want run %d", head, err, r.ID)
	}
}

func contextWithTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
