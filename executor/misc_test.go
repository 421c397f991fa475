package executor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

func TestRollbackCommand(t *testing.T) {
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, nil)
	ctx := context.Background()
	if _, err := h.exec.Rollback(ctx, "web", "staging", actor("alice"), thread); dayops.KindOf(err) != dayops.KindNotFound ||
		dayops.UserMessage(err, "") != "nothing to roll back: web has no successful deploy to staging" {
		t.Errorf("nothing deployed: %v", err)
	}
	if _, err := h.exec.Rollback(ctx, "api", "staging", actor("alice"), thread); dayops.KindOf(err) != dayops.KindNotFound {
		t.Errorf("unknown service: %v", err)
	}
	var last int64
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.1.0"} {
		r := h.start(dayops.RunRequest{Definition: "deploy-web", Environment: "staging", Params: map[string]string{"version": v}})
		if got := h.done(r.ID); got.State != dayops.RunSucceeded {
			t.Fatalf("deploy %s: %s", v, got.State)
		}
		last = r.ID
	}
	r, err := h.exec.Rollback(ctx, "web", "staging", actor("bob"), thread)
	if err != nil {
		t.Fatal(err)
	}
	got := h.done(r.ID)
	if got.State != dayops.RunSucceeded || got.Params["version"] != "v1.0.0" || got.RollbackOf != last || got.Actor.ID != "console:bob" {
		t.Errorf("rollback run: %s params %v rollback of %d (want %d)", got.State, got.Params, got.RollbackOf, last)
	}
	// Production rollbacks wait for the same approvals as deploys.
	if _, err := h.exec.Rollback(ctx, "web", "production", actor("bob"), thread); dayops.KindOf(err) != dayops.KindNotFound {
		t.Errorf("production without deploys: %v", err)
	}
	for _, v := range []string{"v1.0.0", "v2.0.0"} {
		r := h.start(dayops.RunRequest{Definition: "deploy-web", Environment: "production", Params: map[string]string{"version": v}})
		if _, err := h.exec.Approve(ctx, r.ID, actor("carol"), thread); err != nil {
			t.Fatal(err)
		}
		h.done(r.ID)
	}
	r, err = h.exec.Rollback(ctx, "web", "production", actor("bob"), thread)
	if err != nil || r.State != dayops.RunAwaitingApproval {
		t.Fatalf("production rollback: %+v %v", r, err)
	}
}

func TestSubscribeSeesLinesAndNeverBlocks(t *testing.T) {
	h := newHarness(t, map[string]string{"s.yaml": def("chatty", `
steps:
  - name: Talk
    run: for i in $(seq 1 2000); do echo "line $i"; done
`)}, nil)
	slow, stopSlow := h.exec.Events().Subscribe(1) // not read until the run ended
	defer stopSlow()
	events, stop := h.exec.Events().Subscribe(1)
	r := h.start(dayops.RunRequest{Definition: "chatty"})
	var lines, states int
	timeout := time.After(20 * time.Second)
loop:
	for {
		select {
		case ev := <-events:
			switch ev.Kind {
			case dayops.EventLog:
				lines++
			case dayops.EventState:
				states++
				if ev.Run.State.Final() {
					break loop
				}
			}
		case <-timeout:
			t.Fatal("no final event")
		}
	}
	stop()
	stop()
	if got := h.done(r.ID); got.State != dayops.RunSucceeded {
		t.Fatalf("%s %q", got.State, got.Reason)
	}
	if lines == 0 || states < 3 {
		t.Errorf("%d line events, %d state events", lines, states)
	}
	if n := strings.Count(h.logs(r.ID), "stdout: line "); n != 2000 {
		t.Errorf("%d lines stored, want 2000", n)
	}
	// The reader that fell far behind lost lines, but not the end of the run.
	var queued []dayops.RunEvent
	for quiet := false; !quiet; {
		select {
		case ev := <-slow:
			queued = append(queued, ev)
		case <-time.After(200 * time.Millisecond):
			quiet = true
		}
	}
	if n := len(queued); n == 0 || queued[n-1].Kind != dayops.EventState || queued[n-1].Run.State != dayops.RunSucceeded {
		t.Errorf("the slow subscriber's last event is not the run's end: %d events queued", n)
	}
}

func TestCloseCancelsActiveRunsAndKeepsGates(t *testing.T) {
	h := newHarness(t, map[string]string{
		"s.yaml": def("sleepy", `
steps:
  - name: Sleep
    run: sleep 300
rollback:
  - name: Undo
    run: echo undone
`),
		"deploy.yaml": deployWeb}, nil)
	running := h.start(dayops.RunRequest{Definition: "sleepy"})
	gated := h.start(dayops.RunRequest{Definition: "deploy-web", Environment: "production", Params: map[string]string{"version": "v1.2.0"}})
	h.waitStep(running.ID, 0, dayops.StepRunning)
	h.close()
	got := h.done(running.ID)
	if got.State != dayops.RunCancelled || got.Rollback != dayops.RolledBack || !strings.HasPrefix(got.Reason, "cancelled: dayops is shutting down during step Sleep") {
		t.Errorf("running run after Close: %s %s %q", got.State, got.Rollback, got.Reason)
	}
	if got := h.wait(gated.ID, dayops.RunAwaitingApproval); got.State != dayops.RunAwaitingApproval {
		t.Errorf("gated run after Close: %s", got.State)
	}
	if _, err := h.exec.Start(context.Background(), dayops.RunRequest{Definition: "sleepy"}); dayops.KindOf(err) != dayops.KindUnavailable {
		t.Errorf("start after Close: %v", err)
	}
}

func TestOutputsAreValidated(t *testing.T) {
	h := newHarness(t, map[string]string{"o.yaml": def("outs", `
steps:
  - id: make
    name: Make
    run: |
      {
        echo "good=value=with=equals"
        echo "1bad=x"
        echo "no equals sign"
        echo "_under=ok"
        printf 'big=%s\n' "$(head -c 5000 /dev/zero | tr '\0' x)"
      } >> "$DAYOPS_OUTPUT"
  - name: Use
    env:
      GOOD: ${{ steps.make.outputs.good }}
      BIG: ${{ steps.make.outputs.big }}
    run: echo "good=$GOOD big=${BIG:-none} under=$DAYOPS_STEP_MAKE__UNDER"
`)}, nil)
	r := h.start(dayops.RunRequest{Definition: "outs"})
	got := h.done(r.ID)
	if got.State != dayops.RunSucceeded {
		t.Fatalf("%s %q", got.State, got.Reason)
	}
	if len(got.Steps[0].Outputs) != 2 || got.Steps[0].Outputs["good"] != "value=with=equals" {
		t.Errorf("outputs %v", got.Steps[0].Outputs)
	}
	logs := h.logs(r.ID)
	for _, want := range []string{"output line 2 ignored", "output line 3 ignored", "output big ignored: its value is longer than 4096 bytes", "good=value=with=equals big=none under=ok"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}
