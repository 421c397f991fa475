package executor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
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
	if want := fmt.Sprintf("queued behind run %d (queued, ", ids[0]); !strings.HasPrefix(b.Reason, want) || !strings.HasSuffix(b.Reason, "which holds the concurrency key shared") {
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

// parallel is a run under a key of its own. With a peer, its step stays
// until the peer's step has started too (at most 15 s): the two ran at once.
const parallel = `
params:
  tag: {type: string, required: true}
  peer: {type: string, default: none}
concurrency: ${{ params.tag }}
steps:
  - name: Work
    run: |
      echo "start $DAYOPS_PARAM_TAG" >> order.txt
      if [ "$DAYOPS_PARAM_PEER" = none ]; then
        sleep 0.3
      else
        for i in $(seq 1 300); do grep -qx "start $DAYOPS_PARAM_PEER" order.txt && break; sleep 0.05; done
      fi
      echo "end $DAYOPS_PARAM_TAG" >> order.txt
`

func TestDifferentKeysRunInParallelUpToTheLimit(t *testing.T) {
	for _, tt := range []struct {
		parallel int
		runs     [][2]string // tag, peer
		check    func(lines []string) bool
	}{
		// Two slots: a and b wait for each other, which ends only if they run
		// at once; c, started third, waits for one of the two to end.
		{2, [][2]string{{"a", "b"}, {"b", "a"}, {"c", "none"}}, func(l []string) bool {
			starts := []string{l[0], l[1]}
			slices.Sort(starts)
			firstEnd := slices.IndexFunc(l, func(s string) bool { return strings.HasPrefix(s, "end ") })
			return slices.Equal(starts, []string{"start a", "start b"}) && slices.Index(l, "start c") > firstEnd
		}},
		// One slot: the runs take turns, first come first served.
		{1, [][2]string{{"a", "none"}, {"b", "none"}, {"c", "none"}, {"d", "none"}}, func(l []string) bool {
			return strings.Join(l, ",") == "start a,end a,start b,end b,start c,end c,start d,end d"
		}},
	} {
		t.Run(fmt.Sprint(tt.parallel), func(t *testing.T) {
			h := newHarness(t, map[string]string{"p.yaml": def("parallel", parallel)}, func(o *executor.Options) { o.MaxParallel = tt.parallel })
			var ids []int64
			for _, r := range tt.runs {
				ids = append(ids, h.start(dayops.RunRequest{Definition: "parallel", Params: map[string]string{"tag": r[0], "peer": r[1]}}).ID)
			}
			for _, id := range ids {
				if got := h.done(id); got.State != dayops.RunSucceeded {
					t.Fatalf("run %d: %s %q", id, got.State, got.Reason)
				}
			}
			got := waitFile(t, filepath.Join(h.dir, "order.txt"))
			if lines := strings.Split(got, "\n"); len(lines) != 2*len(tt.runs) || !tt.check(lines) {
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
