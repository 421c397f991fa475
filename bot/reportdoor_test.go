package bot_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

// recordDoor is a ReportDoor that creates one "deployment" per run, and
// fails once right after creating it, as a code host does when it answers
// 502 to the second of two calls.
type recordDoor struct {
	*bottest.Door
	mu       sync.Mutex
	created  int
	failOnce bool
	seen     []dayops.RunState
}

func (d *recordDoor) ReportRun(ctx context.Context, rep *dayops.Report, run *dayops.Run, m bot.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rep.Refs["deployment"] == "" {
		d.created++
		if rep.Refs == nil {
			rep.Refs = map[string]string{}
		}
		rep.Refs["deployment"] = "77"
	}
	if d.failOnce {
		d.failOnce = false
		return errors.New("502 bad gateway")
	}
	rep.Thread.Message = "comment-1"
	d.seen = append(d.seen, run.State)
	return nil
}

func TestReportDoorKeepsItsReferencesThroughAFailure(t *testing.T) {
	store := &bottest.Store{}
	engine := &bottest.Engine{Store: store}
	door := &recordDoor{Door: &bottest.Door{DoorName: "test"}, failOnce: true}
	b, err := bot.New(bot.Options{
		Engine: engine, Store: store, Catalogs: &bottest.Catalogs{Cat: bottest.Catalog(t)}, Policy: bottest.Policy(),
		Events: dayops.NewBus(), UpdateInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Register(door)
	b.Handle(context.Background(), bot.Request{Actor: carol, Thread: here, Text: "deploy web staging v1.2.0"})
	waitFor(t, "the run reported through the door", func() bool {
		door.mu.Lock()
		defer door.mu.Unlock()
		return len(door.seen) > 0
	})
	b.Wait()
	reps, err := store.Reports(context.Background(), 1)
	if err != nil || len(reps) != 1 {
		t.Fatalf("reports %+v, %v", reps, err)
	}
	door.mu.Lock()
	defer door.mu.Unlock()
	if door.created != 1 || reps[0].Refs["deployment"] != "77" || reps[0].Thread.Message != "comment-1" {
		t.Errorf("created %d deployments; stored report %+v", door.created, reps[0])
	}
	if len(door.Posts())+len(door.Updates()) != 0 {
		t.Errorf("a ReportDoor's run message went through Post/Update too")
	}
}
