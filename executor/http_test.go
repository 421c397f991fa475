package executor_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dayops/dayops"
)

func TestHTTPStep(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz/v7":
			// Healthy from the third request on.
			if hits.Add(1) < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, `{"status":"ok","version":"v7"}`)
		case "/post":
			if r.Method != http.MethodPost {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		case "/escape":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		default:
			fmt.Fprint(w, "something else")
		}
	}))
	defer srv.Close()

	tests := []struct {
		name, check string
		state       dayops.RunState
		reason      string
	}{
		{"attempts until healthy", `{url: '` + srv.URL + `/healthz/${{ steps.ver.outputs.v }}', body_contains: '"status":"ok"', attempts: 5, interval: 20ms}`,
			dayops.RunSucceeded, ""},
		{"method and status", `{url: '` + srv.URL + `/post', method: POST, status: 202}`, dayops.RunSucceeded, ""},
		{"body missing", `{url: '` + srv.URL + `/other', body_contains: ok, attempts: 2, interval: 10ms}`,
			dayops.RunFailed, `step Check failed: GET ` + srv.URL + `/other → 200 OK, but the body does not contain "ok" after 2 attempts`},
		{"redirect to file", `{url: '` + srv.URL + `/escape'}`, dayops.RunFailed, "redirect to file: only http and https are followed"},
		{"not http", `{url: '${{ steps.ver.outputs.u }}'}`, dayops.RunFailed, `step Check: "file:///etc/passwd" is not an http or https URL`},
		{"nothing listening", `{url: 'http://127.0.0.1:1/', attempts: 1, timeout: 1s}`, dayops.RunFailed, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string]string{"h.yaml": def("check", `
steps:
  - id: ver
    run: printf 'v=v7\nu=file:///etc/passwd\n' >> "$DAYOPS_OUTPUT"
  - name: Check
    http: `+tt.check+`
`)}, nil)
			r := h.start(dayops.RunRequest{Definition: "check"})
			got := h.done(r.ID)
			if got.State != tt.state || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("state %s reason %q, want %s with %q; logs:\n%s", got.State, got.Reason, tt.state, tt.reason, h.logs(r.ID))
			}
		})
	}
	if hits.Load() != 3 {
		t.Errorf("%d requests to the health check, want 3", hits.Load())
	}
}
