package bot_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
	"github.com/dayops/dayops/storage"
)

// outboxOn is a bot store whose outbox is a real database (the rest of the
// store is the fake's): what two replicas share.
type outboxOn struct {
	*bottest.Store
	db *storage.Store
}

func (s outboxOn) EnqueueOutgoing(ctx context.Context, o dayops.Outgoing) (int64, error) {
	return s.db.EnqueueOutgoing(ctx, o)
}

func (s outboxOn) OutgoingChannels(ctx context.Context, door string) ([]string, error) {
	return s.db.OutgoingChannels(ctx, door)
}

func (s outboxOn) ClaimOutgoing(ctx context.Context, door, channel, owner string, now time.Time, lease time.Duration, limit int) ([]dayops.Outgoing, time.Time, error) {
	return s.db.ClaimOutgoing(ctx, door, channel, owner, now, lease, limit)
}

func (s outboxOn) MarkDelivered(ctx context.Context, id int64, at time.Time) error {
	return s.db.MarkDelivered(ctx, id, at)
}

func (s outboxOn) MarkFailed(ctx context.Context, id int64, next time.Time, lastError string) error {
	return s.db.MarkFailed(ctx, id, next, lastError)
}

// delivery is one message a replica's door posted.
type delivery struct {
	replica, channel, text string
}

// postLog records the posts of every replica's door, in the order they land.
type postLog struct {
	mu    sync.Mutex
	posts []delivery
}

func (l *postLog) all() []delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]delivery(nil), l.posts...)
}

// replicaDoor is the "test" door of one replica, posting into a shared log.
type replicaDoor struct {
	replica string
	log     *postLog
}

func (d replicaDoor) Name() string { return "test" }

func (d replicaDoor) Post(ctx context.Context, t dayops.Thread, m bot.Message) (string, error) {
	time.Sleep(200 * time.Microsecond) // a door call takes a moment: the replicas overlap
	d.log.mu.Lock()
	defer d.log.mu.Unlock()
	d.log.posts = append(d.log.posts, delivery{d.replica, t.Channel, m.Text})
	return fmt.Sprintf("m%d", len(d.log.posts)), nil
}

func (d replicaDoor) Update(ctx context.Context, t dayops.Thread, id string, m bot.Message) error {
	return nil
}

// TestTwoReplicasDeliverTheOutboxOnce: two bots (two replicas) on one
// database find the same messages waiting in four channels: each message is
// posted once, and each channel's messages in the order they were written.
// A channel claimed by a replica that then died is delivered by the other
// once the dead one's claim expires.
func TestTwoReplicasDeliverTheOutboxOnce(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "dayops.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const perChannel = 40
	channels := []string{"C1", "C2", "C3", "C4"}
	for i := 0; i < perChannel; i++ {
		for _, ch := range channels {
			if _, err := db.EnqueueOutgoing(ctx, dayops.Outgoing{Thread: dayops.Thread{Door: "test", Channel: ch},
				Message: fmt.Sprintf(`{"Text":"%s-%03d"}`, ch, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A dead replica claimed C4 with a lease that ends in 1.5s.
	if got, _, err := db.ClaimOutgoing(ctx, "test", "C4", "replica-dead", time.Now().Add(-time.Minute+1500*time.Millisecond), time.Minute, 0); err != nil || len(got) != perChannel {
		t.Fatalf("the dead replica's claim: %d messages, %v", len(got), err)
	}
	log := &postLog{}
	fake := &bottest.Store{}
	var bots []*bot.Bot
	for _, name := range []string{"replica-a", "replica-b"} {
		b, err := bot.New(bot.Options{Engine: &bottest.Engine{Store: fake}, Store: outboxOn{fake, db}, Catalogs: &bottest.Catalogs{Cat: bottest.Catalog(t)},
			Policy: bottest.Policy(), Owner: name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		bots = append(bots, b)
	}
	for i, b := range bots {
		b.Register(replicaDoor{fmt.Sprintf("replica-%c", 'a'+i), log})
	}
	waitFor(t, "every message posted", func() bool { return len(log.all()) >= perChannel*len(channels) })
	time.Sleep(100 * time.Millisecond)
	for _, b := range bots {
		b.Wait()
	}

	posts := log.all()
	if len(posts) != perChannel*len(channels) {
		t.Errorf("%d posts, want %d (each message once)", len(posts), perChannel*len(channels))
	}
	seen := map[string]int{}
	next := map[string]int{}
	by := map[string]map[string]bool{}
	for _, p := range posts {
		seen[p.text]++
		if want := fmt.Sprintf("%s-%03d", p.channel, next[p.channel]); p.text != want {
			t.Errorf("%s posted %q in %s, want %q next: out of order", p.replica, p.text, p.channel, want)
		}
		next[p.channel]++
		if by[p.replica] == nil {
			by[p.replica] = map[string]bool{}
		}
		by[p.replica][p.channel] = true
	}
	for text, n := range seen {
		if n != 1 {
			t.Errorf("%q posted %d times", text, n)
		}
	}
	if len(by) != 2 {
		t.Logf("only %v delivered (the other found every channel held)", by)
	}
	pending, err := db.OutgoingChannels(ctx, "test")
	if err != nil || len(pending) != 0 {
		t.Errorf("channels still waiting: %v, %v", pending, err)
	}
}
