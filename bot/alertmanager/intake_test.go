package alertmanager

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/internal/testkit/fixtures"
)

const token = "am-token-0123456789"

// recorder is a Pipeline that keeps what it is handed and answers err.
type recorder struct {
	mu  sync.Mutex
	got []bot.AlertNotice
	err error
}

func (r *recorder) Alert(ctx context.Context, n bot.AlertNotice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
	return r.err
}

func fixture(t testing.TB, name string) string {
	t.Helper()
	return string(fixtures.Read(t, "alertmanager", name))
}

func TestIntake(t *testing.T) {
	firing := fixture(t, "firing.json")
	for _, tc := range []struct {
		name       string
		auth       string
		body       string
		answer     error
		wantStatus int
		wantText   string
		handed     bool
	}{
		{"the published firing payload", "Bearer " + token, firing, nil, 200, "", true},
		{"the published resolved payload", "Bearer " + token, fixture(t, "resolved.json"), nil, 200, "", true},
		{"no token", "", firing, nil, 401, "bearer token", false},
		{"a wrong token", "Bearer am-token-0123456780", firing, nil, 401, "bearer token", false},
		{"a prefix of the token", "Bearer am-token", firing, nil, 401, "bearer token", false},
		{"another scheme", "Basic " + token, firing, nil, 401, "bearer token", false},
		{"not JSON", "Bearer " + token, "{", nil, 400, "not an Alertmanager webhook payload", false},
		{"version 3", "Bearer " + token, strings.Replace(firing, `"version": "4"`, `"version": "3"`, 1), nil, 400, `payload version "3"`, false},
		{"no group key", "Bearer " + token, strings.Replace(firing, `"groupKey": "{}:{}"`, `"groupKey": ""`, 1), nil, 400, "no groupKey", false},
		{"no fingerprint", "Bearer " + token, strings.Replace(firing, `"fingerprint": "948c667b1fc76492"`, `"fingerprint": ""`, 1), nil, 400, "alert 0 has no fingerprint", false},
		{"another status", "Bearer " + token, strings.Replace(firing, `"status": "firing",`+"\n  \"alerts\"", `"status": "pending",`+"\n  \"alerts\"", 1), nil, 400, `status "pending"`, false},
		{"the database is down", "Bearer " + token, firing, dayops.Errorf(dayops.KindUnavailable, "database is locked"), 503, "will send it again", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{err: tc.answer}
			in, err := New(Options{Token: token, Pipeline: rec})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(tc.body))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			in.ServeHTTP(w, req)
			if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantText) {
				t.Errorf("answer %d %q, want %d containing %q", w.Code, w.Body.String(), tc.wantStatus, tc.wantText)
			}
			if handed := len(rec.got) > 0; handed != tc.handed {
				t.Errorf("handed to the bot: %v, want %v", handed, tc.handed)
			}
		})
	}
}

// TestIntakeWithoutToken: a server without DAYOPS_ALERTMANAGER_TOKEN
// refuses every request, also one with an empty bearer token.
func TestIntakeWithoutToken(t *testing.T) {
	rec := &recorder{}
	in, err := New(Options{Pipeline: rec})
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		req := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(fixture(t, "firing.json")))
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		in.ServeHTTP(w, req)
		if w.Code != 401 {
			t.Errorf("%q: %d", auth, w.Code)
		}
	}
	if len(rec.got) > 0 {
		t.Errorf("handed %d notifications to the bot", len(rec.got))
	}
}

func TestDecodeFixture(t *testing.T) {
	n, err := Decode([]byte(fixture(t, "firing.json")))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"alertname": "HighValue", "instance": "api:8000", "job": "api", "severity": "high"}
	want := bot.AlertNotice{Receiver: "webhook_receiver", Status: "firing", GroupKey: "{}:{}", GroupLabels: map[string]string{},
		CommonLabels: labels, CommonAnnotations: map[string]string{"summary": "poc_metric above 0.5"}, ExternalURL: "http://601cad658ee0:9093",
		Alerts: []bot.Alert{{Status: "firing", Labels: labels, Annotations: map[string]string{"summary": "poc_metric above 0.5"},
			StartsAt:     time.Date(2022, 10, 4, 13, 32, 56, 14000000, time.UTC),
			GeneratorURL: "http://9ef78e326c1f:9090/graph?g0.expr=poc_metric+%3E+0.5&g0.tab=1", Fingerprint: "948c667b1fc76492"}}}
	if diff := cmp.Diff(want, n, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("notice (-want +got):\n%s", diff)
	}
}

// FuzzDecode: any body decodes to a notice or a KindInvalid error, never a panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(fixture(f, "firing.json")))
	f.Add([]byte(fixture(f, "resolved.json")))
	f.Add([]byte(`{"version":"4","status":"firing","groupKey":"k","alerts":[{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := Decode(body)
		if err != nil {
			if dayops.KindOf(err) != dayops.KindInvalid {
				t.Fatalf("error of kind %s: %v", dayops.KindOf(err), err)
			}
			return
		}
		if n.GroupKey == "" || len(n.Alerts) == 0 {
			t.Fatalf("accepted a notice without group key or alerts: %+v", n)
		}
	})
}
