package bot_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

// linkDoor is a door whose messages have links, counting how often it is
// asked for one.
type linkDoor struct {
	*bottest.Door
	mu    sync.Mutex
	asked int
}

func (d *linkDoor) Permalink(ctx context.Context, t dayops.Thread, id string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked++
	return "https://chat.example.com/" + t.Channel + "/" + id, nil
}

// TestRunLinksItsOtherThreads: a run reported on a pull request and in a
// chat channel shows, on the pull request, the link of its chat message,
// asked of the chat door once.
func TestRunLinksItsOtherThreads(t *testing.T) {
	store := &bottest.Store{}
	engine := &bottest.Engine{Store: store}
	chat := &linkDoor{Door: &bottest.Door{DoorName: "chat"}}
	pr := &bottest.Door{DoorName: "pr"}
	bus := dayops.NewBus()
	b, err := bot.New(bot.Options{Engine: engine, Store: store, Catalogs: &bottest.Catalogs{Cat: bottest.Catalog(t)},
		Policy: bottest.Policy(), Events: bus, UpdateInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Register(chat)
	b.Register(pr)
	b.Submit(context.Background(), bot.Submission{Actor: carol, Thread: dayops.Thread{Door: "pr", Channel: "acme/web#7"},
		Also: []dayops.Thread{{Door: "chat", Channel: "C1"}}, Text: "deploy web staging v1.2.0"})
	waitFor(t, "the run's messages", func() bool { return len(pr.Posts()) > 0 && len(chat.Posts()) > 0 })
	b.Wait()
	r := store.Update(1, func(r *dayops.Run) { r.State = dayops.RunSucceeded })
	bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: r})
	waitFor(t, "the end on the pull request", func() bool {
		ups := pr.Updates()
		return len(ups) > 0 && ups[len(ups)-1].Msg.Run.State == dayops.RunSucceeded
	})
	b.Wait()
	all := append(pr.Posts(), pr.Updates()...)
	last := all[len(all)-1].Msg.Run
	want := "https://chat.example.com/C1/" + chat.Posts()[0].ID
	if len(last.Elsewhere) != 1 || last.Elsewhere[0].URL != want || last.Elsewhere[0].Door != "chat" {
		t.Errorf("the pull request's message links %+v, want %s", last.Elsewhere, want)
	}
	if first := pr.Posts()[0].Msg.Run; len(first.Elsewhere) != 1 {
		t.Errorf("the first message on the pull request links %+v: the chat message was posted first in the same pass", first.Elsewhere)
	}
	chat.mu.Lock()
	defer chat.mu.Unlock()
	if chat.asked != 1 {
		t.Errorf("the chat door was asked for the link %d times, want once (it is kept with the report)", chat.asked)
	}
}
