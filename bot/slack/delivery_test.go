package slack

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

func TestPostAndUpdate(t *testing.T) {
	w := newWorld(t)
	th := dayops.Thread{Door: "slack", Channel: "C1", ID: "1700000000.000001"}
	m := bot.Message{Run: runView(2)}
	id, err := w.door.Post(context.Background(), th, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.door.Update(context.Background(), th, id, m); err != nil {
		t.Fatal(err)
	}
	// A run message stays in the thread even when posted while answering someone.
	if _, err := w.door.Post(withAsker(context.Background(), sreUser, ""), th, m); err != nil {
		t.Fatal(err)
	}
	if _, err := w.door.Post(withAsker(context.Background(), sreUser, ""), th, bot.Message{Text: "not allowed", Private: true}); err != nil {
		t.Fatal(err)
	}
	calls := w.slack.Calls()
	want := []string{"chat.postMessage C1 1700000000.000001  ", "chat.update C1  " + id + " ", "chat.postMessage C1 1700000000.000001  ",
		"chat.postEphemeral C1 1700000000.000001  " + sreUser}
	var got []string
	for _, c := range calls {
		got = append(got, strings.Join([]string{c.Method, c.Form.Get("channel"), c.Form.Get("thread_ts"), c.Form.Get("ts"), c.Form.Get("user")}, " "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ts := calls[0].TS; id != ts {
		t.Errorf("Post returned %q; want the ts %q", id, ts)
	}
	if !strings.Contains(calls[1].blocksText(), "Run #12 deploy-web") {
		t.Errorf("update without the run: %q", calls[1].blocksText())
	}
}

// TestDeliveryErrors: a 429 says when to try again; the rest are plain
// errors the bot backs off from, and Slack's own errors are logged.
func TestDeliveryErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		after     string
		slackErr  string
		wantAfter time.Duration // 0: not a RetryAfter
		wantLog   string
	}{
		{name: "429", status: http.StatusTooManyRequests, after: "7", wantAfter: 7 * time.Second},
		{name: "503", status: http.StatusServiceUnavailable, wantLog: "503"},
		{name: "500", status: http.StatusInternalServerError, wantLog: "500"},
		{name: "429 without Retry-After", status: http.StatusTooManyRequests, wantLog: "429"},
		{name: "slack error", slackErr: "channel_not_found", wantLog: "channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			var logs bytes.Buffer
			w.door.log = slog.New(slog.NewTextHandler(&logs, nil))
			w.slack.mu.Lock()
			w.slack.slackErr = tt.slackErr
			w.slack.mu.Unlock()
			if tt.status != 0 {
				w.slack.setFail(func(string) (int, string) { return tt.status, tt.after })
			}
			th := dayops.Thread{Door: "slack", Channel: "C1", ID: "1.1"}
			for name, err := range map[string]error{
				"post":   func() error { _, err := w.door.Post(context.Background(), th, bot.Message{Text: "hi"}); return err }(),
				"update": w.door.Update(context.Background(), th, "1.2", bot.Message{Text: "hi"}),
			} {
				if err == nil {
					t.Fatalf("%s: no error", name)
				}
				var ra bot.RetryAfter
				got := time.Duration(0)
				if errors.As(err, &ra) {
					got = ra.RetryAfter()
				}
				if got != tt.wantAfter {
					t.Errorf("%s: %v retries after %s; want %s", name, err, got, tt.wantAfter)
				}
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q; want %q in it", logs.String(), tt.wantLog)
			}
		})
	}
	t.Run("network", func(t *testing.T) {
		w := newWorld(t)
		w.slack.srv.Stop()
		_, err := w.door.Post(context.Background(), dayops.Thread{Door: "slack", Channel: "C1"}, bot.Message{Text: "hi"})
		var ra bot.RetryAfter
		if err == nil || errors.As(err, &ra) {
			t.Errorf("Post with Slack gone: %v; want a plain error", err)
		}
	})
}

// TestRunMessageOutlivesSlackOutage: Slack answers 503 and then 429 while a
// run goes on and ends; the run's message ends in the final state once
// Slack is back, and Slack's errors are never posted to Slack.
func TestRunMessageOutlivesSlackOutage(t *testing.T) {
	w := newWorld(t)
	w.serve(signed(PathCommands, commandForm(t, sreUser, "deploy web staging v1.2.0"), time.Now()))
	if n := len(w.engine.Requests()); n != 1 {
		t.Fatalf("%d runs started", n)
	}
	var mu sync.Mutex
	refused := map[int]int{}
	answers := []int{503, 503, 503, 429} // then Slack is back
	w.slack.setFail(func(method string) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if len(answers) == 0 {
			return 0, ""
		}
		status := answers[0]
		answers = answers[1:]
		refused[status]++
		return status, "1"
	})
	publish := func(f func(r *dayops.Run)) {
		r := w.store.Update(1, f)
		w.bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: r})
	}
	publish(func(r *dayops.Run) { r.State, r.Steps[0].State = dayops.RunRunning, dayops.StepRunning })
	publish(func(r *dayops.Run) {
		r.State = dayops.RunSucceeded
		for i := range r.Steps {
			r.Steps[i].State = dayops.StepSucceeded
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	var last call
	for time.Now().Before(deadline) {
		calls := w.slack.Calls()
		// The last update shows the end; the deploy's end line may follow it.
		for i := len(calls) - 1; i >= 0 && last.Method == ""; i-- {
			if c := calls[i]; c.Method == "chat.update" {
				if strings.Contains(c.blocksText(), "succeeded") {
					last = c
				}
				break
			}
		}
		if last.Method != "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if last.Method == "" {
		t.Fatalf("the run's message never showed the end; calls %s", methods(w.slack.Calls()))
	}
	mu.Lock()
	if refused[503] != 3 || refused[429] != 1 {
		t.Errorf("Slack refused %v; the test meant 3×503 and 1×429", refused)
	}
	mu.Unlock()
	runTS := w.runTS()
	if last.Form.Get("ts") != runTS {
		t.Errorf("updated %q; want the run's message %q", last.Form.Get("ts"), runTS)
	}
	for _, c := range w.slack.Calls() {
		if text := c.blocksText(); strings.Contains(text, "503") || strings.Contains(text, "rate limit") || strings.Contains(text, "Service Unavailable") {
			t.Errorf("a Slack error posted to Slack: %s %q", c.Method, text)
		}
	}
}

// TestUpdatesPaced: a run that changes fifty times a second has its message
// updated about once a second.
func TestUpdatesPaced(t *testing.T) {
	w := newWorld(t)
	w.serve(signed(PathCommands, commandForm(t, sreUser, "deploy web staging v1.2.0"), time.Now()))
	updates := func() int {
		n := 0
		for _, c := range w.slack.Calls() {
			if c.Method == "chat.update" {
				n++
			}
		}
		return n
	}
	before := updates()
	start := time.Now()
	for i := 0; time.Since(start) < 3*time.Second; i++ {
		r := w.store.Update(1, func(r *dayops.Run) {
			r.State, r.Steps[0].State, r.Steps[0].Error = dayops.RunRunning, dayops.StepRunning, strings.Repeat("x", i%7)
		})
		w.bus.Publish(dayops.RunEvent{Kind: dayops.EventStep, Run: r})
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	got := updates() - before
	t.Logf("%d updates in %s", got, took.Round(time.Millisecond))
	if max := int(took/updateInterval) + 1; got < 1 || got > max {
		t.Errorf("%d updates in %s; want between 1 and %d", got, took.Round(time.Millisecond), max)
	}
}
