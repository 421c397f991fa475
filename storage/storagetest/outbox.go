package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

func testOutbox(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	run := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunRunning))
	th := dayops.Thread{Door: "slack", Channel: "C01", Name: "deploys", ID: "1.2"}
	notices := dayops.Thread{Door: "slack", Channel: "C09"}

	var ids []int64
	for i, o := range []dayops.Outgoing{
		{Thread: th, Message: `{"Text":"alice approved"}`, RunID: run.ID},
		{Thread: notices, Message: `{"Text":"notice"}`},
		{Thread: th, Message: `{"Text":"bob approved"}`, RunID: run.ID},
		{Thread: dayops.Thread{Door: "console"}, Message: `{"Text":"elsewhere"}`},
	} {
		id, err := s.EnqueueOutgoing(ctx, o)
		if err != nil {
			t.Fatalf("EnqueueOutgoing #%d: %v", i+1, err)
		}
		ids = append(ids, id)
	}
	chans, err := s.OutgoingChannels(ctx, "slack")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"C01", "C09"}, chans); diff != "" {
		t.Errorf("channels (-want +got):\n%s", diff)
	}

	due, err := s.DueOutgoing(ctx, "slack", "C01", 0)
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	want := []dayops.Outgoing{
		{ID: ids[0], Thread: th, Message: `{"Text":"alice approved"}`, RunID: run.ID, CreatedAt: now, NextAt: now},
		{ID: ids[2], Thread: th, Message: `{"Text":"bob approved"}`, RunID: run.ID, CreatedAt: now, NextAt: now},
	}
	if diff := cmp.Diff(want, due, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("due in C01 (-want +got):\n%s", diff)
	}

	// A failure keeps the message first in line, with its error and the
	// time to try again; a delivery takes it out.
	next := now.Add(4 * time.Second)
	for i := range 2 {
		if err := s.MarkFailed(ctx, ids[0], next, "slack chat.postMessage: 503 Service Unavailable"); err != nil {
			t.Fatalf("MarkFailed #%d: %v", i+1, err)
		}
	}
	due, _ = s.DueOutgoing(ctx, "slack", "C01", 1)
	if len(due) != 1 || due[0].ID != ids[0] || due[0].Attempts != 2 || !due[0].NextAt.Equal(next) || due[0].LastError == "" {
		t.Fatalf("after two failures: %+v", due)
	}
	if err := s.MarkDelivered(ctx, ids[0], next); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueOutgoing(ctx, "slack", "C01", 0)
	if len(due) != 1 || due[0].ID != ids[2] {
		t.Fatalf("after delivery: %+v", due)
	}
	// Delivered once: a second mark says it came too late.
	WantKind(t, s.MarkDelivered(ctx, ids[0], next), dayops.KindNotFound, "delivered already")
	WantKind(t, s.MarkFailed(ctx, ids[0], next, "late"), dayops.KindNotFound)
	WantKind(t, s.MarkDelivered(ctx, 999999, next), dayops.KindNotFound)
	for _, id := range ids[1:3] {
		if err := s.MarkDelivered(ctx, id, next); err != nil {
			t.Fatal(err)
		}
	}
	if chans, _ := s.OutgoingChannels(ctx, "slack"); len(chans) != 0 {
		t.Errorf("channels with nothing waiting: %v", chans)
	}

	for _, bad := range []struct {
		o    dayops.Outgoing
		want string
	}{
		{dayops.Outgoing{Message: `{}`}, "needs a door"},
		{dayops.Outgoing{Thread: th, Message: `{"Text":`}, "is not JSON"},
	} {
		_, err := s.EnqueueOutgoing(ctx, bad.o)
		WantKind(t, err, dayops.KindInvalid, bad.want)
	}
}
