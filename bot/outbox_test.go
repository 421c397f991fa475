package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

// noticeHere is a notice thread in the channel of here, so that a run's
// replies and the notices share one channel's order.
var noticeHere = dayops.Thread{Door: "test", Channel: here.Channel}

var fetchFault = bot.SyncNotice{Kind: bot.SyncNoticeFault, Serving: "0123456789abcdef", Message: "fetching the ops repo: connection refused"}

// endedRun starts a deploy in w and lets it end, its message showing the
// end: the run's own message then asks nothing more of the door.
func endedRun(t *testing.T, w *world) {
	t.Helper()
	w.say(carol, "deploy web staging v1.2.0")
	waitFor(t, "the run's message", func() bool { return len(w.door.Posts()) == 1 })
	w.finish(1, dayops.RunSucceeded)
	waitFor(t, "the final state", func() bool { return strings.Contains(lastShown(w.door), "succeeded") })
	w.bot.Wait()
}

// queueApprovalAndNotice has bob's approval of run 1 told in its thread, then
// a notice of a failing fetch in the same channel, in that order.
func queueApprovalAndNotice(t *testing.T, w *world, b *bot.Bot) {
	t.Helper()
	r, _ := w.store.Run(context.Background(), 1)
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventApproval, Run: r,
		Approval: &dayops.Approval{RunID: 1, Actor: bob, Approved: true, Valid: true, Have: 1, Need: 2}})
	waitFor(t, "the approval reply in the outbox", func() bool { return len(w.store.Outbox()) == 1 })
	n := b.Notices(noticeHere, nil)
	n.Sync(fetchFault)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}

// postedSince is the plain text of the posts of door after the first skip.
func postedSince(door *bottest.Door, skip int) []string {
	var out []string
	for _, p := range door.Posts()[skip:] {
		out = append(out, strings.SplitN(p.Msg.Plain(), "\n", 2)[0])
	}
	return out
}

var wantApprovalThenNotice = []string{
	"bob approved run 1 (1 of 2)",
	":warning: dayops cannot fetch the ops repo and keeps serving revision 0123456789ab",
}

// TestQueuedMessagesLandWhenTheDoorIsBack: Slack answers 503, then 429,
// while an approval reply and a notice are due: both land once it answers
// again, in the order they were said, once each, after the backoff.
func TestQueuedMessagesLandWhenTheDoorIsBack(t *testing.T) {
	w := newWorld(t)
	endedRun(t, w)
	before, tries := len(w.door.Posts()), len(w.door.Attempts())
	w.door.Fail(bottest.Unavailable{}, bottest.TooManyRequests{After: 300 * time.Millisecond})
	queueApprovalAndNotice(t, w, w.bot)
	w.bot.Wait()

	if diff := cmp.Diff(wantApprovalThenNotice, postedSince(w.door, before)); diff != "" {
		t.Errorf("posted once Slack was back (-want +got):\n%s", diff)
	}
	at := w.door.Attempts()[tries:]
	if len(at) != 4 {
		t.Fatalf("%d door calls, want 4 (a 503, a 429, then the two messages)", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 950*time.Millisecond {
		t.Errorf("retried %s after a 503: want the 1s backoff", gap)
	}
	if gap := at[2].Sub(at[1]); gap < 300*time.Millisecond {
		t.Errorf("retried %s after a 429 that asked for 300ms", gap)
	}
	for _, o := range w.store.Outbox() {
		if o.DeliveredAt.IsZero() {
			t.Errorf("message %d still waits: %+v", o.ID, o)
		}
	}
	if o := w.store.Outbox()[0]; o.Attempts != 2 {
		t.Errorf("the approval reply records %d failed attempts, want 2", o.Attempts)
	}
}

// TestQueuedMessagesLandAfterARestart: Slack is down when dayops stops with
// an approval reply and a notice waiting; the next start delivers both, in
// order, and the start after that delivers nothing again.
func TestQueuedMessagesLandAfterARestart(t *testing.T) {
	w := newWorld(t)
	endedRun(t, w)
	before := len(w.door.Posts())
	down := make([]error, 50)
	for i := range down {
		down[i] = bottest.Unavailable{}
	}
	w.door.Fail(down...)
	queueApprovalAndNotice(t, w, w.bot)
	waitFor(t, "a failed delivery", func() bool { return w.store.Outbox()[0].Attempts > 0 })
	done := make(chan error)
	go func() { done <- w.bot.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a door that is down")
	}
	if got := postedSince(w.door, before); len(got) != 0 {
		t.Fatalf("posted while down: %q", got)
	}

	restart := func() *bottest.Door {
		door := &bottest.Door{DoorName: "test"}
		b, err := bot.New(bot.Options{Engine: w.engine, Store: w.store, Catalogs: w.cats, Policy: bottest.Policy(), Events: w.bus})
		if err != nil {
			t.Fatal(err)
		}
		b.Register(door)
		time.Sleep(50 * time.Millisecond) // Register resumes on its own goroutine
		b.Wait()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		return door
	}
	door := restart()
	if diff := cmp.Diff(wantApprovalThenNotice, postedSince(door, 0)); diff != "" {
		t.Errorf("posted after the restart (-want +got):\n%s", diff)
	}
	if got := postedSince(restart(), 0); len(got) != 0 {
		t.Errorf("posted again after a second restart: %q", got)
	}
}
