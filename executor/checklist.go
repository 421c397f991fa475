package executor

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
)

// Checklist steps: a readiness review. The run waits at the step (as it
// waits at an approval step) until every question is answered yes, or fails
// it at the first no, with that answer's note. Each question is answered
// once, by a member of one of the checklist's roles (Policy.MayAnswer).

// checklistGate returns the index of the checklist step gate names.
func checklistGate(def *dayops.Definition, gate string) (int, bool) {
	n, ok := strings.CutPrefix(gate, "step:")
	if !ok || def == nil {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= len(def.Steps) || def.Steps[i].Kind != dayops.StepKindChecklist || def.Steps[i].Checklist == nil {
		return 0, false
	}
	return i, true
}

// checklistText is what a run waiting at a checklist says.
func checklistText(runID int64, step string, c *dayops.Checklist) string {
	who := "role " + strings.Join(c.From, " or ")
	if c.Others {
		who += ", not the requester"
	}
	return fmt.Sprintf("step %s: %d questions to answer yes or no, by %s: answer %d QUESTION yes|no [note]", step, len(c.Questions), who, runID)
}

// openChecklist records the questions of checklist step i, unanswered.
func (x *runExec) openChecklist(i int, c *dayops.Checklist) error {
	ctx, cancel := storeCtx()
	defer cancel()
	if err := x.e.store.OpenChecklist(ctx, x.id, i, c.Questions); err != nil {
		return fmt.Errorf("opening the checklist of run %d: %w", x.id, err)
	}
	return nil
}

// openFirstChecklist puts a run whose first step is a checklist at that
// checklist at once, before it is queued or run, and reports whether it did.
func (x *runExec) openFirstChecklist() (bool, error) {
	if len(x.def.Steps) == 0 || x.def.Steps[0].Checklist == nil || x.def.Steps[0].If == dayops.IfFailure {
		return false, nil
	}
	if err := x.openChecklist(0, x.def.Steps[0].Checklist); err != nil {
		return false, err
	}
	st := x.step(0)
	st.State, st.StartedAt = dayops.StepAwaitingApproval, x.e.now()
	x.updateStep(st)
	return true, x.transition(dayops.RunAwaitingApproval, x.stepGateText(0), systemActor)
}

// evaluateChecklist decides checklist step i from its answers: the first no
// fails it, all yes pass it. The requester's withdrawal (deny) ends it too.
func (x *runExec) evaluateChecklist(ctx context.Context, i int) (decision, bool) {
	answers, err := x.e.store.Checklist(ctx, x.id)
	if err != nil {
		x.e.logger.Error("reading checklist answers", "run_id", x.id, "err", err)
		return decision{}, false
	}
	denials, err := x.e.store.Approvals(ctx, x.id, gateName(i))
	if err != nil {
		x.e.logger.Error("reading approvals", "run_id", x.id, "err", err)
		return decision{}, false
	}
	for _, a := range denials {
		if a.Valid && !a.Approved {
			reason := "withdrawn by " + a.Actor.String()
			if a.Reason != "" {
				reason += ": " + a.Reason
			}
			return decision{kind: decCancelled, reason: reason, by: a.Actor}, true
		}
	}
	yes, asked := 0, 0
	var by []string
	for _, a := range answers {
		if a.Step != i {
			continue
		}
		asked++
		switch a.Answer {
		case dayops.AnswerNo:
			reason := fmt.Sprintf("question %d (%s) was answered no by %s", a.Question, dayops.Truncate(a.Text, 80), a.Actor)
			if a.Note != "" {
				reason += ": " + a.Note
			}
			return decision{kind: decFailed, reason: reason, by: a.Actor}, true
		case dayops.AnswerYes:
			yes++
			if name := a.Actor.String(); !slices.Contains(by, name) {
				by = append(by, name)
			}
		}
	}
	if asked > 0 && yes == asked {
		return decision{kind: decApproved, reason: fmt.Sprintf("all %d questions answered yes (by %s)", asked, strings.Join(by, ", "))}, true
	}
	return decision{}, false
}

// Answer records who's answer (yes, or no with an optional note) to
// question (1-based) of the checklist run runID waits at. Someone without
// one of the checklist's roles, the requester of a checklist with others,
// a question that does not exist and a question answered already are
// refused, audited, and change nothing. A no fails the step; the last yes
// passes it.
func (e *Executor) Answer(ctx context.Context, runID int64, question int, yes bool, note string, who dayops.Actor, where dayops.Thread) (*dayops.Answer, error) {
	run, gate, x, err := e.gateOf(ctx, runID)
	if err != nil {
		if dayops.KindOf(err) == dayops.KindConflict {
			return nil, dayops.Errorf(dayops.KindConflict, "run %d is not waiting for checklist answers: it is %s", runID, strings.ReplaceAll(string(run0State(ctx, e, runID)), "_", " "))
		}
		return nil, err
	}
	def, _ := e.ruleOf(run, x)
	i, ok := checklistGate(def, gate)
	if !ok {
		return nil, dayops.Errorf(dayops.KindConflict, "run %d waits for an approval, not for checklist answers: approve %d or deny %d", runID, runID, runID)
	}
	c := def.Steps[i].Checklist
	target := fmt.Sprintf("run %d question %d", runID, question)
	refuse := func(err *dayops.Error) (*dayops.Answer, error) {
		ev := dayops.AuditEvent{Time: e.now(), Actor: who.ID, Where: where.String(), Action: "checklist.answer", Target: target,
			RunID: runID, Reason: e.redactor.Redact(err.Message)}
		if aerr := e.store.Audit(ctx, ev); aerr != nil {
			e.logger.Error("auditing a checklist answer", "run_id", runID, "err", aerr)
		}
		return nil, err
	}
	if v := e.opts.Policy.MayAnswer(who, run, *c); !v.Allowed {
		return refuse(v.Err().(*dayops.Error))
	}
	if question < 1 || question > len(c.Questions) {
		return refuse(dayops.Errorf(dayops.KindInvalid, "run %d's checklist has questions 1 to %d, not %d", runID, len(c.Questions), question))
	}
	a := &dayops.Answer{RunID: runID, Step: i, Question: question, Answer: dayops.AnswerNo, Actor: who,
		Note: dayops.Truncate(strings.TrimSpace(cleanText(e.redactor.Redact(note))), 500)}
	if yes {
		a.Answer = dayops.AnswerYes
	}
	why := fmt.Sprintf("answered %s to question %d (%s)", a.Answer, question, dayops.Truncate(c.Questions[question-1], 80))
	if a.Note != "" {
		why += ": " + a.Note
	}
	ev := dayops.AuditEvent{Time: e.now(), Actor: who.ID, Where: where.String(), Action: "checklist.answer", Target: target,
		RunID: runID, Allowed: true, Reason: e.redactor.Redact(why)}
	if err := e.store.AnswerQuestion(ctx, a, ev); err != nil {
		if de, ok := err.(*dayops.Error); ok {
			return refuse(de)
		}
		return nil, fmt.Errorf("recording an answer for run %d: %w", runID, err)
	}
	e.emit(dayops.RunEvent{Kind: dayops.EventApproval, Run: run, Message: fmt.Sprintf("%s %s", who, why)})
	if x != nil && (!yes || e.allAnswered(ctx, runID, i)) {
		e.setActive(x, true) // decided: see Approve
	}
	e.decided(ctx, run, x)
	return a, nil
}

// allAnswered reports whether every question of checklist step i of run
// runID is answered.
func (e *Executor) allAnswered(ctx context.Context, runID int64, i int) bool {
	list, err := e.store.Checklist(ctx, runID)
	if err != nil {
		return false
	}
	for _, a := range list {
		if a.Step == i && a.Answer == "" {
			return false
		}
	}
	return true
}

// run0State is the stored state of a run, for messages ("" when unknown).
func run0State(ctx context.Context, e *Executor, runID int64) dayops.RunState {
	r, err := e.store.Run(ctx, runID)
	if err != nil {
		return ""
	}
	return r.State
}
