package bot

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// The verbs that start, steer and freeze runs.

func (b *Bot) run(ctx context.Context, c *call) (*Message, error) {
	def, err := b.definition(c.cmd.Name)
	if err != nil {
		return nil, err
	}
	return b.start(ctx, c, def, c.cmd.Environment, c.cmd.Params)
}

func (b *Bot) deploy(ctx context.Context, c *call) (*Message, error) {
	if c.cmd.Service == "" {
		// "deploy ENV" is for pull request comments, where the door knows the service.
		return &Message{Text: commands.Grammar{Prefix: b.prefix}.UsageReply(commands.VerbDeploy, "missing SERVICE: only a pull request comment may leave it out")}, nil
	}
	def, err := b.service(c.cmd.Service)
	if err != nil {
		return nil, err
	}
	params := maps.Clone(c.cmd.Params)
	if c.cmd.Version != "" {
		if params == nil {
			params = map[string]string{}
		}
		params["version"] = c.cmd.Version
	}
	return b.start(ctx, c, def, c.cmd.Environment, params)
}

// start authorises and starts a run, then posts its message in the thread.
func (b *Bot) start(ctx context.Context, c *call, def *dayops.Definition, env string, params map[string]string) (*Message, error) {
	if c.askForm && env == "" && len(def.Environments) > 0 {
		// The environment is chosen in the form; its submission is
		// authorised for it like typed text.
		return b.formAnswer(c, def, env, params), nil
	}
	if err := checkEnvironment(def, env); err != nil {
		return nil, err
	}
	act := dayops.Action{Kind: dayops.ActRun, Phase: def.Phase, Name: def.Name, Environment: env}
	if err := b.authorize(ctx, c, act, act.Target(), 0); err != nil {
		return nil, err
	}
	if m := b.formAnswer(c, def, env, params); m != nil {
		return m, nil
	}
	if err := b.checkPR(ctx, c, def, env); err != nil {
		return nil, err
	}
	run, err := b.engine.Start(ctx, dayops.RunRequest{
		Definition:  def.Name,
		Environment: env,
		Params:      paramsFor(def, params),
		Actor:       c.actor,
		Thread:      c.thread,
		Trigger:     c.trigger,
		Context:     c.context,
		NoSecrets:   c.noSecrets,
		Override:    c.cmd.Override,
	})
	if err != nil {
		return nil, err
	}
	b.reportAlso(ctx, run, c.also)
	if c.started != nil {
		c.started(run)
	}
	b.report(run)
	return nil, nil
}

// reportAlso records the further threads a run just started is reported
// in (Submission.Also), after its own thread: the reporter delivers its
// message to every report row.
func (b *Bot) reportAlso(ctx context.Context, run *dayops.Run, also []dayops.Thread) {
	if len(also) == 0 {
		return
	}
	var threads []dayops.Thread
	if b.door(run.Thread.Door) != nil {
		threads = append(threads, run.Thread)
	}
	for _, t := range also {
		if t.Door != "" {
			t.Message = ""
			threads = append(threads, t)
		}
	}
	for _, t := range threads {
		if _, err := b.store.AddReport(ctx, dayops.Report{RunID: run.ID, Thread: t, CreatedAt: b.now()}); err != nil {
			b.log.Error("recording where a run is reported", "run_id", run.ID, "where", t.String(), "err", err)
		}
	}
}

func (b *Bot) rollback(ctx context.Context, c *call) (*Message, error) {
	def, err := b.service(c.cmd.Service)
	if err != nil {
		return nil, err
	}
	env := c.cmd.Environment
	if err := checkEnvironment(def, env); err != nil {
		return nil, err
	}
	act := dayops.Action{Kind: dayops.ActRun, Phase: def.Phase, Name: def.Name, Environment: env}
	if err := b.authorize(ctx, c, act, act.Target(), 0); err != nil {
		return nil, err
	}
	run, err := b.engine.Rollback(ctx, c.cmd.Service, env, c.actor, c.thread)
	if err != nil {
		return nil, err
	}
	b.report(run)
	return nil, nil
}

// runTarget is how audit rows and approvals name a run.
func runTarget(r *dayops.Run) string {
	t := fmt.Sprintf("run %d (%s", r.ID, r.Definition)
	if r.Environment != "" {
		t += ":" + r.Environment
	}
	return t + ")"
}

func (b *Bot) approve(ctx context.Context, c *call) (*Message, error) {
	return b.decideGate(ctx, c, true)
}

func (b *Bot) deny(ctx context.Context, c *call) (*Message, error) {
	return b.decideGate(ctx, c, false)
}

