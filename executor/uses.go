package executor

import (
	"context"
	"fmt"
	"strings"

	"github.com/dayops/dayops"
)

// maxUsesDepth bounds how deep uses: steps nest.
const maxUsesDepth = dayops.MaxUsesDepth

// uses runs another definition as a step: a child run with its own record,
// approvals, queue and rollback, in the parent's slot. Its end is the step's
// result.
func (x *runExec) uses(ctx context.Context, i int, st dayops.Step) stepResult {
	fail := func(format string, args ...any) stepResult {
		return stepResult{state: dayops.StepFailed, exit: -1, message: fmt.Sprintf("step %s: ", st.Name) + fmt.Sprintf(format, args...)}
	}
	depth := 0
	for p := x; p != nil; p = p.parent {
		depth++
		if p.def.Name == st.Uses {
			return fail("%s would run itself again (through uses:)", st.Uses)
		}
	}
	if depth >= maxUsesDepth {
		return fail("uses: nests more than %d definitions deep", maxUsesDepth)
	}
	r := x.snapshot()
	def, err := x.lookup(ctx, st.Uses)
	if err != nil {
		return fail("%s", dayops.UserMessage(err, fmt.Sprintf("run %d", x.id)))
	}
	with := map[string]string{}
	for _, w := range st.With {
		with[w.Name], _ = dayops.Expand(w.Value, x.scope)
	}
	env := ""
	if len(def.Environments) > 0 {
		env = r.Environment
	}
	req := dayops.RunRequest{Definition: def.Name, Environment: env, Params: with, Actor: r.Actor, Thread: r.Thread,
		Trigger: r.Trigger, Context: r.Context, ParentID: x.id}
	p, err := x.e.prepareDef(r.Revision, x.cat, def, req, false)
	if err != nil {
		return fail("%s", dayops.UserMessage(err, fmt.Sprintf("run %d", x.id)))
	}
	sctx, cancel := storeCtx()
	c, err := x.e.record(sctx, p, x)
	cancel()
	if err != nil {
		x.e.logger.Error("recording a child run", "run_id", x.id, "err", err)
		return fail("internal error (run %d): the run of %s could not be recorded", x.id, def.Name)
	}
	c.pctx = ctx
	x.e.register(c)
	defer x.e.finished(c)
	x.log.system(i, "started run %d of %s", c.id, def.Name)
	if c.rule != nil {
		if err := c.transition(dayops.RunAwaitingApproval, c.gateText(), systemActor); err != nil {
			c.end(dayops.RunFailed, fmt.Sprintf("internal error (run %d)", c.id), systemActor)
			return fail("internal error (run %d)", c.id)
		}
	}
	c.run0(func(job func()) { job() })
	end := c.snapshot()
	x.log.system(i, "run %d of %s ended %s", c.id, def.Name, end.State)
	if end.State == dayops.RunSucceeded {
		return stepResult{state: dayops.StepSucceeded}
	}
	msg := fmt.Sprintf("run %d of %s ended %s", c.id, def.Name, strings.ReplaceAll(string(end.State), "_", " "))
	if end.Reason != "" {
		msg += ": " + end.Reason
	}
	return stepResult{state: dayops.StepFailed, exit: -1, message: fmt.Sprintf("step %s failed: %s", st.Name, msg)}
}

// lookup finds a definition at the run's revision.
func (x *runExec) lookup(ctx context.Context, name string) (*dayops.Definition, error) {
	if x.cat != nil {
		return x.cat.Get(name)
	}
	return x.e.catalogs.DefinitionAt(ctx, x.snapshot().Revision, name)
}
