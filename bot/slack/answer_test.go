package slack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// gatedDeliveries holds every FirstDelivery until open is closed: a
// database slow to write.
type gatedDeliveries struct {
	inner Deliveries
	open  chan struct{}
}

func (g gatedDeliveries) FirstDelivery(ctx context.Context, source, id string) (bool, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return g.inner.FirstDelivery(ctx, source, id)
}

// TestAnswerComesBeforeDeduplication: a slash command is answered while its
// de-duplication write has not been made (the database is slow), and a
// retry of it answered the same way still starts nothing twice: the
// de-duplication happens before any work, not before the answer.
func TestAnswerComesBeforeDeduplication(t *testing.T) {
	w := newWorld(t)
	open := make(chan struct{})
	w.door.deliveries = gatedDeliveries{inner: w.db, open: open}
	opened := false
	t.Cleanup(func() { // before the world stops, should the test fail with the gate shut
		if !opened {
			close(open)
		}
	})
	mux := http.NewServeMux()
	w.door.Routes(mux)
	body := commandForm(t, sreUser, "deploy web staging v1.2.0")
	for i := range 2 { // the command, and Slack's retry of it
		rec := httptest.NewRecorder()
		answered := make(chan struct{})
		go func() {
			defer close(answered)
			mux.ServeHTTP(rec, signed(PathCommands, body, time.Now()))
		}()
		select {
		case <-answered:
		case <-time.After(2 * time.Second):
			t.Fatalf("request %d not answered within 2 s while the de-duplication write waits: the answer waits for it", i)
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d answered %d; want 200", i, rec.Code)
		}
	}
	if n := len(w.engine.Requests()); n != 0 {
		t.Fatalf("%d runs started before the de-duplication was written", n)
	}
	if n := len(w.slack.Calls()); n != 0 {
		t.Fatalf("%d Slack calls made before the de-duplication was written: %s", n, methods(w.slack.Calls()))
	}
	close(open)
	opened = true
	w.settle()
	if n := len(w.engine.Requests()); n != 1 {
		t.Errorf("%d runs started; want 1", n)
	}
}
