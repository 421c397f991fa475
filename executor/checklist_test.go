package executor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

const reviewDef = `apiVersion: dayops/v1
phase: day0
name: review-web
steps:
  - run: echo before >> log.txt
  - name: Readiness review
    checklist:
      from: [sre]
      others: true
      questions:
        - Is there a tested backup?
        - Is it monitored?
  - run: echo after >> log.txt
rollback:
  - run: echo undone >> log.txt
`

func TestChecklistAllYes(t *testing.T) {
	h := newHarness(t, map[string]string{"review.yaml": reviewDef}, nil)
	ctx := context.Background()
	r := h.start(dayops.RunRequest{Definition: "review-web", Actor: actor("alice")})
	h.waitStep(r.ID, 1, dayops.StepAwaitingApproval)
	got := h.wait(r.ID, dayops.RunAwaitingApproval)
	if got.State != dayops.RunAwaitingApproval || !strings.Contains(got.Reason, "2 questions to answer yes or no, by role sre, not the requester: answer 1 QUESTION yes|no") {
		t.Fatalf("at the checklist: %s %q", got.State, got.Reason)
	}
	if _, err := h.exec.Approve(ctx, r.ID, actor("bob"), thread); dayops.KindOf(err) != dayops.KindConflict || !strings.Contains(err.Error(), "waits for the answers to its checklist") {
		t.Errorf("approving a checklist: %v", err)
	}
	for _, tc := range []struct {
		who      string
		question int
		kind     dayops.Kind
		msg      string
	}{
		{"alice", 1, dayops.KindForbidden, "alice requested run 1, and its checklist must be answered by someone else"},
		{"dave", 1, dayops.KindForbidden, "dave cannot answer the checklist of run 1: answers must come from role sre"},
		{"bob", 3, dayops.KindInvalid, "run 1's checklist has questions 1 to 2, not 3"},
		{"bob", 1, "", ""},
		{"carol", 1, dayops.KindConflict, "question 1 of run 1 was answered yes by bob already"},
	} {
		_, err := h.exec.Answer(ctx, r.ID, tc.question, true, "", actor(tc.who), thread)
		if dayops.KindOf(err) != tc.kind || err != nil && !strings.Contains(dayops.UserMessage(err, ""), tc.msg) {
			t.Errorf("%s answering %d: %v, want %s %q", tc.who, tc.question, err, tc.kind, tc.msg)
		}
	}
	if got := h.wait(r.ID, dayops.RunAwaitingApproval); got.Steps[2].State != dayops.StepPending {
		t.Fatalf("the run went on with one of two questions answered")
	}
	if _, err := h.exec.Answer(ctx, r.ID, 2, true, "dashboards and alerts", actor("carol"), thread); err != nil {
		t.Fatal(err)
	}
	got = h.done(r.ID)
	if got.State != dayops.RunSucceeded {
		t.Fatalf("all yes: %s %q", got.State, got.Reason)
	}
	answers, err := h.store.Checklist(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, a := range answers {
		rows = append(rows, a.Text+" "+a.Answer+" "+a.Actor.ID+" "+a.Note)
	}
	want := []string{"Is there a tested backup? yes console:bob ", "Is it monitored? yes console:carol dashboards and alerts"}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if !strings.Contains(h.logs(r.ID), "all 2 questions answered yes (by bob, carol)") {
		t.Errorf("log:\n%s", h.logs(r.ID))
	}
}

func TestChecklistNoFails(t *testing.T) {
	h := newHarness(t, map[string]string{"review.yaml": reviewDef}, nil)
	ctx := context.Background()
	r := h.start(dayops.RunRequest{Definition: "review-web", Actor: actor("alice")})
	h.waitStep(r.ID, 1, dayops.StepAwaitingApproval)
	h.wait(r.ID, dayops.RunAwaitingApproval)
	if _, err := h.exec.Answer(ctx, r.ID, 2, false, "no alert on the queue depth yet", actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	got := h.done(r.ID)
	wantReason := "question 2 (Is it monitored?) was answered no by bob: no alert on the queue depth yet; rolled back"
	if got.State != dayops.RunFailed || got.Reason != wantReason {
		t.Fatalf("a no: %s %q, want failed %q", got.State, got.Reason, wantReason)
	}
	if diff := cmp.Diff([]string{"run 1=succeeded", "Readiness review=failed", "run 3=skipped", "run 1=succeeded"}, stepStates(got)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if got.Steps[1].Error != "question 2 (Is it monitored?) was answered no by bob: no alert on the queue depth yet" {
		t.Errorf("step error %q", got.Steps[1].Error)
	}
	if _, err := h.exec.Answer(ctx, r.ID, 1, true, "", actor("bob"), thread); dayops.KindOf(err) != dayops.KindConflict || !strings.Contains(err.Error(), "is not waiting for checklist answers: it is failed") {
		t.Errorf("answering an ended run: %v", err)
	}
}

// TestChecklistFirst: a run that starts with its review waits at it as
// soon as Start returns (answers may come at once), and is queued behind
// its concurrency key only once the review passed.
func TestChecklistFirst(t *testing.T) {
	h := newHarness(t, map[string]string{"review.yaml": `apiVersion: dayops/v1
phase: day0
name: review-first
concurrency: review
steps:
  - checklist: {from: [sre], questions: [Ready]}
  - run: echo ran >> log.txt
`}, nil)
	ctx := context.Background()
	r := h.start(dayops.RunRequest{Definition: "review-first", Actor: actor("alice")})
	if r.State != dayops.RunAwaitingApproval || r.Steps[0].State != dayops.StepAwaitingApproval {
		t.Fatalf("Start returned %s with steps %v", r.State, stepStates(r))
	}
	second := h.start(dayops.RunRequest{Definition: "review-first", Actor: actor("alice")})
	if _, err := h.exec.Answer(ctx, second.ID, 1, true, "", actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	if got := h.done(second.ID); got.State != dayops.RunSucceeded {
		t.Fatalf("second run: %s %q", got.State, got.Reason)
	}
	if _, err := h.exec.Answer(ctx, r.ID, 1, true, "", actor("alice"), thread); err != nil {
		t.Fatal(err)
	}
	if got := h.done(r.ID); got.State != dayops.RunSucceeded {
		t.Fatalf("first run: %s %q", got.State, got.Reason)
	}
	if log := waitFile(t, h.dir+"/log.txt"); log != "ran\nran" {
		t.Errorf("log:\n%s", log)
	}
}
