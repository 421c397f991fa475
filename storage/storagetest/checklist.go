package storagetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/google/go-cmp/cmp"
)

// ChecklistAPI is what checklist steps store: questions opened once, each
// answered once, read back in order.
type ChecklistAPI interface {
	OpenChecklist(ctx context.Context, runID int64, step int, questions []string) error
	AnswerQuestion(ctx context.Context, a *dayops.Answer, ev dayops.AuditEvent) error
	Checklist(ctx context.Context, runID int64) ([]dayops.Answer, error)
}

func testChecklist(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	c, ok := s.(ChecklistAPI)
	if !ok {
		t.Fatalf("%T does not store checklists (OpenChecklist, AnswerQuestion, Checklist)", s)
	}
	run := MustCreate(t, s, NewRun("review-web", "", dayops.RunAwaitingApproval))
	qs := []string{"Is there a backup?", "Is it monitored?"}
	if err := c.OpenChecklist(ctx, run.ID, 1, qs); err != nil {
		t.Fatalf("OpenChecklist: %v", err)
	}
	bob := dayops.Actor{ID: "slack:U2", Name: "bob"}
	clk.Advance(time.Minute)
	yes := &dayops.Answer{RunID: run.ID, Step: 1, Question: 2, Answer: dayops.AnswerYes, Note: "dashboards exist", Actor: bob}
	if err := c.AnswerQuestion(ctx, yes, dayops.AuditEvent{Actor: bob.ID}); err != nil {
		t.Fatalf("AnswerQuestion: %v", err)
	}
	// Opening again (a run taken over) keeps the answer.
	if err := c.OpenChecklist(ctx, run.ID, 1, qs); err != nil {
		t.Fatalf("OpenChecklist again: %v", err)
	}
	got, err := c.Checklist(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []dayops.Answer{
		{RunID: run.ID, Step: 1, Question: 1, Text: qs[0]},
		{RunID: run.ID, Step: 1, Question: 2, Text: qs[1], Answer: dayops.AnswerYes, Note: "dashboards exist", Actor: bob, AnsweredAt: clk.Now()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Checklist (-want +got):\n%s", diff)
	}
	// Question 1 answered by two people at once: exactly one counts.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &dayops.Answer{RunID: run.ID, Step: 1, Question: 1, Answer: dayops.AnswerNo, Actor: dayops.Actor{ID: "slack:U" + string(rune('5'+i))}}
			errs[i] = c.AnswerQuestion(ctx, a, dayops.AuditEvent{Actor: a.Actor.ID})
		}()
	}
	wg.Wait()
	ok1 := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok1++
		case dayops.KindOf(err) != dayops.KindConflict:
			t.Errorf("a second answer: %v, want a conflict", err)
		}
	}
	if ok1 != 1 {
		t.Errorf("%d answers to one question were taken, want 1", ok1)
	}
	WantKind(t, c.AnswerQuestion(ctx, &dayops.Answer{RunID: run.ID, Step: 1, Question: 2, Answer: dayops.AnswerNo, Actor: bob}, dayops.AuditEvent{}),
		dayops.KindConflict, "answered yes by bob already")
	WantKind(t, c.AnswerQuestion(ctx, &dayops.Answer{RunID: run.ID, Step: 1, Question: 9, Answer: dayops.AnswerNo, Actor: bob}, dayops.AuditEvent{}),
		dayops.KindNotFound, "no question 9")
	WantKind(t, c.AnswerQuestion(ctx, &dayops.Answer{RunID: run.ID, Step: 1, Question: 1, Answer: "maybe", Actor: bob}, dayops.AuditEvent{}),
		dayops.KindInvalid, "yes or no")
	WantKind(t, c.OpenChecklist(ctx, 777, 0, qs), dayops.KindNotFound, "no run 777")
	if n := auditCount(t, s, run.ID); n != 3 { // create + 2 answers
		t.Errorf("audit rows of run = %d, want 3", n)
	}
}
