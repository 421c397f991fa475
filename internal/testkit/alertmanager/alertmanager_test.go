package alertmanager

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestAlertmanager: a fired alert reaches the webhook with the bearer
// token, and resolving it sends the group resolved.
func TestAlertmanager(t *testing.T) {
	type note struct {
		Status string `json:"status"`
		Alerts []struct {
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	var mu sync.Mutex
	var got []note
	var auth []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n note
		json.NewDecoder(r.Body).Decode(&n)
		mu.Lock()
		got, auth = append(got, n), append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer hook.Close()
	am := Start(t, Options{WebhookURL: hook.URL, Token: "tok-1"})
	ctx := context.Background()
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	if err := am.Fire(ctx, start, "alertname=Down", "service=api"); err != nil {
		t.Fatal(err)
	}
	wait := func(status string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			for i, n := range got {
				if n.Status == status {
					if auth[i] != "Bearer tok-1" || len(n.Alerts) != 1 || n.Alerts[0].Labels["service"] != "api" {
						t.Fatalf("notification %+v with %q", n, auth[i])
					}
					mu.Unlock()
					return
				}
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no %s notification within 20s:\n%s", status, am.Log())
	}
	wait("firing")
	if err := am.Resolve(ctx, start, "alertname=Down", "service=api"); err != nil {
		t.Fatal(err)
	}
	wait("resolved")
}
