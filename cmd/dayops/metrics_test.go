package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops/internal/testkit/gitserver"
)

// TestServeMetrics: dayops serve answers GET /metrics with the bearer
// token, counts the run it ran and the time it took to answer requests.
func TestServeMetrics(t *testing.T) {
	gs := gitserver.New(t)
	gs.Commit("defs", serveDefinitions(t.TempDir()))
	d := startServe(t, serveConfig(t, gs.URL(), "1m"), "DAYOPS_METRICS_TOKEN", "metrics-token-0123456789")
	eventually(t, 30*time.Second, "ready", func() bool { code, _ := get(t, d.url+"/readyz"); return code == http.StatusOK })
	id := startRun(t, d, "nap")
	eventually(t, 30*time.Second, "the run ends", func() bool {
		r, err := d.srv.store.Run(context.Background(), id)
		return err == nil && r.State.Final()
	})
	if code, _ := get(t, d.url+"/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token = %d, want 401", code)
	}
	var body string
	eventually(t, 10*time.Second, "the step's duration in /metrics", func() bool {
		req, _ := http.NewRequest("GET", d.url+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer metrics-token-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200 && strings.Contains(body, `dayops_step_duration_seconds_count{definition="nap",state="succeeded"} 1`)
	})
	for _, want := range []string{
		`dayops_runs{definition="nap",state="succeeded"} 1`,
		`dayops_http_request_duration_seconds_count{code="200",route="GET /readyz"}`,
		`dayops_http_request_duration_seconds_count{code="401",route="GET /metrics"}`,
	} {
		if want == `dayops_http_request_duration_seconds_count{code="401",route="GET /metrics"}` {
			if strings.Contains(body, want) {
				t.Errorf("/metrics measures its own scrapes: %q", want)
			}
			continue
		}
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`dayops_sync_last_outcome\{outcome="(updated|unchanged)"\} 1`).MatchString(body) {
		t.Error("/metrics does not say the last sync updated or found the ops repo unchanged")
	}
	t.Logf("/metrics of a server that ran one run: %d bytes", len(body))
}