// decideGate approves or denies a run. The policy decides whether the actor
// may take part here (the requester never approves, and may always
// withdraw); the executor asks it again about the gate itself at the run's
// revision (its roles, one person once) and counts.
func (b *Bot) decideGate(ctx context.Context, c *call, approved bool) (*Message, error) {
	run, err := b.store.Run(ctx, c.cmd.RunID)
	if err != nil {
		return nil, err
	}
	act := dayops.ActApprove
	if !approved {
		act = dayops.ActDeny
	}
	if err := b.decide(ctx, c, b.policy.MayActOnRun(c.actor, c.thread, run, act), runTarget(run), run.ID); err != nil {
		return nil, err
	}
	key := ackKey(run.ID, c.actor.ID, approved, c.thread)
	ack := b.beginAck(key)
	a := &dayops.Approval{RunID: run.ID, Actor: c.actor, Approved: false, Reason: c.cmd.Reason, Valid: true}
	if approved {
		a, err = b.engine.Approve(ctx, run.ID, c.actor, c.thread)
	} else {
		err = b.engine.Deny(ctx, run.ID, c.actor, c.thread, c.cmd.Reason)
	}
	if b.endAck(key, ack) {
		return nil, nil // the run's thread has it from the executor's report, in order
	}
	if err != nil {
		return nil, err
	}
	if a == nil { // an engine that records nothing to show: say what was asked
		a = &dayops.Approval{RunID: run.ID, Actor: c.actor, Approved: approved, Valid: true}
	}
	return &Message{Text: b.approvalText(run, a)}, nil
}

// approvalText says what an approval or denial did: "bob approved run 12 (1
// of 1)", with the count the executor made through the policy.
func (b *Bot) approvalText(run *dayops.Run, a *dayops.Approval) string {
	who := a.Actor.String()
	if !a.Approved {
		text := fmt.Sprintf("%s denied run %d", who, run.ID)
		if a.Reason != "" {
			text += ": " + a.Reason
		}
		return b.redact(text)
	}
	if !a.Valid {
		text := fmt.Sprintf("%s's approval of run %d does not count", who, run.ID)
		if a.Note != "" {
			text += ": " + a.Note
		}
		return b.redact(text)
	}
	text := fmt.Sprintf("%s approved run %d", who, run.ID)
	if a.Need > 0 {
		text += fmt.Sprintf(" (%d of %d)", a.Have, a.Need)
	}
	return b.redact(text)
}

func (b *Bot) cancelRun(ctx context.Context, c *call) (*Message, error) {
	run, err := b.store.Run(ctx, c.cmd.RunID)
	if err != nil {
		return nil, err
	}
	if err := b.decide(ctx, c, b.policy.MayActOnRun(c.actor, c.thread, run, dayops.ActCancel), runTarget(run), run.ID); err != nil {
		return nil, err
	}
	if err := b.engine.Cancel(ctx, run.ID, c.actor, c.thread); err != nil {
		return nil, err
	}
	return &Message{Text: b.redact(fmt.Sprintf("%s is cancelling run %d %s: its step is stopped and its rollback runs if it declares one",
		c.actor.String(), run.ID, run.Definition))}, nil
}

func (b *Bot) lock(ctx context.Context, c *call) (*Message, error) {
	env := c.cmd.Environment
	if err := b.knownEnvironment(env); err != nil {
		return nil, err
	}
	if err := b.authorize(ctx, c, dayops.Action{Kind: dayops.ActLock, Environment: env}, "env "+env, 0); err != nil {
		return nil, err
	}
	if err := b.engine.Lock(ctx, env, c.actor, c.thread, c.cmd.Reason); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s is locked by %s", env, c.actor.String())
	if c.cmd.Reason != "" {
		text += ": " + c.cmd.Reason
	}
	text += fmt.Sprintf(". Deploys to %s wait until someone types: %s unlock %s", env, b.prefix, env)
	return &Message{Text: b.redact(text)}, nil
}

