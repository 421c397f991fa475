package executor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

const twoApprovals = `apiVersion: dayops/v1
phase: day1
name: deploy-api
service: api
environments:
  production:
    approvals: {count: 2, from: [sre]}
params:
  version: {type: string, required: true}
steps:
  - name: Deploy
    run: echo "deploying $DAYOPS_PARAM_VERSION" >> deployed.txt
`

func TestApprovalRules(t *testing.T) {
	h := newHarness(t, map[string]string{"api.yaml": twoApprovals}, nil)
	ctx := context.Background()
	r := h.start(dayops.RunRequest{Definition: "deploy-api", Environment: "production", Params: map[string]string{"version": "v2"}, Actor: actor("alice")})
	if r.State != dayops.RunAwaitingApproval || !strings.Contains(r.Reason, "waiting for 2 approvals from role sre") {
		t.Fatalf("state %s reason %q", r.State, r.Reason)
	}
	if err := h.exec.Wait(ctx); err != nil {
		t.Fatalf("Wait waited for a run awaiting approval: %v", err)
	}
	steps := []struct {
		who   string
		kind  dayops.Kind
		valid bool
		note  string
	}{
		{"alice", dayops.KindForbidden, false, "alice requested run 1 and cannot approve it: someone else must"},
		{"dave", dayops.KindForbidden, false, "dave cannot approve run 1: approvals must come from role sre"},
		{"bob", "", true, "1 of 2 approvals"},
		{"bob", dayops.KindConflict, false, "bob already approved run 1: one person counts once (1 of 2 approvals)"},
	}
	for _, s := range steps {
		a, err := h.exec.Approve(ctx, r.ID, actor(s.who), thread)
		if dayops.KindOf(err) != s.kind || a == nil || a.Valid != s.valid || a.Note != s.note {
			t.Fatalf("approve as %s: %+v, %v; want valid %v note %q kind %q", s.who, a, err, s.valid, s.note, s.kind)
		}
		if err != nil && dayops.UserMessage(err, "") != s.note {
			t.Errorf("error message %q", dayops.UserMessage(err, ""))
		}
	}
	time.Sleep(100 * time.Millisecond)
	if got := h.wait(r.ID, dayops.RunAwaitingApproval); got.State != dayops.RunAwaitingApproval {
		t.Fatalf("run moved with one valid approval")
	}
	if _, err := os.Stat(filepath.Join(h.dir, "deployed.txt")); !os.IsNotExist(err) {
		t.Fatal("the deploy ran before its approvals")
	}
	a, err := h.exec.Approve(ctx, r.ID, actor("carol"), thread)
	if err != nil || !a.Valid || a.Note != "2 of 2 approvals" {
		t.Fatalf("carol: %+v %v", a, err)
	}
	got := h.done(r.ID)
	if got.State != dayops.RunSucceeded {
		t.Fatalf("state %s %q", got.State, got.Reason)
	}
	list, err := h.store.Approvals(ctx, r.ID, dayops.GateEnvironment)
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, a := range list {
		who = append(who, a.Actor.Name+":"+map[bool]string{true: "valid", false: "void"}[a.Valid])
	}
	if diff := cmp.Diff([]string{"alice:void", "dave:void", "bob:valid", "bob:void", "carol:valid"}, who); diff != "" {
		t.Errorf("stored approvals (-want +got):\n%s", diff)
	}
	approvals := func(evs []dayops.RunEvent) int {
		n := 0
		for _, ev := range evs {
			if ev.Kind == dayops.EventApproval {
				n++
			}
		}
		return n
	}
	if approvalEvents := approvals(h.waitNotes(func(evs []dayops.RunEvent) bool { return approvals(evs) >= 5 })); approvalEvents != 5 {
		t.Errorf("%d approval events, want 5", approvalEvents)
	}
	if _, err := h.exec.Approve(ctx, r.ID, actor("bob"), thread); dayops.KindOf(err) != dayops.KindConflict {
		t.Errorf("approving an ended run: %v", err)
	}
}

