package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/alertmanager"
)

const benchAlertToken = "bench-alertmanager-token"

// nullDoor takes the messages of the alert threads and drops them.
type nullDoor struct {
	mu  sync.Mutex
	seq int
}

func (d *nullDoor) Name() string { return "bench" }
func (d *nullDoor) Post(context.Context, dayops.Thread, bot.Message) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	return strconv.Itoa(d.seq), nil
}
func (d *nullDoor) Update(context.Context, dayops.Thread, string, bot.Message) error { return nil }

// alertBody is a firing notification of group i, as Alertmanager sends it.
func alertBody(i int, start time.Time) string {
	return fmt.Sprintf(`{"version":"4","receiver":"dayops","status":"firing","groupKey":"{}:{instance=\"web-%d\"}",
"groupLabels":{"instance":"web-%d"},"commonLabels":{"alertname":"Down","instance":"web-%d"},"commonAnnotations":{},
"externalURL":"http://am","alerts":[{"status":"firing","labels":{"alertname":"Down","instance":"web-%d"},"annotations":{},
"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"fp-%d"}]}`, i, i, i, i, start.Format(time.RFC3339Nano), i)
}

// bareAlertHandler reads the body and checks the bearer token as the
// intake does, and answers: the floor of any alert intake.
func bareAlertHandler() http.HandlerFunc {
	want := sha256.Sum256([]byte(benchAlertToken))
	return func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")))
		io.Copy(io.Discard, r.Body)
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// postAlert posts body with the token and returns when it is answered 200.
func postAlert(ctx context.Context, client *http.Client, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchAlertToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answer %d", resp.StatusCode)
	}
	return nil
}

// alertFigures: from an alert notification sent to POST
// /hooks/alertmanager to the first step of its runbook started, for one
// group at a time (real executor and SQLite), beside a bare token check.
func alertFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	files := map[string]string{"restart.yaml": definition("restart",
		"params:\n  instance: {type: string}\nsteps:\n  - name: Restart\n    run: \"true\"\n"+
			"triggers:\n  alert: [{alertname: Down, auto: true, cooldown: 0s, budget: 100}]\n")}
	h, err := newHarness(ctx, dir, files)
	if err != nil {
		return nil, err
	}
	defer h.close()
	policy := dayops.Policy{Roles: []dayops.Role{{Name: "automation", Members: []string{"trigger:alert"}, Allow: []string{"day2:*"}}}}
	b, err := bot.New(bot.Options{Engine: h.exec, Store: h.store, Catalogs: botCatalogs{h.cat}, Policy: policy, Events: h.exec.Events(),
		Automation: h.store, NotifyThread: dayops.Thread{Door: "bench", Channel: "ops"}})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	b.Register(&nullDoor{})
	intake, err := alertmanager.New(alertmanager.Options{Token: benchAlertToken, Pipeline: b})
	if err != nil {
		return nil, err
	}
	door := httptest.NewServer(intake)
	defer door.Close()
	bare := httptest.NewServer(bareAlertHandler())
	defer bare.Close()
	client := &http.Client{Timeout: 30 * time.Second}

	groups := cfg.AlertGroups
	var lat, base []float64
	for i := range groups {
		body := alertBody(i, time.Now().Add(-time.Minute))
		if ns, err := timed(func() error { return postAlert(ctx, client, bare.URL, body) }); err != nil {
			return nil, fmt.Errorf("bare token check: %w", err)
		} else {
			base = append(base, ns)
		}
		sent := time.Now()
		if err := postAlert(ctx, client, door.URL+alertmanager.Path, body); err != nil {
			return nil, fmt.Errorf("alert %d: %w", i, err)
		}
		started, err := firstStepStarted(ctx, h, int64(i+1))
		if err != nil {
			return nil, err
		}
		lat = append(lat, float64(started.Sub(sent).Nanoseconds()))
	}
	if err := h.exec.Wait(ctx); err != nil {
		return nil, err
	}
	p50, base50 := median(lat), median(base)
	r := Row{ID: "alert-first-step-p50", Figure: fmt.Sprintf("alert received → first step started, p50 of %d groups", groups),
		Kind: kindTime, Value: p50, Baseline: "bare token-check handler", Base: base50, Target: "< 100 ms",
		Note: "each group is a new Alertmanager group whose auto runbook runs at once: the notification over HTTP, the bearer token, " +
			"the group and guard rows, authorisation, the run recorded and its step process started (its StartedAt)"}
	r.check(p50 < float64(100*time.Millisecond))
	return []Row{r}, nil
}

// firstStepStarted waits until run id's first step has started and
// returns when it did.
func firstStepStarted(ctx context.Context, h *harness, id int64) (time.Time, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := h.store.Run(ctx, id)
		if err == nil && len(r.Steps) > 0 && !r.Steps[0].StartedAt.IsZero() {
			return r.Steps[0].StartedAt, nil
		}
		if err != nil && dayops.KindOf(err) != dayops.KindNotFound {
			return time.Time{}, err
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("run %d: no step started within a minute", id)
		}
		time.Sleep(time.Millisecond)
	}
}
