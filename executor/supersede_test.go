package executor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

const supersedable = `
params:
  tag: {type: string, required: true}
concurrency: deploy-${{ env }}
environments:
  staging: {}
steps:
  - name: Deploy
    run: |
      echo "$DAYOPS_PARAM_TAG" >> started.txt
      while [ ! -f "go-$DAYOPS_PARAM_TAG" ]; do sleep 0.02; done
`

// TestSupersede: a queued run is superseded — it ends cancelled with the
// note, as the trigger identity, without running anything — and the one
// behind it moves up; a running run and an ended one are left alone.
func TestSupersede(t *testing.T) {
	h := newHarness(t, map[string]string{"d.yaml": def("deploy", supersedable)}, nil)
	ctx := context.Background()
	pr := dayops.TriggerActor(dayops.TriggerPullRequest)
	start := func(tag string) *dayops.Run {
		return h.start(dayops.RunRequest{Definition: "deploy", Environment: "staging", Params: map[string]string{"tag": tag},
			Actor: pr, Trigger: dayops.TriggerPullRequest})
	}
	running, old, newer := start("a"), start("b"), start("c")
	waitFile(t, filepath.Join(h.dir, "started.txt"))
	h.wait(old.ID, dayops.RunQueued)
	h.wait(newer.ID, dayops.RunQueued)
	if got, _ := h.store.Run(ctx, newer.ID); !strings.HasPrefix(got.Reason, fmt.Sprintf("queued behind run %d (deploy, ", old.ID)) &&
		!strings.HasPrefix(got.Reason, fmt.Sprintf("queued behind run %d (deploy, ", running.ID)) {
		t.Errorf("queued run's reason %q does not say what it is queued behind", got.Reason)
	}

	note := fmt.Sprintf("superseded by run %d (PR org/web#13)", newer.ID)
	for _, tc := range []struct {
		name string
		id   int64
		want bool
	}{
		{"a running run", running.ID, false},
		{"a queued run", old.ID, true},
		{"a run that ended", old.ID, false},
		{"an unknown run", 999, false},
	} {
		ok, err := h.exec.Supersede(ctx, tc.id, pr, note)
		if err != nil || ok != tc.want {
			t.Fatalf("%s: Supersede = %v, %v; want %v", tc.name, ok, err, tc.want)
		}
		if tc.want {
			got := h.done(old.ID)
			if got.State != dayops.RunCancelled || got.Reason != note || got.Steps[0].State == dayops.StepSucceeded {
				t.Errorf("superseded run: %s %q %v", got.State, got.Reason, stepStates(got))
			}
		}
	}
	audits, err := h.store.AuditEvents(ctx, dayops.AuditFilter{RunID: old.ID})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, a := range audits {
		found = found || (a.Actor == pr.ID && strings.Contains(a.Reason, "→ cancelled: "+note))
	}
	if !found {
		t.Errorf("no audit row of trigger:pull_request cancelling run %d: %+v", old.ID, audits)
	}
	for _, tag := range []string{"a", "c"} {
		if err := os.WriteFile(filepath.Join(h.dir, "go-"+tag), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.done(running.ID); got.State != dayops.RunSucceeded {
		t.Errorf("running run: %s %q", got.State, got.Reason)
	}
	if got := h.done(newer.ID); got.State != dayops.RunSucceeded {
		t.Errorf("newer run: %s %q", got.State, got.Reason)
	}
	if b, _ := os.ReadFile(filepath.Join(h.dir, "started.txt")); string(b) != "a\nc\n" {
		t.Errorf("steps started for %q, want a and c only", b)
	}
}

// TestSupersedeRacesTheQueue: Supersede called just as the run ahead ends
// either cancels the queued run before anything of it runs, or leaves it
// to run to its end; never both.
func TestSupersedeRacesTheQueue(t *testing.T) {
	h := newHarness(t, map[string]string{"d.yaml": def("deploy", supersedable)}, nil)
	ctx := context.Background()
	var superseded, ran int
	for i := range 30 {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		first := h.start(dayops.RunRequest{Definition: "deploy", Environment: "staging", Params: map[string]string{"tag": a}})
		second := h.start(dayops.RunRequest{Definition: "deploy", Environment: "staging", Params: map[string]string{"tag": b}})
		h.wait(second.ID, dayops.RunQueued)
		if err := os.WriteFile(filepath.Join(h.dir, "go-"+b), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(h.dir, "go-"+a), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i%10) * 5 * time.Millisecond)
		ok, err := h.exec.Supersede(ctx, second.ID, dayops.TriggerActor(dayops.TriggerPullRequest), "superseded")
		if err != nil {
			t.Fatal(err)
		}
		h.done(first.ID)
		got := h.done(second.ID)
		started, _ := os.ReadFile(filepath.Join(h.dir, "started.txt"))
		didRun := strings.Contains(string(started), b+"\n")
		switch {
		case ok && (got.State != dayops.RunCancelled || didRun):
			t.Fatalf("round %d: superseded, yet %s (steps started: %v)", i, got.State, didRun)
		case !ok && got.State != dayops.RunSucceeded:
			t.Fatalf("round %d: not superseded, yet %s %q", i, got.State, got.Reason)
		case ok:
			superseded++
		default:
			ran++
		}
	}
	t.Logf("superseded %d, ran %d", superseded, ran)
}

// TestQueuedReasonFollowsTheQueue: a queued run's stored reason names the
// run it waits behind now, not the one it first waited for.
func TestQueuedReasonFollowsTheQueue(t *testing.T) {
	h := newHarness(t, map[string]string{"d.yaml": def("deploy", supersedable)}, nil)
	ctx := context.Background()
	start := func(tag string) *dayops.Run {
		return h.start(dayops.RunRequest{Definition: "deploy", Environment: "staging", Params: map[string]string{"tag": tag}})
	}
	a, b, c := start("a"), start("b"), start("c")
	behind := func(id, ahead int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		want := fmt.Sprintf("queued behind run %d (deploy, running)", ahead)
		for {
			r, err := h.store.Run(ctx, id)
			if err == nil && r.State == dayops.RunQueued && strings.HasPrefix(r.Reason, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %d: %s %q, want %q…", id, r.State, r.Reason, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	behind(c.ID, a.ID)
	if err := os.WriteFile(filepath.Join(h.dir, "go-a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.wait(b.ID, dayops.RunRunning)
	behind(c.ID, b.ID)
	for _, tag := range []string{"b", "c"} {
		if err := os.WriteFile(filepath.Join(h.dir, "go-"+tag), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.done(c.ID); got.State != dayops.RunSucceeded {
		t.Errorf("run c: %s %q", got.State, got.Reason)
	}
}

// TestWithdraw: a run waiting for the approvals it needs before it starts
// is withdrawn — cancelled with the note, nothing of it run — while
// Supersede leaves it alone; a run waiting at an approval step (its first
// step ran) and a run that ended are never withdrawn.
func TestWithdraw(t *testing.T) {
	body := `
environments:
  production:
    approvals: {count: 1, from: [sre]}
steps:
  - name: Restart
    run: echo restarted >> log.txt
  - name: Confirm
    approval: Check the graphs
`
	h := newHarness(t, map[string]string{"r.yaml": def("restart", body)}, nil)
	ctx := context.Background()
	am := dayops.TriggerActor(dayops.TriggerAlert)
	req := dayops.RunRequest{Definition: "restart", Environment: "production", Actor: am, Trigger: dayops.TriggerAlert}
	waiting := h.start(req)
	h.wait(waiting.ID, dayops.RunAwaitingApproval)
	if ok, err := h.exec.Supersede(ctx, waiting.ID, am, "resolved"); ok || err != nil {
		t.Fatalf("Supersede of a run awaiting approval = %v, %v; want false", ok, err)
	}
	note := "the alert resolved before the run was approved"
	if ok, err := h.exec.Withdraw(ctx, waiting.ID, am, note); !ok || err != nil {
		t.Fatalf("Withdraw of a run awaiting approval = %v, %v; want true", ok, err)
	}
	got := h.done(waiting.ID)
	if got.State != dayops.RunCancelled || got.Reason != note || got.Steps[0].State == dayops.StepSucceeded {
		t.Errorf("withdrawn run: %s %q %v", got.State, got.Reason, stepStates(got))
	}
	if ok, err := h.exec.Withdraw(ctx, waiting.ID, am, note); ok || err != nil {
		t.Errorf("Withdraw of an ended run = %v, %v", ok, err)
	}

	atStep := h.start(req)
	h.wait(atStep.ID, dayops.RunAwaitingApproval)
	if _, err := h.exec.Approve(ctx, atStep.ID, actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	h.waitStep(atStep.ID, 1, dayops.StepAwaitingApproval)
	if ok, err := h.exec.Withdraw(ctx, atStep.ID, am, note); ok || err != nil {
		t.Fatalf("Withdraw of a run at an approval step = %v, %v; want false", ok, err)
	}
	if b, _ := os.ReadFile(filepath.Join(h.dir, "log.txt")); string(b) != "restarted\n" {
		t.Errorf("log.txt = %q: only the approved run restarts", b)
	}
}
