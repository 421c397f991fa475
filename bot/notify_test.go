package bot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// scheduled is a run no chat command started: its first event posts its message.
func scheduled(state dayops.RunState, steps ...dayops.StepRun) *dayops.Run {
	return &dayops.Run{ID: 7, Definition: "rotate-logs", Phase: dayops.Day2, State: state, Actor: dayops.Actor{ID: "system:schedule"},
		Thread: here, Trigger: dayops.TriggerSchedule, Steps: steps}
}

func step(i int, name string, st dayops.StepState) dayops.StepRun {
	return dayops.StepRun{RunID: 7, Index: i, Name: name, State: st}
}

func waitIdle(t *testing.T, b *Bot) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.wait(ctx); err != nil {
		t.Fatalf("bot did not settle: %v", err)
	}
}

func TestNotifyNeverBlocks(t *testing.T) {
	w := newWorld(t)
	w.door.gate = make(chan struct{}) // every door call hangs until the gate opens
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			r := scheduled(dayops.RunRunning, step(0, "Rotate", dayops.StepRunning))
			w.bot.Notify(dayops.RunEvent{Kind: dayops.EventLog, Run: r, Line: &dayops.LogLine{Step: 0, Text: fmt.Sprint("line ", i)}})
			w.bot.Notify(dayops.RunEvent{Kind: dayops.EventStep, Run: r, Step: &r.Steps[0]})
		}
		r := scheduled(dayops.RunSucceeded, step(0, "Rotate", dayops.StepSucceeded))
		w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: r})
		w.bot.Notify(dayops.RunEvent{Kind: dayops.EventInterrupted, Run: r})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked on a door that does not answer")
	}
	close(w.door.gate)
	waitIdle(t, w.bot)
	posts, updates := w.door.Posts(), w.door.Updates()
	if len(posts) < 1 || !strings.Contains(posts[0].Msg.Plain(), "Run #7 rotate-logs") {
		t.Fatalf("first post is not the run message: %+v", posts)
	}
	// 2002 events while the door hung: the newest state is all that is left to send.
	if len(updates) > 2 {
		t.Errorf("%d updates, want the queue coalesced to at most 2", len(updates))
	}
	last := posts[0].Msg
	if len(updates) > 0 {
		last = updates[len(updates)-1].Msg
	}
	if got := last.Plain(); !strings.Contains(got, "— succeeded") {
		t.Errorf("last rendering is not the final state:\n%s", got)
	}
}

func TestNotifyUpdatesTheMessageHandlePosted(t *testing.T) {
	w := newWorld(t)
	// The executor may report before Start returns to Handle.
	w.engine.onStart = func(r *dayops.Run) {
		run := *r
		run.State = dayops.RunRunning
		run.Steps = []dayops.StepRun{{RunID: r.ID, Index: 0, Name: "Back up", State: dayops.StepRunning}, {RunID: r.ID, Index: 1, Name: "Install", State: dayops.StepPending}}
		w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: &run})
	}
	w.bot.claim = time.Minute // a worker waiting for Handle's post must go on when it comes
	w.say(alice, "deploy web staging v1.2.0")
	waitIdle(t, w.bot) // fails after 10s
	r, _ := w.store.Run(context.Background(), 1)
	r.State = dayops.RunSucceeded
	r.Steps = []dayops.StepRun{{RunID: 1, Index: 0, Name: "Back up", State: dayops.StepSucceeded}, {RunID: 1, Index: 1, Name: "Install", State: dayops.StepSucceeded}}
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: r})
	waitIdle(t, w.bot)

	posts := w.door.Posts()
	if len(posts) != 1 {
		t.Fatalf("want one run message, got %d posts:\n%s", len(posts), w.door.transcript())
	}
	if got := posts[0].Msg.Plain(); !strings.Contains(got, "Run #1 deploy-web staging — running") || !strings.Contains(got, "running           Back up") {
		t.Errorf("the posted message does not show the newer state the events reported:\n%s", got)
	}
	updates := w.door.Updates()
	if len(updates) != 1 || updates[0].ID != posts[0].ID {
		t.Fatalf("want one update of %s, got %+v", posts[0].ID, updates)
	}
	if got := updates[0].Msg.Plain(); !strings.Contains(got, "— succeeded") || len(updates[0].Msg.Buttons) != 0 {
		t.Errorf("update:\n%s", got)
	}
}

func TestNotifyPostsWhenNobodyClaims(t *testing.T) {
	w := newWorld(t) // ClaimWait 200ms
	r := scheduled(dayops.RunRunning)
	r.Trigger = dayops.TriggerChat
	start := time.Now()
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: r})
	waitIdle(t, w.bot)
	if len(w.door.Posts()) != 1 {
		t.Fatalf("posts: %+v", w.door.Posts())
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("posted after %v, before the claim wait", waited)
	}
}

