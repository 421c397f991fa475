package executor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

const preflight = `apiVersion: dayops/v1
phase: day0
name: preflight
environments:
  staging: {}
params:
  target: {type: string, required: true}
  mode: {type: choice, choices: [ok, fail, hang], default: ok}
steps:
  - name: Check
    run: |
      echo "preflight $DAYOPS_PARAM_TARGET in $DAYOPS_ENV run $DAYOPS_RUN_ID" >> preflight.txt
      case "$DAYOPS_PARAM_MODE" in
        fail) echo "disk full" >&2; exit 2 ;;
        hang) sleep 300 & echo $! > preflight.pid; wait ;;
      esac
rollback:
  - name: Preflight undo
    run: echo "preflight undo" >> preflight.txt
`

const usesPreflight = `apiVersion: dayops/v1
phase: day1
name: deploy-app
service: app
environments:
  staging: {}
params:
  version: {type: string, required: true}
  mode: {type: string, default: ok}
steps:
  - name: Preflight
    uses: preflight
    with:
      target: app-${{ params.version }}
      mode: ${{ params.mode }}
  - name: Deploy
    run: echo deployed >> deploy.txt
rollback:
  - name: Undo
    run: echo "deploy undo" >> deploy.txt
`

func TestUsesRunsAChildRun(t *testing.T) {
	h := newHarness(t, map[string]string{"pre.yaml": preflight, "app.yaml": usesPreflight}, nil)
	ctx := context.Background()
	r := h.start(dayops.RunRequest{Definition: "deploy-app", Environment: "staging", Params: map[string]string{"version": "v3"}})
	got := h.done(r.ID)
	if got.State != dayops.RunSucceeded {
		t.Fatalf("state %s %q; logs:\n%s", got.State, got.Reason, h.logs(r.ID))
	}
	child := h.done(r.ID + 1)
	if child.Definition != "preflight" || child.ParentID != r.ID || child.State != dayops.RunSucceeded || child.Environment != "staging" || child.Params["target"] != "app-v3" {
		t.Errorf("child run %+v", child)
	}
	if got := waitFile(t, filepath.Join(h.dir, "preflight.txt")); got != fmt.Sprintf("preflight app-v3 in staging run %d", child.ID) {
		t.Errorf("preflight wrote %q", got)
	}

	failed := h.start(dayops.RunRequest{Definition: "deploy-app", Environment: "staging", Params: map[string]string{"version": "v4", "mode": "fail"}})
	got = h.done(failed.ID)
	want := fmt.Sprintf("step Preflight failed: run %d of preflight ended failed: step Check failed (exit 2): last lines: disk full; rolled back; rolled back", failed.ID+1)
	if got.State != dayops.RunFailed || got.Reason != want {
		t.Errorf("failed child:\n got %s %q\nwant %q", got.State, got.Reason, want)
	}
	if s := strings.Join(stepStates(got), " "); s != "Preflight=failed Deploy=skipped Undo=succeeded" {
		t.Errorf("steps %s", s)
	}

	bad := h.start(dayops.RunRequest{Definition: "deploy-app", Environment: "staging", Params: map[string]string{"version": "v5", "mode": "maybe"}})
	got = h.done(bad.ID)
	if got.State != dayops.RunFailed || !strings.Contains(got.Reason, `parameter mode: "maybe" is not one of ok, fail, hang`) {
		t.Errorf("bad with: %s %q", got.State, got.Reason)
	}

	hang := h.start(dayops.RunRequest{Definition: "deploy-app", Environment: "staging", Params: map[string]string{"version": "v6", "mode": "hang"}})
	pid := readPid(t, filepath.Join(h.dir, "preflight.pid"))
	if err := h.exec.Cancel(ctx, hang.ID, actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	got = h.done(hang.ID)
	if got.State != dayops.RunCancelled || !strings.HasPrefix(got.Reason, "cancelled by bob during step Preflight") {
		t.Errorf("cancelled parent: %s %q", got.State, got.Reason)
	}
	runs, _ := h.store.Runs(ctx, dayops.RunFilter{Definition: "preflight"})
	if runs[0].ParentID != hang.ID || runs[0].State != dayops.RunCancelled {
		t.Errorf("child of the cancelled run: %+v", runs[0])
	}
	waitGone(t, pid, time.Second)
}
