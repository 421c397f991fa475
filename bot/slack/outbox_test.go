package slack

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// TestRepliesAndNoticesOutliveSlackOutage: Slack answers 503, then 429,
// when an approval reply and a notice are due in one channel: both land
// once Slack is back, in the order they were said, once each, and Slack's
// errors are never posted.
func TestRepliesAndNoticesOutliveSlackOutage(t *testing.T) {
	w := newWorld(t)
	w.serve(signed(PathCommands, commandForm(t, sreUser, "deploy web staging v1.2.0"), time.Now()))
	r := w.store.Update(1, func(r *dayops.Run) {
		r.State = dayops.RunSucceeded
		for i := range r.Steps {
			r.Steps[i].State = dayops.StepSucceeded
		}
	})
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: r})
	time.Sleep(50 * time.Millisecond)
	w.bot.Wait()
	before := len(w.slack.Calls())

	var mu sync.Mutex
	var refused []int
	answers := []int{503, 429} // then Slack is back
	w.slack.setFail(func(method string) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if method != "chat.postMessage" || len(answers) == 0 {
			return 0, ""
		}
		status := answers[0]
		answers = answers[1:]
		refused = append(refused, status)
		return status, "1"
	})
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventApproval, Run: r,
		Approval: &dayops.Approval{RunID: 1, Actor: dayops.Actor{ID: "slack:" + sreUser2, Name: "alice"}, Approved: true, Valid: true, Have: 1, Need: 2}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(refused)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the approval reply was never tried")
		}
		time.Sleep(10 * time.Millisecond)
	}
	n := w.bot.Notices(dayops.Thread{Door: DoorName, Channel: r.Thread.Channel}, nil)
	n.Sync(bot.SyncNotice{Kind: bot.SyncNoticeFault, Serving: "0123456789abcdef", Message: "fetching the ops repo: connection refused"})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.bot.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the messages never landed; calls %s", methods(w.slack.Calls()[before:]))
	}

	var posted []string
	for _, c := range w.slack.Calls()[before:] {
		if c.Method == "chat.postMessage" {
			posted = append(posted, c.Form.Get("text"))
		}
		if text := c.blocksText(); strings.Contains(text, "503") || strings.Contains(text, "rate limit") || strings.Contains(text, "Service Unavailable") {
			t.Errorf("a Slack error posted to Slack: %s %q", c.Method, text)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != 2 {
		t.Errorf("Slack refused %v; the test meant a 503 and a 429", refused)
	}
	if len(posted) != 2 || !strings.Contains(posted[0], "approved run 1") || !strings.Contains(posted[1], "cannot fetch the ops repo") {
		t.Fatalf("posted %q; want the approval reply, then the notice", posted)
	}
}
