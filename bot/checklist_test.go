package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// reviewRun is a run of alice's waiting at its checklist step (index 1).
func reviewRun(w *world) {
	w.store.Add(&dayops.Run{Definition: "review-web", Phase: dayops.Day0, State: dayops.RunAwaitingApproval, Actor: alice, Thread: here,
		Reason: "step Readiness review: 2 questions to answer yes or no, by role sre: answer 1 QUESTION yes|no [note]",
		Steps: []dayops.StepRun{{Index: 0, Name: "Collect", Kind: dayops.StepKindRun, State: dayops.StepSucceeded},
			{Index: 1, Name: "Readiness review", Kind: dayops.StepKindChecklist, State: dayops.StepAwaitingApproval}}})
	w.store.OpenChecklist(1, 1, "Is there a tested backup?", "Is it monitored?")
}

func TestChecklistInChat(t *testing.T) {
	w := newWorld(t)
	reviewRun(w)
	ctx := context.Background()
	w.say(bob, "status 1")
	w.bot.Wait()
	got := w.door.Transcript()
	for _, s := range []string{
		"Readiness review — answer each question yes or no (answer 1 QUESTION yes|no [note]):\n1. Is there a tested backup? — waiting\n2. Is it monitored? — waiting",
		"[1] 1: Yes  [2] 1: No  [3] 2: Yes  [4] 2: No  [5] Cancel run 1",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("status lacks %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "Approve run 1") {
		t.Errorf("a checklist offers an Approve button:\n%s", got)
	}
	// The Yes button of question 1, and a typed no with a note for question 2.
	w.bot.HandleClick(ctx, bot.Click{Actor: bob, Thread: here, Action: bot.ActionAnswerYes, Value: "1:1"})
	w.say(bob, "answer 1 2 no the queue depth has no alert")
	w.bot.HandleClick(ctx, bot.Click{Actor: bob, Thread: here, Action: bot.ActionAnswerNo, Value: "1:x"})
	w.bot.Wait()
	if diff := cmp.Diff([]string{"answer 1 1 yes console:bob", "answer 1 2 no console:bob"}, w.engine.Calls()); diff != "" {
		t.Errorf("engine calls (-want +got):\n%s", diff)
	}
	got = w.door.Transcript()
	for _, s := range []string{
		"bob answered yes to question 1 of run 1 (Is there a tested backup?)",
		"bob answered no to question 2 of run 1 (Is it monitored?): the queue depth has no alert",
		"that answer button names no question",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("transcript lacks %q:\n%s", s, got)
		}
	}
	w.say(bob, "status 1")
	w.bot.Wait()
	if got := w.door.Transcript(); !strings.Contains(got, "1. Is there a tested backup? — yes (bob)\n2. Is it monitored? — no (bob): the queue depth has no alert") {
		t.Errorf("status after the answers:\n%s", got)
	}
	// The engine's refusal reaches the asker as it is.
	w.engine.AnswerErr = dayops.Errorf(dayops.KindForbidden, "carol cannot answer the checklist of run 1: answers must come from role sre")
	w.say(carol, "answer 1 1 yes")
	w.bot.Wait()
	if got := w.door.Transcript(); !strings.Contains(got, "carol cannot answer the checklist of run 1: answers must come from role sre") {
		t.Errorf("refusal not shown:\n%s", got)
	}
}

func TestGatesInChat(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.say(alice, `run deploy-web production version=v1.2.0 override="hotfix for INC-7"`)
	w.bot.Wait()
	reqs := w.engine.Requests()
	if len(reqs) != 1 || reqs[0].Override != "hotfix for INC-7" || reqs[0].Params["override"] != "" {
		t.Fatalf("requests: %+v", reqs)
	}
	// A run started past its gates says so in its message.
	r, _ := w.store.Run(ctx, 1)
	w.store.Update(r.ID, func(r *dayops.Run) {
		r.Context = map[string]string{dayops.ContextGateOverride: "hotfix for INC-7", dayops.ContextGateOverridden: "preflight production"}
	})
	w.say(alice, "status 1")
	w.bot.Wait()
	if got := w.door.Transcript(); !strings.Contains(got, "phase gates overridden by alice (preflight production missing): hotfix for INC-7") {
		t.Errorf("override not shown:\n%s", got)
	}
	// plan shows each gate: met by which run, or missing with the command.
	w.engine.PlanAnswer = &dayops.Plan{Definition: &dayops.Definition{Name: "deploy-web", Phase: dayops.Day1}, Environment: "production",
		Revision: "0123456789abcdef", Hash: "abc", Gates: []dayops.GateStatus{
			{Requirement: dayops.Requirement{Definition: "preflight", Within: 24 * time.Hour}, Environment: "production", Met: true, RunID: 7, PassedAt: testNow.Add(-3 * time.Hour)},
			{Requirement: dayops.Requirement{Definition: "review-web", Within: 168 * time.Hour}, Command: "run review-web"},
		}}
	w.say(alice, "plan deploy-web production version=v1.2.0")
	w.bot.Wait()
	got := w.door.Transcript()
	for _, s := range []string{"preflight production within 24h: met by run 7, passed 3h ago",
		"review-web within 168h: missing: /ops run review-web", `a run would be refused; a role granted override may add override="REASON"`} {
		if !strings.Contains(got, s) {
			t.Errorf("plan lacks %q:\n%s", s, got)
		}
	}
}

func TestDescribeGates(t *testing.T) {
	w := newWorld(t)
	cat := w.cats.Cat
	defs := cat.All()
	for i, d := range defs {
		if d.Name == "deploy-web" {
			c := *d
			c.Requires = []dayops.Requirement{{Definition: "preflight", Within: 24 * time.Hour}}
			c.Environments = []dayops.Environment{{Name: "staging"}, {Name: "production", Requires: []dayops.Requirement{{Definition: "review-web", Within: 168 * time.Hour}}}}
			c.Steps = append([]dayops.Step{{Name: "Review", Kind: dayops.StepKindChecklist, Checklist: &dayops.Checklist{From: []string{"sre"}, Questions: []string{"a", "b"}}}}, c.Steps...)
			defs[i] = &c
		}
	}
	nc, err := dayops.NewCatalog(cat.Revision(), defs)
	if err != nil {
		t.Fatal(err)
	}
	w.cats.Cat = nc
	w.say(carol, "describe deploy-web")
	w.bot.Wait()
	got := w.door.Transcript()
	for _, s := range []string{"staging; production (requires review-web within 168h)", "phase gates: preflight within 24h", "Review — checklist: 2 questions for sre"} {
		if !strings.Contains(got, s) {
			t.Errorf("describe lacks %q:\n%s", s, got)
		}
	}
}
