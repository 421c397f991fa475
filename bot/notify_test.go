package bot_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
	"github.com/dayops/dayops/commands"
)

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish moves a run of the world to state, with its steps ended, and
// publishes it as the executor does.
func (w *world) finish(id int64, state dayops.RunState) {
	r := w.store.Update(id, func(r *dayops.Run) {
		r.State = state
		for i := range r.Steps {
			r.Steps[i].State = dayops.StepSucceeded
		}
	})
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: r})
}

func lastShown(d *bottest.Door) string {
	ups := d.Updates()
	if len(ups) == 0 {
		if ps := d.Posts(); len(ps) > 0 {
			return ps[len(ps)-1].Msg.Plain()
		}
		return ""
	}
	return ups[len(ups)-1].Msg.Plain()
}

func TestSubmitEveryTrigger(t *testing.T) {
	restart := &commands.Command{Verb: commands.VerbRun, Name: "restart-web", Environment: "staging"}
	tests := []struct {
		trigger dayops.Trigger
		actor   dayops.Actor // as the door submits it
		cmd     *commands.Command
		text    string
		context map[string]string
		wantID  string // who the run is started as
	}{
		{trigger: dayops.TriggerChat, actor: carol, text: "deploy web staging v1.2.0", wantID: "console:carol"},
		{trigger: dayops.TriggerButton, actor: bob, cmd: restart, wantID: "console:bob"},
		{trigger: dayops.TriggerPRComment, actor: carol, text: "deploy web staging v1.2.0",
			context: map[string]string{"pr.number": "12", "pr.head_sha": "abc123"}, wantID: "console:carol"},
		{trigger: dayops.TriggerPullRequest, cmd: &commands.Command{Verb: commands.VerbRun, Name: "deploy-web", Environment: "staging", Params: map[string]string{"version": "v1.2.0"}},
			context: map[string]string{"pr.number": "12", "pr.merged": "true"}, wantID: "trigger:pull_request"},
		{trigger: dayops.TriggerIncident, cmd: restart, context: map[string]string{dayops.ContextIncident: "inc-web"}, wantID: "trigger:incident"},
		{trigger: dayops.TriggerAlert, actor: alice, cmd: restart, // a door cannot lend an alert a person's rights
			context: map[string]string{dayops.ContextAlertName: "HighErrorRate", dayops.ContextAlertLabel + "service": "web"}, wantID: "trigger:alert"},
		{trigger: dayops.TriggerSchedule, cmd: restart, context: map[string]string{dayops.ContextScheduleTime: "2025-03-01T03:00:00Z"}, wantID: "trigger:schedule"},
	}
	for _, tt := range tests {
		t.Run(string(tt.trigger), func(t *testing.T) {
			w := newWorld(t)
			where := dayops.Thread{Door: "test", Channel: "C-" + string(tt.trigger), ID: "t1"}
			w.bot.Submit(context.Background(), bot.Submission{Actor: tt.actor, Thread: where, Trigger: tt.trigger,
				Context: tt.context, Text: tt.text, Command: tt.cmd})
			reqs := w.engine.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d runs started; transcript:\n%s", len(reqs), w.door.Transcript())
			}
			req := reqs[0]
			if req.Actor.ID != tt.wantID || req.Trigger != tt.trigger || req.Thread != where {
				t.Errorf("started as %s by %s in %v", req.Actor.ID, req.Trigger, req.Thread)
			}
			for k, v := range tt.context {
				if req.Context[k] != v {
					t.Errorf("context %s = %q, want %q", k, req.Context[k], v)
				}
			}
			audits := w.store.Audits()
			if len(audits) == 0 || audits[0].Trigger != tt.trigger || audits[0].Actor != tt.wantID || !audits[0].Allowed {
				t.Errorf("audit rows %+v", audits)
			}
			waitFor(t, "the run's message", func() bool { return len(w.door.Posts()) > 0 })
			if p := w.door.Posts()[0]; p.Thread != where || p.Msg.Run == nil || p.Msg.Run.ID != 1 {
				t.Errorf("run reported in %v: %q", p.Thread, p.Msg.Plain())
			}
		})
	}
}