func TestApprovalVoidAfterDefinitionChange(t *testing.T) {
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, nil)
	ctx := context.Background()
	r := h.start(dayops.RunRequest{Definition: "deploy-web", Environment: "production", Params: map[string]string{"version": "v1.2.0"}})
	h.wait(r.ID, dayops.RunAwaitingApproval)
	h.write(map[string]string{"deploy.yaml": strings.Replace(deployWeb, "echo undo", "echo undo --all", 1)})

	a, err := h.exec.Approve(ctx, r.ID, actor("bob"), thread)
	if dayops.KindOf(err) != dayops.KindConflict || !strings.Contains(dayops.UserMessage(err, ""), "the definition changed since this run was planned at sha256:") ||
		!strings.HasSuffix(dayops.UserMessage(err, ""), "start a new run") {
		t.Fatalf("approve after change: %v", err)
	}
	if a == nil || a.Valid {
		t.Errorf("approval %+v", a)
	}
	got := h.done(r.ID)
	if got.State != dayops.RunDenied || !strings.Contains(got.Reason, "the definition changed") {
		t.Errorf("state %s reason %q", got.State, got.Reason)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "deployed.txt")); !os.IsNotExist(err) {
		t.Error("the deploy ran")
	}
}

func TestDenyAndExpiry(t *testing.T) {
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, func(o *executor.Options) { o.ApprovalTTL = 500 * time.Millisecond })
	ctx := context.Background()
	req := dayops.RunRequest{Definition: "deploy-web", Environment: "production", Params: map[string]string{"version": "v1.2.0"}}
	denied := h.start(req)
	expired := h.start(req)
	if err := h.exec.Deny(ctx, denied.ID, actor("dave"), thread, "not me"); dayops.KindOf(err) != dayops.KindForbidden {
		t.Errorf("deny by a dev: %v", err)
	}
	if err := h.exec.Deny(ctx, denied.ID, actor("bob"), thread, "not during the sale"); err != nil {
		t.Fatal(err)
	}
	if got := h.done(denied.ID); got.State != dayops.RunDenied || got.Reason != "denied by bob: not during the sale" {
		t.Errorf("denied run: %s %q", got.State, got.Reason)
	}
	if got := h.done(expired.ID); got.State != dayops.RunDenied || !strings.Contains(got.Reason, "no decision within 500ms: the approval expired") {
		t.Errorf("expired run: %s %q", got.State, got.Reason)
	}
}