func TestNotifyPacesUpdates(t *testing.T) {
	w := newWorld(t)
	w.door.interval = 150 * time.Millisecond
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: scheduled(dayops.RunRunning)})
	for i := range 20 {
		w.bot.Notify(dayops.RunEvent{Kind: dayops.EventStep, Run: scheduled(dayops.RunRunning), Step: &dayops.StepRun{Index: i, Name: fmt.Sprint("s", i), State: dayops.StepSucceeded}})
		time.Sleep(10 * time.Millisecond)
	}
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: scheduled(dayops.RunSucceeded)})
	waitIdle(t, w.bot)
	updates := w.door.Updates()
	// About 210ms of events at one update per 150ms: two updates, maybe three.
	if len(updates) == 0 || len(updates) > 3 {
		t.Fatalf("%d updates, want 1 to 3", len(updates))
	}
	got := updates[len(updates)-1].Msg.Plain()
	if !strings.Contains(got, "— succeeded") || !strings.Contains(got, "s19") || !strings.Contains(got, "s0") {
		t.Errorf("last update lacks the final state or a step:\n%s", got)
	}
}

func TestCloseFlushesAtOnce(t *testing.T) {
	w := newWorld(t)
	w.door.interval = time.Hour
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: scheduled(dayops.RunRunning)})
	waitIdle(t, w.bot) // posted: the next change waits an hour for its turn
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: scheduled(dayops.RunSucceeded)})
	start := time.Now()
	if err := w.bot.Close(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Close waited for the pace interval")
	}
	updates := w.door.Updates()
	if len(updates) != 1 || !strings.Contains(updates[0].Msg.Plain(), "— succeeded") {
		t.Errorf("updates: %+v", updates)
	}
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: scheduled(dayops.RunFailed)})
	if w.bot.Wait(); len(w.door.Updates()) != 1 {
		t.Errorf("an event after Close was sent")
	}
}

func TestNotifyKeepsFinalState(t *testing.T) {
	w := newWorld(t)
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: scheduled(dayops.RunSucceeded, step(0, "Rotate", dayops.StepSucceeded))})
	// A late, older snapshot must not take the message back.
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventStep, Run: scheduled(dayops.RunRunning, step(0, "Rotate", dayops.StepRunning)), Step: &dayops.StepRun{Index: 0, Name: "Rotate", State: dayops.StepRunning}})
	waitIdle(t, w.bot)
	all := append(w.door.Posts(), w.door.Updates()...)
	got := all[len(all)-1].Msg.Plain()
	if !strings.Contains(got, "— succeeded") || !strings.Contains(got, "succeeded         Rotate") {
		t.Errorf("final state lost:\n%s", got)
	}
}

func TestNotifyFailedRunShowsOutput(t *testing.T) {
	w := newWorld(t)
	for i := 1; i <= 12; i++ {
		w.bot.Notify(dayops.RunEvent{Kind: dayops.EventLog, Run: scheduled(dayops.RunRunning), Line: &dayops.LogLine{RunID: 7, Step: 1, Seq: int64(i), Text: fmt.Sprintf("out %d token=hunter2-secret", i)}})
	}
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: scheduled(dayops.RunFailed,
		step(0, "Prepare", dayops.StepSucceeded), step(1, "Rotate", dayops.StepFailed), dayops.StepRun{Index: 2, Name: "Undo", State: dayops.StepSucceeded, Rollback: true})})
	waitIdle(t, w.bot)
	m := w.door.Posts()[0].Msg
	if m.Run == nil || m.Run.OutputStep != "Rotate" || len(m.Run.Output) != MaxOutputLines {
		t.Fatalf("run view: %+v", m.Run)
	}
	got := m.Plain()
	for _, s := range []string{"last output of Rotate:\n  | out 3 token=***", "| out 12 token=***", "rollback:\n  succeeded         Undo"} {
		if !strings.Contains(got, s) {
			t.Errorf("message lacks %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "out 2 ") || strings.Contains(got, "hunter2") {
		t.Errorf("message shows too much:\n%s", got)
	}
}

func TestNotifyApprovalReplies(t *testing.T) {
	w := newWorld(t)
	w.store.add(&dayops.Run{Definition: "deploy-web", Environment: "production", Phase: dayops.Day1, State: dayops.RunAwaitingApproval,
		Actor: alice, Thread: here, Trigger: dayops.TriggerChat})
	run, _ := w.store.Run(context.Background(), 1)

	// Approved elsewhere (a button on another door, the web): the run's thread hears of it.
	a := dayops.Approval{RunID: 1, Gate: dayops.GateEnvironment, Actor: bob, Approved: true, Valid: true}
	w.store.addApproval(a)
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventApproval, Run: run, Approval: &a})
	waitIdle(t, w.bot)
	if got := w.door.transcript(); strings.Count(got, "bob approved run 1 (1 of 1)") != 1 {
		t.Errorf("transcript:\n%s", got)
	}

	// Approved in the same conversation: one reply, not two.
	w2 := newWorld(t)
	w2.store.add(&dayops.Run{Definition: "deploy-web", Environment: "production", Phase: dayops.Day1, State: dayops.RunAwaitingApproval,
		Actor: alice, Thread: here, Trigger: dayops.TriggerChat})
	w2.engine.onApprove = func(a *dayops.Approval) {
		r, _ := w2.store.Run(context.Background(), 1)
		w2.bot.Notify(dayops.RunEvent{Kind: dayops.EventApproval, Run: r, Approval: a})
	}
	w2.bot.Handle(context.Background(), Request{Actor: bob, Thread: dayops.Thread{Door: "test", Channel: "terminal", ID: "9"}, Text: "approve 1"})
	waitIdle(t, w2.bot)
	if got := w2.door.transcript(); strings.Count(got, "bob approved run 1 (1 of 1)") != 1 {
		t.Errorf("transcript:\n%s", got)
	}
}