func TestSubmitTriggerIdentityNeedsItsOwnRole(t *testing.T) {
	w := newWorld(t)
	// The automation role may deploy to staging only.
	w.bot.Submit(context.Background(), bot.Submission{Trigger: dayops.TriggerAlert, Thread: here,
		Command: &commands.Command{Verb: commands.VerbRun, Name: "deploy-web", Environment: "production", Params: map[string]string{"version": "v1.2.0"}}})
	if n := len(w.engine.Requests()); n != 0 {
		t.Fatalf("%d runs started", n)
	}
	a := w.store.Audits()
	if len(a) != 1 || a[0].Allowed || a[0].Actor != "trigger:alert" || a[0].Trigger != dayops.TriggerAlert ||
		!strings.Contains(a[0].Reason, "(trigger:alert) has no role that allows run day1:deploy-web:production") {
		t.Errorf("audit %+v", a)
	}
}

func TestRunMessageUpdatedInPlace(t *testing.T) {
	w := newWorld(t)
	w.say(carol, "deploy web staging v1.2.0")
	waitFor(t, "the run's message", func() bool { return len(w.door.Posts()) == 1 })
	w.finish(1, dayops.RunSucceeded)
	waitFor(t, "the final state", func() bool { return strings.Contains(lastShown(w.door), "succeeded") })
	w.bot.Wait()
	ups := w.door.Updates()
	posts := w.door.Posts()
	// The run's message, then the deploy's end told to the whole channel.
	if len(posts) != 2 || ups[len(ups)-1].ID != posts[0].ID {
		t.Fatalf("posts %d, last update of %s", len(posts), ups[len(ups)-1].ID)
	}
	if b := posts[1]; !b.Msg.Broadcast || b.Thread != here || b.Msg.Text != "deploy-web to staging v1.2.0 succeeded (run #1)" {
		t.Errorf("broadcast %+v in %v", b.Msg, b.Thread)
	}
	// A final state is shown once: later events do not update it again,
	// nor tell the end again.
	n := len(ups)
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: &dayops.Run{ID: 1}})
	w.bot.Wait()
	if len(w.door.Updates()) != n || len(w.door.Posts()) != 2 {
		t.Errorf("the final message was updated or told again")
	}
}

func TestRunMessageCarriesOnAfterARestart(t *testing.T) {
	w := newWorld(t)
	w.say(carol, "deploy web staging v1.2.0")
	waitFor(t, "the run's message", func() bool { return len(w.door.Posts()) == 1 })
	w.bot.Wait()
	id := w.door.Posts()[0].ID
	if err := w.bot.Close(); err != nil {
		t.Fatal(err)
	}
	// While no bot listens, the run ends.
	w.store.Update(1, func(r *dayops.Run) { r.State = dayops.RunSucceeded })

	door := &bottest.Door{DoorName: "test"}
	b, err := bot.New(bot.Options{Engine: w.engine, Store: w.store, Catalogs: w.cats, Policy: bottest.Policy(), Events: w.bus})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Register(door)
	waitFor(t, "the update after the restart", func() bool { return len(door.Updates()) > 0 })
	b.Wait()
	up := door.Updates()[0]
	// The only new post is the deploy's end, told once.
	if up.ID != id || !strings.Contains(up.Msg.Plain(), "succeeded") || len(door.Posts()) != 1 || !door.Posts()[0].Msg.Broadcast {
		t.Errorf("updated %s (want %s) to %q; new posts %+v", up.ID, id, up.Msg.Plain(), door.Posts())
	}
	// Another restart tells nothing again: the broadcast is stored with the report.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	door2 := &bottest.Door{DoorName: "test"}
	b2, err := bot.New(bot.Options{Engine: w.engine, Store: w.store, Catalogs: w.cats, Policy: bottest.Policy(), Events: w.bus})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	b2.Register(door2)
	time.Sleep(50 * time.Millisecond) // Register resumes on its own goroutine
	b2.Wait()
	if p, u := door2.Posts(), door2.Updates(); len(p)+len(u) != 0 {
		t.Errorf("after a second restart: posts %+v, updates %+v", p, u)
	}
}

