package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dayops/dayops"
)

// TestRunPageReview: the run page shows a checklist's questions with who
// answered what, when and why, and a phase-gate override with its reason.
func TestRunPageReview(t *testing.T) {
	w := newWorld(t)
	r := w.run(dayops.RunFailed, func(r *dayops.Run) {
		r.Context = map[string]string{dayops.ContextGateOverride: "hotfix <now>", dayops.ContextGateOverridden: "preflight production"}
	})
	ctx := context.Background()
	if err := w.store.OpenChecklist(ctx, r.ID, 1, []string{"Is there a tested backup?", "Is it monitored?", "Fits the budget?"}); err != nil {
		t.Fatal(err)
	}
	bob := dayops.Actor{ID: "slack:U0BOB", Name: "bob"}
	for _, a := range []*dayops.Answer{
		{RunID: r.ID, Step: 1, Question: 1, Answer: dayops.AnswerYes, Actor: bob},
		{RunID: r.ID, Step: 1, Question: 2, Answer: dayops.AnswerNo, Note: "no alert on " + secret, Actor: bob},
	} {
		if err := w.store.AnswerQuestion(ctx, a, dayops.AuditEvent{Actor: bob.ID}); err != nil {
			t.Fatal(err)
		}
	}
	rec := w.get(w.link(r.ID), "", nil)
	body := rec.Body.String()
	for _, want := range []string{
		`<dt>Readiness review</dt>`,
		`<li value="1">Is there a tested backup? — <strong class="answer yes">yes</strong> by bob <code>slack:U0BOB</code> at `,
		`<li value="2">Is it monitored? — <strong class="answer no">no</strong> by bob`, ": no alert on ***",
		`<li value="3">Fits the budget? — <em>not answered</em>`,
		`overridden by alice (missing: preflight production): hotfix &lt;now&gt;`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the run page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, secret) {
		t.Errorf("the run page shows the secret")
	}
}