// The executor reports on its own goroutine, so its report of a decision
// may come after the command has answered: the conversation hears it once.
func TestLateApprovalReports(t *testing.T) {
	for _, tt := range []struct {
		name    string
		who     dayops.Actor
		text    string
		refusal error
		report  dayops.Approval
		want    string
	}{
		{name: "approval", who: bob, text: "approve 1",
			report: dayops.Approval{RunID: 1, Gate: dayops.GateEnvironment, Actor: bob, Approved: true, Valid: true},
			want:   "bob approved run 1 (1 of 1)"},
		{name: "the requester's own approval", who: alice, text: "approve 1",
			refusal: dayops.Errorf(dayops.KindForbidden, "alice requested run 1 and cannot approve it: someone else must"),
			report: dayops.Approval{RunID: 1, Gate: dayops.GateEnvironment, Actor: alice, Approved: true,
				Note: "alice requested run 1 and cannot approve it: someone else must"},
			want: "alice requested run 1 and cannot approve it: someone else must"},
		{name: "the requester withdraws", who: alice, text: "deny 1 wrong version",
			report: dayops.Approval{RunID: 1, Gate: dayops.GateEnvironment, Actor: alice, Approved: false, Valid: true, Reason: "wrong version"},
			want:   "alice denied run 1: wrong version"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.store.add(&dayops.Run{Definition: "deploy-web", Environment: "production", Phase: dayops.Day1, State: dayops.RunAwaitingApproval,
				Actor: alice, Thread: here, Trigger: dayops.TriggerChat})
			w.engine.approveErr = tt.refusal
			w.say(tt.who, tt.text)
			run, _ := w.store.Run(context.Background(), 1)
			w.bot.Notify(dayops.RunEvent{Kind: dayops.EventApproval, Run: run, Approval: &tt.report})
			waitIdle(t, w.bot)
			got := w.door.transcript()
			if strings.Count(got, tt.want) != 1 || strings.Count(got, "\n") != 1 {
				t.Errorf("want %q once and nothing else, got:\n%s", tt.want, got)
			}
		})
	}
}

func TestNotifyInterrupted(t *testing.T) {
	w := newWorld(t)
	r := scheduled(dayops.RunInterrupted)
	r.CurrentStep = "Rotate"
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventInterrupted, Run: r})
	waitIdle(t, w.bot)
	if got := w.door.transcript(); !strings.Contains(got, "run 7 rotate-logs was interrupted when dayops stopped during step Rotate") {
		t.Errorf("transcript:\n%s", got)
	}
}

func TestNotifyWithoutDoor(t *testing.T) {
	w := newWorld(t)
	r := scheduled(dayops.RunRunning)
	r.Thread = dayops.Thread{Door: "cli"}
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState, Run: r})
	w.bot.Notify(dayops.RunEvent{Kind: dayops.EventState}) // no run at all
	waitIdle(t, w.bot)
	if n := len(w.door.Posts()); n != 0 {
		t.Errorf("%d posts for a run of another door", n)
	}
}

func TestMessagePlain(t *testing.T) {
	m := Message{
		Text:   "hello",
		Fields: []Field{{"a", "1"}},
		Run: &RunView{Title: "Run #3 x — running", Requester: "alice", Revision: "abc", Duration: 1500 * time.Millisecond,
			Steps: []StepView{{Name: "One", State: dayops.StepSucceeded, Duration: 400 * time.Millisecond}, {Name: "Two", State: dayops.StepRunning}}},
		Buttons: []Button{{Label: "Cancel run 3", Action: ActionCancel, Value: "3"}},
		Footer:  "bye",
	}
	want := "hello\na: 1\nRun #3 x — running\nasked by alice · revision abc · 1.5s\n  succeeded         One  0.4s\n  running           Two\n[1] Cancel run 3\nbye"
	if got := m.Plain(); got != want {
		t.Errorf("Plain:\n%s\nwant:\n%s", got, want)
	}
	for d, want := range map[time.Duration]string{0: "", 400 * time.Millisecond: "0.4s", 187 * time.Second: "3m07s", 62 * time.Minute: "1h02m"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
