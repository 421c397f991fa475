package executor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dayops/dayops"
)

// TestPRRunTakenOverAfterARestart: a run that reads pr.* keeps its trigger
// context in the store, so a new executor takes it over at its gate (it was
// interrupted when PR fields lived only in memory).
func TestPRRunTakenOverAfterARestart(t *testing.T) {
	h := newHarness(t, map[string]string{"pr.yaml": def("pr-deploy", `
environments:
  production:
    approvals: {count: 1}
env:
  SHA: ${{ pr.head_sha }}
steps:
  - name: Deploy
    run: echo "deploying $SHA"
`)}, nil)
	ctx := context.Background()
	r := h.start(dayops.RunRequest{Definition: "pr-deploy", Environment: "production", Actor: dayops.TriggerActor(dayops.TriggerPullRequest),
		Trigger: dayops.TriggerPullRequest, Context: dayops.WithPR(nil, map[string]string{"head_sha": "0123abcd", "number": "12"})})
	h.wait(r.ID, dayops.RunAwaitingApproval)

	h.close() // lets the waiting run go
	h.exec = h.newExecutor(h.opts)
	h.closed = false
	if runs, err := h.exec.Recover(ctx); err != nil || len(runs) != 0 {
		t.Fatalf("recover interrupted %+v, %v", runs, err)
	}
	got := h.wait(r.ID, dayops.RunAwaitingApproval)
	if got.Owner != h.exec.Owner() || got.Trigger != dayops.TriggerPullRequest || got.Context["pr.head_sha"] != "0123abcd" {
		t.Fatalf("after the restart: owner %q trigger %s context %v", got.Owner, got.Trigger, got.Context)
	}
	if _, err := h.exec.Approve(ctx, r.ID, actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	if end := h.done(r.ID); end.State != dayops.RunSucceeded {
		t.Fatalf("%s %q", end.State, end.Reason)
	}
	if logs := h.logs(r.ID); !strings.Contains(logs, "deploying 0123abcd") {
		t.Errorf("the step did not see the pull request:\n%s", logs)
	}
}