func (b *Bot) unlock(ctx context.Context, c *call) (*Message, error) {
	env := c.cmd.Environment
	locks, err := b.store.EnvironmentLocks(ctx)
	if err != nil {
		return nil, err
	}
	var held *dayops.EnvLock
	for i := range locks {
		if locks[i].Environment == env {
			held = &locks[i]
		}
	}
	if held == nil {
		if err := b.authorize(ctx, c, dayops.Action{Kind: dayops.ActUnlock, Environment: env}, "env "+env, 0); err != nil {
			return nil, err
		}
		return &Message{Text: b.redact(fmt.Sprintf("%s is not locked", env))}, nil
	}
	if err := b.decide(ctx, c, b.policy.MayLift(c.actor, c.thread, *held), "env "+env, 0); err != nil {
		return nil, err
	}
	if err := b.engine.Unlock(ctx, env, c.actor, c.thread); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s is unlocked by %s", env, c.actor.String())
	if held.Actor.ID != c.actor.ID {
		text += fmt.Sprintf(": it was locked by %s", held.Actor.String())
		if held.Reason != "" {
			text += " (" + held.Reason + ")"
		}
		if !held.CreatedAt.IsZero() {
			text += " since " + held.CreatedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return &Message{Text: b.redact(text)}, nil
}

// knownEnvironment refuses an environment no definition declares, which is
// almost always a typo that would otherwise freeze nothing.
func (b *Bot) knownEnvironment(env string) error {
	var all []string
	for _, d := range b.catalog().All() {
		all = append(all, d.EnvironmentNames()...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if slices.Contains(all, env) {
		return nil
	}
	msg := fmt.Sprintf("no definition declares environment %q", env)
	if s := dayops.Suggest(env, all); s != "" {
		msg += fmt.Sprintf(" — did you mean %q?", s)
	} else if len(all) > 0 {
		msg += ": the environments are " + strings.Join(all, ", ")
	}
	return dayops.Errorf(dayops.KindNotFound, "%s", msg)
}

// catalog is the current catalog; nil when none has loaded (every method
// of a nil Catalog answers "nothing").
func (b *Bot) catalog() *dayops.Catalog { return b.catalogs.Catalog() }

// definition finds a definition by name, or says what was probably meant.
func (b *Bot) definition(name string) (*dayops.Definition, error) {
	cat := b.catalog()
	if cat == nil {
		return nil, dayops.Errorf(dayops.KindUnavailable, "no valid definitions are loaded yet; try: %s sync", b.prefix)
	}
	if d, ok := cat.Lookup(name); ok {
		return d, nil
	}
	msg := fmt.Sprintf("no definition %q", name)
	if s := dayops.Suggest(name, cat.Names()); s != "" {
		msg += fmt.Sprintf(" — did you mean %q?", s)
	} else if d, ok := cat.ForService(name); ok {
		msg += fmt.Sprintf(": service %s is deployed by %q (%s deploy %s ENV)", name, d.Name, b.prefix, name)
	} else {
		msg += fmt.Sprintf(" at revision %s; %s list shows them all", dayops.ShortRevision(cat.Revision()), b.prefix)
	}
	return nil, dayops.Errorf(dayops.KindNotFound, "%s", msg)
}

// service finds the day1 definition that deploys a service.
func (b *Bot) service(name string) (*dayops.Definition, error) {
	cat := b.catalog()
	if cat == nil {
		return nil, dayops.Errorf(dayops.KindUnavailable, "no valid definitions are loaded yet; try: %s sync", b.prefix)
	}
	if d, ok := cat.ForService(name); ok {
		return d, nil
	}
	msg := fmt.Sprintf("no service %q", name)
	services := cat.Services()
	if s := dayops.Suggest(name, services); s != "" {
		msg += fmt.Sprintf(" — did you mean %q?", s)
	} else if len(services) > 0 {
		msg += ": the services are " + strings.Join(services, ", ")
	} else {
		msg += ": no day1 definition declares a service"
	}
	return nil, dayops.Errorf(dayops.KindNotFound, "%s", msg)
}

// checkEnvironment is Definition.CheckEnvironment with a did-you-mean.
func checkEnvironment(def *dayops.Definition, env string) error {
	err := def.CheckEnvironment(env)
	if err == nil || env == "" {
		return err
	}
	if s := dayops.Suggest(env, def.EnvironmentNames()); s != "" {
		return dayops.Errorf(dayops.KindInvalid, "%s has no environment %q — did you mean %q?", def.Name, env, s)
	}
	return err
}

// paramsFor spells parameter names as the definition declares them: the
// grammar keeps the case people typed and promises one match by EqualFold.
func paramsFor(def *dayops.Definition, given map[string]string) map[string]string {
	if given == nil {
		return nil
	}
	out := make(map[string]string, len(given))
	for k, v := range given {
		name := k
		for _, p := range def.Params {
			if strings.EqualFold(p.Name, k) {
				name = p.Name
				break
			}
		}
		out[name] = v
	}
	return out
}

// parseRunID reads a run ID from a button value.
func parseRunID(s string) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	return id, err == nil && id > 0
}
