package executor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

const queued = `
params:
  key: {type: string, default: shared}
  tag: {type: string, required: true}
concurrency: ${{ params.key }}
steps:
  - name: Work
    run: |
      echo "start $DAYOPS_PARAM_TAG" >> order.txt
      sleep 0.3
      echo "end $DAYOPS_PARAM_TAG" >> order.txt
`

func TestSameConcurrencyKeyRunsInArrivalOrder(t *testing.T) {
	h := newHarness(t, map[string]string{"q.yaml": def("queued", queued)}, nil)
	var ids []int64
	for _, tag := range []string{"a", "b", "c"} {
		ids = append(ids, h.start(dayops.RunRequest{Definition: "queued", Params: map[string]string{"tag": tag}}).ID)
	}
	b := h.wait(ids[1], dayops.RunQueued)
	if want := fmt.Sprintf("waiting for run %d (queued, ", ids[0]); !strings.HasPrefix(b.Reason, want) || !strings.HasSuffix(b.Reason, "which holds the concurrency key shared") {
		t.Errorf("reason of the second run %q, want it to name run %d", b.Reason, ids[0])
	}
	if err := h.exec.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got := h.done(id); got.State != dayops.RunSucceeded {
			t.Fatalf("run %d: %s %q", id, got.State, got.Reason)
		}
	}
	if got := waitFile(t, filepath.Join(h.dir, "order.txt")); got != "start a\nend a\nstart b\nend b\nstart c\nend c" {
		t.Errorf("order:\n%s", got)
	}
}

func TestDifferentKeysRunInParallelUpToTheLimit(t *testing.T) {
	for _, tt := range []struct {
		parallel int
		overlap  bool
	}{{4, true}, {1, false}} {
		t.Run(fmt.Sprint(tt.parallel), func(t *testing.T) {
			h := newHarness(t, map[string]string{"q.yaml": def("queued", queued)}, func(o *executor.Options) { o.MaxParallel = tt.parallel })
			a := h.start(dayops.RunRequest{Definition: "queued", Params: map[string]string{"tag": "a", "key": "one"}})
			b := h.start(dayops.RunRequest{Definition: "queued", Params: map[string]string{"tag": "b", "key": "two"}})
			h.exec.Wait(context.Background())
			h.done(a.ID)
			h.done(b.ID)
			got := waitFile(t, filepath.Join(h.dir, "order.txt"))
			sequential := got == "start a\nend a\nstart b\nend b"
			if sequential == tt.overlap {
				t.Errorf("MaxParallel %d: order\n%s", tt.parallel, got)
			}
		})
	}
}

func TestEnvironmentLock(t *testing.T) {
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, nil)
	ctx := context.Background()
	req := dayops.RunRequest{Definition: "deploy-web", Environment: "staging", Params: map[string]string{"version": "v1.2.0"}}
	if err := h.exec.Lock(ctx, "staging", actor("carol"), thread, "release freeze"); err != nil {
		t.Fatal(err)
	}
	if err := h.exec.Lock(ctx, "staging", actor("bob"), thread, ""); dayops.KindOf(err) != dayops.KindConflict {
		t.Errorf("second lock: %v", err)
	}
	r := h.start(req)
	got := h.wait(r.ID, dayops.RunQueued)
	if got.Reason != "environment staging is locked by carol (release freeze): it runs when someone unlocks it" {
		t.Errorf("reason %q", got.Reason)
	}
	time.Sleep(300 * time.Millisecond)
	if got := h.wait(r.ID, dayops.RunQueued); got.State != dayops.RunQueued {
		t.Fatal("ran while locked")
	}
	if err := h.exec.Unlock(ctx, "staging", actor("carol"), thread); err != nil {
		t.Fatal(err)
	}
	if got := h.done(r.ID); got.State != dayops.RunSucceeded {
		t.Fatalf("after unlock: %s %q", got.State, got.Reason)
	}
	evs, _ := h.store.AuditEvents(ctx, dayops.AuditFilter{Limit: 500})
	var actions []string
	for _, ev := range evs {
		if ev.Action == "lock" || ev.Action == "unlock" {
			actions = append(actions, ev.Action+" "+ev.Actor)
		}
	}
	if len(actions) < 2 {
		t.Errorf("lock and unlock were not audited: %v", actions)
	}
}

func TestRefuseWhenLocked(t *testing.T) {
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, func(o *executor.Options) { o.RefuseWhenLocked = true })
	ctx := context.Background()
	if err := h.exec.Lock(ctx, "production", actor("carol"), thread, "incident"); err != nil {
		t.Fatal(err)
	}
	_, err := h.exec.Start(ctx, dayops.RunRequest{Definition: "deploy-web", Environment: "production", Params: map[string]string{"version": "v1.2.0"}, Actor: actor("alice")})
	if dayops.KindOf(err) != dayops.KindConflict || !strings.Contains(dayops.UserMessage(err, ""), "environment production is locked by carol (incident)") {
		t.Fatalf("start in a locked environment: %v", err)
	}
	// Another environment is not affected.
	r := h.start(dayops.RunRequest{Definition: "deploy-web", Environment: "staging", Params: map[string]string{"version": "v1.2.0"}})
	if got := h.done(r.ID); got.State != dayops.RunSucceeded {
		t.Fatalf("staging: %s %q", got.State, got.Reason)
	}
}

func TestCancel(t *testing.T) {
	body := `
concurrency: one-at-a-time
steps:
  - name: Sleep
    run: |
      sleep 300 &
      echo $! > sleep.pid
      wait
  - name: Never
    run: echo never >> never.txt
rollback:
  - name: Undo
    run: echo undone >> undone.txt
`
	h := newHarness(t, map[string]string{"c.yaml": def("sleepy", body)}, nil)
	ctx := context.Background()
	running := h.start(dayops.RunRequest{Definition: "sleepy"})
	waiting := h.start(dayops.RunRequest{Definition: "sleepy"})
	pid := readPid(t, filepath.Join(h.dir, "sleep.pid"))
	h.wait(waiting.ID, dayops.RunQueued)

	if err := h.exec.Cancel(ctx, waiting.ID, actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	got := h.done(waiting.ID)
	if got.State != dayops.RunCancelled || got.Rollback != dayops.RollbackNone || got.Reason != "cancelled by bob" {
		t.Errorf("queued run: %s %s %q", got.State, got.Rollback, got.Reason)
	}
	start := time.Now()
	if err := h.exec.Cancel(ctx, running.ID, actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	got = h.done(running.ID)
	if got.State != dayops.RunCancelled || got.Rollback != dayops.RolledBack || got.Reason != "cancelled by bob during step Sleep; rolled back" {
		t.Errorf("running run: %s %s %q", got.State, got.Rollback, got.Reason)
	}
	waitGone(t, pid, time.Second)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancel took %s", d)
	}
	if got := waitFile(t, filepath.Join(h.dir, "undone.txt")); got != "undone" {
		t.Errorf("rollback output %q", got)
	}
	if s := stepStates(got); strings.Join(s, " ") != "Sleep=cancelled Never=skipped Undo=succeeded" {
		t.Errorf("steps %v", s)
	}
	if err := h.exec.Cancel(ctx, running.ID, actor("bob"), thread); dayops.KindOf(err) != dayops.KindConflict {
		t.Errorf("cancelling an ended run: %v", err)
	}
}
