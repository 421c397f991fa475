package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// Schedules: the scheduler looks at the current catalog's schedule
// triggers of Day-2 definitions every minute. Each firing is a row
// (ScheduleStore.ClaimFiring, unique by definition, cron and time) claimed
// before its run starts, so a firing runs once however many processes
// share the database. A firing missed while dayops was down runs once when
// it is still within the trigger's window (default: until the next firing
// is due), else it is recorded missed and reported in the notify channel.
// A definition removed from the catalog stops firing; a changed cron is a
// new trigger, which fires from when the scheduler first sees it.

// ScheduleStore keeps schedule firings. storage.Store implements it.
type ScheduleStore interface {
	ClaimFiring(ctx context.Context, f dayops.ScheduleFiring) (bool, error)
	SetFiringRun(ctx context.Context, definition, cron string, at time.Time, runID int64) error
	Firings(ctx context.Context, definition, cron string, limit int) ([]dayops.ScheduleFiring, error)
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Bot      *Bot          // required: runs start through its pipeline, answered in its notify thread
	Store    ScheduleStore // required
	Location *time.Location
	Now      func() time.Time // default the bot's clock
	Logger   *slog.Logger
}

// Scheduler fires schedule triggers.
type Scheduler struct {
	bot   *Bot
	store ScheduleStore
	loc   *time.Location
	now   func() time.Time
	log   *slog.Logger
}

// maxFiringsPerTick bounds the firings one tick records for one trigger
// after a long downtime; the next tick goes on from there.
const maxFiringsPerTick = 500

// NewScheduler returns a Scheduler.
func NewScheduler(opts SchedulerOptions) (*Scheduler, error) {
	if opts.Bot == nil || opts.Store == nil {
		return nil, errors.New("bot: the scheduler needs Bot and Store")
	}
	s := &Scheduler{bot: opts.Bot, store: opts.Store, loc: opts.Location, now: opts.Now, log: opts.Logger}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.now == nil {
		s.now = opts.Bot.Now
	}
	if s.log == nil {
		s.log = opts.Bot.log
	}
	return s, nil
}

// Run ticks at the start of every minute until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	for {
		s.Tick(ctx)
		now := s.now()
		wait := now.Truncate(time.Minute).Add(time.Minute + 100*time.Millisecond).Sub(now)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Tick fires what is due now, and records what was missed.
func (s *Scheduler) Tick(ctx context.Context) {
	cat := s.bot.catalog()
	if cat == nil {
		return
	}
	now := s.now().In(s.loc)
	for _, def := range cat.ByPhase(dayops.Day2) {
		for _, tr := range def.Triggers.Schedule {
			if err := s.fire(ctx, def, tr, now); err != nil {
				s.log.Error("firing a schedule", "definition", def.Name, "cron", tr.Cron, "err", err)
			}
		}
	}
}

// fire handles the firings of one trigger up to now.
func (s *Scheduler) fire(ctx context.Context, def *dayops.Definition, tr dayops.ScheduleTrigger, now time.Time) error {
	cron, err := dayops.ParseCron(tr.Cron)
	if err != nil {
		return err
	}
	last, err := s.store.Firings(ctx, def.Name, tr.Cron, 1)
	if err != nil {
		return err
	}
	if len(last) == 0 {
		// First seen: it fires from this minute on, never for the past.
		seen := now.Truncate(time.Minute).Add(-time.Second)
		_, err := s.store.ClaimFiring(ctx, dayops.ScheduleFiring{Definition: def.Name, Cron: tr.Cron, ScheduledAt: seen, State: dayops.FiringSeen})
		if err != nil {
			return err
		}
		last = []dayops.ScheduleFiring{{ScheduledAt: seen}}
	}
	var missed []time.Time
	for t, n := cron.Next(last[0].ScheduledAt.In(s.loc)), 0; !t.IsZero() && !t.After(now) && n < maxFiringsPerTick; t, n = cron.Next(t), n+1 {
		window := tr.Window
		if window <= 0 {
			window = cron.Next(t).Sub(t)
		}
		f := dayops.ScheduleFiring{Definition: def.Name, Cron: tr.Cron, ScheduledAt: t, State: dayops.FiringRun}
		if now.Sub(t) > window {
			f.State = dayops.FiringMissed
		}
		claimed, err := s.store.ClaimFiring(ctx, f)
		if err != nil {
			return err
		}
		if !claimed {
			continue // another process has it
		}
		if f.State == dayops.FiringMissed {
			missed = append(missed, t)
			continue
		}
		s.start(ctx, def, tr, t)
	}
	if len(missed) > 0 {
		s.reportMissed(ctx, def, tr, missed, cron.Next(now))
	}
	return nil
}

// start runs def for the firing at t as trigger:schedule.
func (s *Scheduler) start(ctx context.Context, def *dayops.Definition, tr dayops.ScheduleTrigger, t time.Time) {
	env := ""
	if len(def.Environments) == 1 {
		env = def.Environments[0].Name
	}
	cmd := &commands.Command{Verb: commands.VerbRun, Name: def.Name, Environment: env,
		Text: strings.TrimSpace("run " + def.Name + " " + env)}
	sub := Submission{Thread: s.bot.notify, Trigger: dayops.TriggerSchedule, Command: cmd,
		Context: map[string]string{dayops.ContextScheduleTime: t.Format(time.RFC3339), dayops.ContextScheduleCron: tr.Cron}}
	if sub.Thread.Door == "" {
		sub.Thread = dayops.Thread{Door: "schedule", Channel: def.Name}
	}
	var runID int64
	s.bot.submit(ctx, sub, func(r *dayops.Run) { runID = r.ID })
	s.log.Info("schedule fired", "definition", def.Name, "cron", tr.Cron, "scheduled", t, "run_id", runID)
	if runID != 0 {
		if err := s.store.SetFiringRun(ctx, def.Name, tr.Cron, t, runID); err != nil {
			s.log.Error("recording a firing's run", "definition", def.Name, "run_id", runID, "err", err)
		}
	}
}

// reportMissed says in the notify channel which firings did not run.
func (s *Scheduler) reportMissed(ctx context.Context, def *dayops.Definition, tr dayops.ScheduleTrigger, missed []time.Time, next time.Time) {
	const layout = "2006-01-02 15:04 MST"
	when := missed[0].Format(layout)
	if len(missed) > 1 {
		when = fmt.Sprintf("%d firings from %s to %s", len(missed), when, missed[len(missed)-1].Format(layout))
	}
	window := "until the next firing"
	if tr.Window > 0 {
		window = tr.Window.String()
	}
	text := fmt.Sprintf("Missed: %s on schedule %s did not run at %s: dayops was not running, and it was too late when it started (window: %s).",
		def.Name, tr.Cron, when, window)
	if !next.IsZero() {
		text += " Next: " + next.Format(layout) + "."
	}
	s.log.Warn("schedule firings missed", "definition", def.Name, "cron", tr.Cron, "missed", len(missed))
	if s.bot.notify.Door != "" {
		s.bot.send(ctx, s.bot.notify, Message{Text: text}, 0)
	}
}
