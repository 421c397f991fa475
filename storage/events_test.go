package storage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/postgres"
	"github.com/dayops/dayops/storage/storagetest"
)

// TestEventsAcrossReplicas: two processes on one PostgreSQL database. A run
// of replica A is followed on replica B (dayops.Follow, as B's run page
// does): B shows every line once and in order, also those A stored while B
// was not told (a dropped notification), then the run's end; B's local bus
// (its bot) hears none of A's events.
func TestEventsAcrossReplicas(t *testing.T) {
	url := postgres.Database(t)
	ctx := context.Background()
	open := func() *Store {
		s, err := Open(ctx, url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	evA, evB := a.Events(ctx, nil), b.Events(ctx, nil)
	t.Cleanup(func() { evA.Close(); evB.Close() })
	for _, e := range []*Events{evA, evB} {
		select {
		case <-e.heard:
		case <-time.After(10 * time.Second):
			t.Fatal("the listener did not start")
		}
	}
	run := storagetest.MustCreate(t, a, storagetest.NewRun("deploy-web", "staging", dayops.RunRunning))
	local, stopLocal := evB.Local().Subscribe(0)
	defer stopLocal()

	followCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	events := dayops.Follow(followCtx, b, evB, run.ID, 0)
	first := <-events
	if first.Kind != dayops.EventState || first.Run == nil || first.Run.ID != run.ID {
		t.Fatalf("first event %+v, want the run as stored", first)
	}
	const n = 300
	seq := int64(0)
	for batch := 0; batch < n/30; batch++ {
		var lines []dayops.LogLine
		for i := 0; i < 30; i++ {
			seq++
			lines = append(lines, dayops.LogLine{RunID: run.ID, Seq: seq, Stream: dayops.Stdout, Text: fmt.Sprintf("line %d", seq)})
		}
		if err := a.AppendLogs(ctx, lines); err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			if batch == 3 && i < 20 {
				continue // lost on the way: B reads them from the store
			}
			evA.Publish(dayops.RunEvent{Kind: dayops.EventLog, Run: &dayops.Run{ID: run.ID}, Line: &l})
		}
		if batch == 5 {
			st := dayops.StepRun{RunID: run.ID, Index: 0, Name: "Install", State: dayops.StepSucceeded}
			evA.Publish(dayops.RunEvent{Kind: dayops.EventStep, Run: &dayops.Run{ID: run.ID}, Step: &st})
		}
	}
	ended, err := a.TransitionRun(ctx, run.ID, dayops.RunSucceeded, "", dayops.AuditEvent{Actor: "system", Action: "run.state", Allowed: true})
	if err != nil {
		t.Fatal(err)
	}
	evA.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: ended})

	var got []string
	var final *dayops.Run
	for ev := range events {
		switch {
		case ev.Kind == dayops.EventLog:
			got = append(got, ev.Line.Text)
		case ev.Kind == dayops.EventState && ev.Run.State.Final():
			final = ev.Run
		case ev.Kind == "":
			t.Fatalf("follow failed: %s", ev.Message)
		}
	}
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines B followed (-want +got):\n%s", diff)
	}
	if final == nil || final.State != dayops.RunSucceeded {
		t.Errorf("B did not see the run end: %+v", final)
	}
	select {
	case ev := <-local:
		t.Errorf("B's local bus heard A's event %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestEventsOnSQLite: one process per file: Events is its local bus.
func TestEventsOnSQLite(t *testing.T) {
	s := openTest(t, nil)
	ev := s.Events(context.Background(), nil)
	defer ev.Close()
	ch, stop := ev.Subscribe(7)
	defer stop()
	ev.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: &dayops.Run{ID: 7, State: dayops.RunRunning}})
	select {
	case got := <-ch:
		if got.Run.ID != 7 {
			t.Errorf("got %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a subscriber did not get the event")
	}
}
