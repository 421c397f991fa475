package github

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/fixtures"
	"github.com/dayops/dayops/storage"
)

// TestTwoReplicasProcessEachDeliveryOnce: two intakes (two replicas) on one
// database, each given every delivery (GitHub redelivers, the load balancer
// spreads): each delivery is processed once, by one of them — one "eyes"
// reaction per comment, one command each.
func TestTwoReplicasProcessEachDeliveryOnce(t *testing.T) {
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "dayops.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, b := newIntake(t), newIntake(t)
	for i, w := range []*intakeWorld{a, b} {
		w.in.Close()
		in, err := NewIntake(IntakeOptions{Secret: testSecret, Inbox: db, Pipeline: a.pipe, GitHub: a.reader,
			Repos: w.in.opts.Repos, Teams: w.in.opts.Teams, BotLogin: w.in.opts.BotLogin, Owner: fmt.Sprintf("replica-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		w.in = in
		t.Cleanup(in.Close)
	}
	const n = 60
	bodies := make([][]byte, n)
	for i := range bodies {
		m := fixtures.JSON(t, "github", "issue_comment_created_on_pr.json")
		fixtures.Set(m, "comment.body", fmt.Sprintf("/ops deploy staging # %d", i))
		fixtures.Set(m, "comment.id", 1000+i)
		bodies[i] = fixtures.Encode(t, m)
	}
	// Every delivery reaches both replicas before either works.
	for i, body := range bodies {
		for _, w := range []*intakeWorld{a, b} {
			if rec := w.deliver(t, "issue_comment", fmt.Sprintf("delivery-%d", i), body); rec.Code >= 300 {
				t.Fatalf("delivery %d: %d %s", i, rec.Code, rec.Body)
			}
		}
	}
	a.in.Start()
	b.in.Start()
	waitFor(t, "every delivery processed", func() bool {
		due, err := db.DueInbound(context.Background(), Source, time.Now().Add(time.Hour), 1)
		return err == nil && len(due) == 0 && len(a.pipe.submissions()) >= n
	})
	time.Sleep(50 * time.Millisecond)
	reactions := map[string]int{}
	a.reader.mu.Lock()
	for _, r := range a.reader.reactions {
		reactions[r]++
	}
	a.reader.mu.Unlock()
	if len(reactions) != n {
		t.Errorf("%d comments reacted to, want %d", len(reactions), n)
	}
	for r, k := range reactions {
		if k != 1 {
			t.Errorf("%s: %d times (the delivery was processed by both replicas)", r, k)
		}
	}
	if got := len(a.pipe.submissions()); got != n {
		t.Errorf("%d commands submitted, want %d", got, n)
	}
}

// inboxClaim is who holds a delivery, until when.
type inboxClaim struct {
	owner string
	until time.Time
}

// ClaimInbound claims as storage does: due deliveries no other owner holds.
func (m *memInbox) ClaimInbound(ctx context.Context, source, owner string, now time.Time, lease time.Duration, limit int) ([]dayops.Inbound, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.claims == nil {
		m.claims = map[int64]inboxClaim{}
	}
	var out []dayops.Inbound
	for _, r := range m.rows {
		c, held := m.claims[r.ID]
		if held && c.owner != owner && c.until.After(now) {
			continue
		}
		if r.Source == source && r.DoneAt.IsZero() && !r.NextAt.After(now) && len(out) < limit {
			m.claims[r.ID] = inboxClaim{owner, now.Add(lease)}
			out = append(out, r)
		}
	}
	return out, nil
}