func TestFinalStateLandsThroughFailuresAtTheDoorsPace(t *testing.T) {
	w := newWorld(t)
	w.door.SetInterval(50 * time.Millisecond)
	w.say(carol, "deploy web staging v1.2.0")
	waitFor(t, "the run's message", func() bool { return len(w.door.Posts()) == 1 })
	w.bot.Wait()
	before := len(w.door.Attempts())
	w.door.Fail(bottest.Unavailable{}, bottest.Unavailable{}, bottest.TooManyRequests{After: 400 * time.Millisecond})
	w.finish(1, dayops.RunFailed)
	waitFor(t, "the final state", func() bool { return strings.Contains(lastShown(w.door), "failed") })
	waitFor(t, "the broadcast", func() bool { return len(w.door.Attempts()[before:]) == 5 })
	at := w.door.Attempts()[before:]
	if len(at) != 5 {
		t.Fatalf("%d attempts, want 5 (two 503s, a 429, then the update and the broadcast)", len(at))
	}
	for i := 1; i < 4; i++ {
		if gap := at[i].Sub(at[i-1]); gap < w.door.MinUpdateInterval() {
			t.Errorf("attempt %d came %s after the one before: faster than the door's pace", i, gap)
		}
	}
	if gap := at[3].Sub(at[2]); gap < 400*time.Millisecond {
		t.Errorf("retried %s after a 429 that asked for 400ms", gap)
	}
}

func TestRunMessagePaced(t *testing.T) {
	w := newWorld(t)
	w.door.SetInterval(100 * time.Millisecond)
	w.say(carol, "deploy web staging v1.2.0")
	waitFor(t, "the run's message", func() bool { return len(w.door.Posts()) == 1 })
	start := time.Now()
	for i := range 200 {
		r := w.store.Update(1, func(r *dayops.Run) { r.CurrentStep = "step " + string(rune('a'+i%26)); r.State = dayops.RunRunning })
		w.bus.Publish(dayops.RunEvent{Kind: dayops.EventStep, Run: r})
		time.Sleep(time.Millisecond)
	}
	w.finish(1, dayops.RunSucceeded)
	waitFor(t, "the final state", func() bool { return strings.Contains(lastShown(w.door), "succeeded") })
	elapsed := time.Since(start)
	if n, most := len(w.door.Updates()), int(elapsed/w.door.MinUpdateInterval())+2; n > most {
		t.Errorf("%d updates in %s: more than one per %s", n, elapsed, w.door.MinUpdateInterval())
	}
}

func TestNotifyNeverBlocksOnASlowDoor(t *testing.T) {
	w := newWorld(t)
	w.say(carol, "deploy web staging v1.2.0")
	waitFor(t, "the run's message", func() bool { return len(w.door.Posts()) == 1 })
	w.bot.Wait()
	gate := make(chan struct{})
	w.door.SetGate(gate)
	done := make(chan struct{})
	go func() {
		for range 10000 {
			w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: &dayops.Run{ID: 1}})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked on a door that does not answer")
	}
	close(gate)
}

func TestApprovalAndInterruptionReplies(t *testing.T) {
	w := newWorld(t)
	w.say(carol, "deploy web staging v1.2.0")
	waitFor(t, "the run's message", func() bool { return len(w.door.Posts()) == 1 })
	r, _ := w.store.Run(context.Background(), 1)
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventApproval, Run: r,
		Approval: &dayops.Approval{RunID: 1, Actor: bob, Approved: true, Valid: true, Have: 1, Need: 2}})
	r.CurrentStep = "Install"
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventInterrupted, Run: r})
	waitFor(t, "the replies", func() bool { return len(w.door.Posts()) >= 3 })
	var texts []string
	for _, p := range w.door.Posts()[1:] {
		texts = append(texts, p.Msg.Plain())
	}
	want := []string{"bob approved run 1 (1 of 2)", "run 1 deploy-web was interrupted when dayops stopped during step Install"}
	for _, s := range want {
		if !slices.ContainsFunc(texts, func(x string) bool { return strings.Contains(x, s) }) {
			t.Errorf("replies %q lack %q", texts, s)
		}
	}
}