func TestApprovalStepMidRun(t *testing.T) {
	body := `
params:
  ticket: {type: string, default: OPS-1}
steps:
  - name: Deploy
    run: echo deployed >> log.txt
  - name: Confirm
    approval: Check the dashboards for ${{ params.ticket }}
  - name: Finish
    run: echo finished >> log.txt
rollback:
  - name: Undo
    run: echo undone >> log.txt
`
	h := newHarness(t, map[string]string{"c.yaml": def("confirm", body)}, nil)
	ctx := context.Background()

	ok := h.start(dayops.RunRequest{Definition: "confirm"})
	r := h.wait(ok.ID, dayops.RunAwaitingApproval)
	if !strings.Contains(r.Reason, "step Confirm: Check the dashboards for OPS-1") || r.Steps[1].State != dayops.StepAwaitingApproval {
		t.Fatalf("at the gate: %q %v", r.Reason, stepStates(r))
	}
	if _, err := h.exec.Approve(ctx, ok.ID, actor("alice"), thread); dayops.KindOf(err) != dayops.KindForbidden {
		t.Errorf("requester approving a step: %v", err)
	}
	if a, err := h.exec.Approve(ctx, ok.ID, actor("dave"), thread); dayops.KindOf(err) != dayops.KindForbidden {
		t.Errorf("a dev approving a day2 step: %+v %v", a, err)
	}
	if _, err := h.exec.Approve(ctx, ok.ID, actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	got := h.done(ok.ID)
	if got.State != dayops.RunSucceeded {
		t.Fatalf("state %s %q", got.State, got.Reason)
	}
	if diff := cmp.Diff([]string{"Deploy=succeeded", "Confirm=succeeded", "Finish=succeeded", "Undo=skipped"}, stepStates(got)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}

	no := h.start(dayops.RunRequest{Definition: "confirm"})
	h.wait(no.ID, dayops.RunAwaitingApproval)
	if err := h.exec.Deny(ctx, no.ID, actor("carol"), thread, "errors are up"); err != nil {
		t.Fatal(err)
	}
	got = h.done(no.ID)
	if got.State != dayops.RunDenied || got.Rollback != dayops.RolledBack || got.Reason != "denied by carol: errors are up; rolled back" {
		t.Fatalf("denied mid-run: %s %s %q", got.State, got.Rollback, got.Reason)
	}
	if diff := cmp.Diff([]string{"Deploy=succeeded", "Confirm=failed", "Finish=skipped", "Undo=succeeded"}, stepStates(got)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if log := waitFile(t, filepath.Join(h.dir, "log.txt")); log != "deployed\nfinished\ndeployed\nundone" {
		t.Errorf("what ran:\n%s", log)
	}
}

func TestGateExpiresOnTheInjectedClock(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, func(o *executor.Options) { o.Now = now })
	ctx := context.Background()
	req := dayops.RunRequest{Definition: "deploy-web", Environment: "production", Params: map[string]string{"version": "v1.2.0"}}
	cancelled := h.start(req)
	expired := h.start(req)
	if err := h.exec.Cancel(ctx, cancelled.ID, actor("alice"), thread); err != nil {
		t.Fatal(err)
	}
	if got := h.done(cancelled.ID); got.State != dayops.RunCancelled || got.Reason != "cancelled by alice while waiting for approval" {
		t.Errorf("cancelled at the gate: %s %q", got.State, got.Reason)
	}
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	go h.exec.Serve(serveCtx)
	time.Sleep(300 * time.Millisecond)
	if got := h.wait(expired.ID, dayops.RunAwaitingApproval); got.State != dayops.RunAwaitingApproval {
		t.Fatal("expired early")
	}
	offset.Store(int64(25 * time.Hour))
	if got := h.done(expired.ID); got.State != dayops.RunDenied || !strings.Contains(got.Reason, "no decision within 24h0m0s") {
		t.Errorf("after 25 hours: %s %q", got.State, got.Reason)
	}
}

func TestUsedDefinitionHasItsOwnApprovals(t *testing.T) {
	inner := `apiVersion: dayops/v1
phase: day0
name: inner
environments:
  production:
    approvals: {count: 1, from: [sre]}
steps:
  - name: Inner
    run: echo inner >> ran.txt
`
	outer := `apiVersion: dayops/v1
phase: day2
name: outer
environments:
  production: {}
steps:
  - name: Call
    uses: inner
  - name: After
    run: echo after >> ran.txt
`
	h := newHarness(t, map[string]string{"inner.yaml": inner, "outer.yaml": outer}, nil)
	r := h.start(dayops.RunRequest{Definition: "outer", Environment: "production"})
	child := h.wait(r.ID+1, dayops.RunAwaitingApproval)
	if child.ParentID != r.ID || child.Definition != "inner" {
		t.Fatalf("child %+v", child)
	}
	if _, err := h.exec.Approve(context.Background(), child.ID, actor("alice"), thread); dayops.KindOf(err) != dayops.KindForbidden {
		t.Errorf("requester approving the child: %v", err)
	}
	if _, err := h.exec.Approve(context.Background(), child.ID, actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	if got := h.done(r.ID); got.State != dayops.RunSucceeded {
		t.Fatalf("%s %q", got.State, got.Reason)
	}
	if got := waitFile(t, filepath.Join(h.dir, "ran.txt")); got != "inner\nafter" {
		t.Errorf("ran %q", got)
	}
}
