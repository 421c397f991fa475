package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// pacedDoor is a door on w's fake Slack whose channel interval is interval.
func pacedDoor(t *testing.T, w *world, interval time.Duration) *Door {
	t.Helper()
	d, err := New(context.Background(), Options{Bot: w.bot, BotToken: "xoxb-test", BotUserID: botUser,
		APIURL: w.slack.srv.GetAPIURL(), Deliveries: w.db, ChannelInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// TestChannelPaced: four runs reporting in one channel at once (a post and
// four updates each: twenty messages) reach Slack an interval apart, so
// twenty take nineteen intervals, while a second channel goes at its own
// pace meanwhile.
func TestChannelPaced(t *testing.T) {
	const interval = 100 * time.Millisecond // wide enough that a loaded machine's scheduling does not read as a broken pace
	w := newWorld(t)
	d := pacedDoor(t, w, interval)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	report := func(channel string, run int, updates int) {
		defer wg.Done()
		th := dayops.Thread{Door: DoorName, Channel: channel, ID: fmt.Sprintf("1700000000.%06d", 900+run)}
		ts, err := d.Post(ctx, th, bot.Message{Text: fmt.Sprintf("run %d", run)})
		if err != nil {
			errs <- err
			return
		}
		for i := range updates {
			if err := d.Update(ctx, th, ts, bot.Message{Text: fmt.Sprintf("run %d step %d", run, i)}); err != nil {
				errs <- err
			}
		}
	}
	start := time.Now()
	for run := range 4 {
		wg.Add(1)
		go report("CBUSY", run, 4)
	}
	wg.Add(1)
	go report("CQUIET", 9, 2)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	at := map[string][]time.Time{}
	for _, c := range w.slack.Calls() {
		if c.Method == "chat.postMessage" || c.Method == "chat.update" {
			ch := c.Form.Get("channel")
			at[ch] = append(at[ch], c.At)
		}
	}
	busy, quiet := at["CBUSY"], at["CQUIET"]
	if len(busy) != 20 || len(quiet) != 3 {
		t.Fatalf("%d calls in the busy channel, %d in the quiet one; want 20 and 3", len(busy), len(quiet))
	}
	slices.SortFunc(busy, time.Time.Compare)
	// The fake's clock sees the requests, not the turns: allow a little
	// network jitter per gap, none on the whole.
	const jitter = 25 * time.Millisecond
	for i := 1; i < len(busy); i++ {
		if gap := busy[i].Sub(busy[i-1]); gap < interval-jitter {
			t.Errorf("message %d reached Slack %s after the one before in one channel; want about %s", i+1, gap, interval)
		}
	}
	if span := busy[19].Sub(busy[0]); span < 19*interval-jitter {
		t.Errorf("20 messages to one channel took %s; want at least 19 × %s", span, interval)
	}
	// The quiet channel did not wait for the busy one.
	if last := quiet[len(quiet)-1].Sub(start); last > 6*interval {
		t.Errorf("the quiet channel's third message came %s after the start: it waited for the busy channel", last)
	}
	t.Logf("busy channel: 20 messages over %s; quiet channel done after %s", busy[19].Sub(busy[0]).Round(time.Millisecond),
		quiet[len(quiet)-1].Sub(start).Round(time.Millisecond))
}

// TestChannelPaceBeyondTheDeadline: a turn that would come after the
// caller's deadline, or more than a few turns away, is not waited for: the
// caller hears when to come back, as from a 429, and Slack hears nothing.
func TestChannelPaceBeyondTheDeadline(t *testing.T) {
	w := newWorld(t)
	d := pacedDoor(t, w, time.Second)
	th := dayops.Thread{Door: DoorName, Channel: "CBUSY"}
	if _, err := d.Post(context.Background(), th, bot.Message{Text: "first"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := d.Post(ctx, th, bot.Message{Text: "second"})
	var rl *RateLimited
	if !errors.As(err, &rl) || rl.After < 800*time.Millisecond || rl.After > time.Second {
		t.Fatalf("error %v; want RateLimited after about 1s", err)
	}
	if n := len(w.slack.Calls()); n != 1 {
		t.Errorf("%d calls reached Slack, want 1", n)
	}
	// Its turn was not taken: after the interval the next one goes at once.
	time.Sleep(time.Second)
	start := time.Now()
	if _, err := d.Post(context.Background(), th, bot.Message{Text: "third"}); err != nil || time.Since(start) > 200*time.Millisecond {
		t.Errorf("third post: %v after %s", err, time.Since(start))
	}
}

// TestChannelPaceBurst: a burst of ten messages to one channel at once:
// those whose turn comes within a few intervals wait for it, the others
// are told to come back later and do not hold the door meanwhile.
func TestChannelPaceBurst(t *testing.T) {
	const interval = 100 * time.Millisecond
	w := newWorld(t)
	d := pacedDoor(t, w, interval)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var posted, limited int
	start := time.Now()
	for i := range 10 {
		wg.Go(func() {
			_, err := d.Post(context.Background(), dayops.Thread{Door: DoorName, Channel: "CBURST"}, bot.Message{Text: fmt.Sprint(i)})
			mu.Lock()
			defer mu.Unlock()
			var rl *RateLimited
			switch {
			case err == nil:
				posted++
			case errors.As(err, &rl) && rl.After > maxWaitTurns*interval && rl.After <= 10*interval:
				limited++
			default:
				t.Errorf("post %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if posted != maxWaitTurns+1 || limited != 10-posted {
		t.Errorf("%d posted and %d told to come back; want %d and %d", posted, limited, maxWaitTurns+1, 10-maxWaitTurns-1)
	}
	if took := time.Since(start); took > (maxWaitTurns+1)*interval+200*time.Millisecond {
		t.Errorf("the burst held its callers %s", took)
	}
}
