package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

var notifyThread = dayops.Thread{Door: "test", Channel: "#ops-notices"}

// waitPosts waits until door has a post in thread, and returns the
// texts posted there.
func waitPosts(t *testing.T, door *bottest.Door, thread dayops.Thread) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var texts []string
		for _, p := range door.Posts() {
			if p.Thread == thread {
				texts = append(texts, p.Msg.Text)
			}
		}
		if len(texts) > 0 || time.Now().After(deadline) {
			return texts
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSyncNotices: a stalled revision, a failing fetch and its recovery are
// posted to the notify thread; a plain update is not.
func TestSyncNotices(t *testing.T) {
	tests := []struct {
		name string
		ev   bot.SyncNotice
		want []string // substrings of the text, pre and footer; nil: nothing posted
	}{
		{"stalled on a broken commit", bot.SyncNotice{Kind: bot.SyncNoticeInvalid, Revision: "9999aaaabbbbcccc", Serving: "0123456789abcdef",
			Problems: []string{"ops/day2/x.yaml:3:1: unknown key foo"}},
			[]string{"ops repo revision 9999aaaabbbb is invalid, so dayops keeps serving revision 0123456789ab", "ops/day2/x.yaml:3:1: unknown key foo", "/ops sync"}},
		{"stalled with no catalog yet", bot.SyncNotice{Kind: bot.SyncNoticeInvalid, Revision: "9999aaaabbbbcccc"},
			[]string{"keeps serving no revision (no valid catalog yet)"}},
		{"fetch failing", bot.SyncNotice{Kind: bot.SyncNoticeFault, Serving: "0123456789abcdef", Message: "fetching https://git.example.com/ops: authentication required"},
			[]string{"cannot fetch the ops repo and keeps serving revision 0123456789ab", "authentication required"}},
		{"recovered", bot.SyncNotice{Kind: bot.SyncNoticeRecovered, Serving: "0123456789abcdef"},
			[]string{"fetches the ops repo again; serving revision 0123456789ab"}},
		{"updated", bot.SyncNotice{Kind: bot.SyncNoticeUpdated, Revision: "0123456789abcdef", Serving: "0123456789abcdef"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			n := w.bot.Notices(notifyThread, nil)
			n.Sync(tt.ev)
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			w.bot.Wait() // the notice is in the outbox: its sender posts it
			posts := w.door.Posts()
			if tt.want == nil {
				if len(posts) > 0 {
					t.Fatalf("posted %q", w.door.Transcript())
				}
				return
			}
			if len(posts) != 1 || posts[0].Thread != notifyThread {
				t.Fatalf("%d posts, want 1 in %v:\n%s", len(posts), notifyThread, w.door.Transcript())
			}
			m := posts[0].Msg
			got := m.Text + "\n" + m.Pre + "\n" + m.Footer
			for _, s := range tt.want {
				if !strings.Contains(got, s) {
					t.Errorf("notice lacks %q:\n%s", s, got)
				}
			}
		})
	}
}

// TestInterruptedNotice: a run found interrupted at start-up is told to the
// notify thread as well, even when the event comes before the door is
// registered (the start-up order of serve).
func TestInterruptedNotice(t *testing.T) {
	store := &bottest.Store{}
	bus := dayops.NewBus()
	b, err := bot.New(bot.Options{Engine: &bottest.Engine{Store: store}, Store: store,
		Catalogs: &bottest.Catalogs{Cat: bottest.Catalog(t)}, Policy: bottest.Policy(), Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	n := b.Notices(notifyThread, bus)
	r := &dayops.Run{Definition: "deploy-web", Environment: "staging", State: dayops.RunInterrupted, CurrentStep: "Verify",
		Thread: dayops.Thread{Door: "test", Channel: "C1", ID: "17.1"}, Actor: alice}
	store.Add(r) // run 1
	bus.Publish(dayops.RunEvent{Kind: dayops.EventInterrupted, Run: r, Message: "dayops stopped"})
	time.Sleep(100 * time.Millisecond) // the notice waits for its door
	door := &bottest.Door{DoorName: "test"}
	b.Register(door)
	got := waitPosts(t, door, notifyThread)
	want := []string{":warning: run 1 deploy-web staging was interrupted when dayops stopped during step Verify; it was reported in test:C1/17.1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notices (-want +got):\n%s\n%s", diff, door.Transcript())
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}
