package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
	"github.com/dayops/dayops/gitsync"
)

// TestSyncNoticesRelay: the syncer's events reach the notify thread, also
// those of the first sync, which comes before the bot exists.
func TestSyncNoticesRelay(t *testing.T) {
	store := &bottest.Store{}
	b, err := bot.New(bot.Options{Engine: &bottest.Engine{Store: store}, Store: store, Catalogs: &bottest.Catalogs{Cat: bottest.Catalog(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	door := &bottest.Door{DoorName: "test"}
	b.Register(door)

	relay := &syncNotices{}
	relay.SyncEvent(gitsync.Event{Kind: gitsync.EventInvalid, Revision: "9999aaaabbbbcccc", Problems: []string{"ops/x.yaml:1:1: bad"}})
	where := dayops.Thread{Door: "test", Channel: "#ops"}
	n := b.Notices(where, nil)
	relay.bind(n)
	relay.SyncEvent(gitsync.Event{Kind: gitsync.EventUpdated, Revision: "aaaa", Serving: "aaaa"})
	relay.SyncEvent(gitsync.Event{Kind: gitsync.EventFault, Serving: "aaaabbbbccccdddd", Message: "fetching: connection refused"})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	b.Wait() // the notices wait in the outbox for their door
	var got []string
	for _, p := range door.Posts() {
		if p.Thread == where {
			got = append(got, p.Msg.Text+" | "+p.Msg.Pre)
		}
	}
	if len(got) != 2 || !strings.Contains(strings.Join(got, "\n"), "9999aaaabbbb is invalid") ||
		!strings.Contains(strings.Join(got, "\n"), "connection refused") {
		t.Errorf("notices posted:\n%s", strings.Join(got, "\n"))
	}

	// No notify channel: events are dropped, never kept.
	none := &syncNotices{}
	none.bind(nil)
	for range maxEarlySyncEvents + 5 {
		none.SyncEvent(gitsync.Event{Kind: gitsync.EventFault, Time: time.Now()})
	}
	if len(none.early) != 0 {
		t.Errorf("%d events kept without a notify channel", len(none.early))
	}
}
