package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/alertmanager"
	"github.com/dayops/dayops/internal/testkit/fixtures"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

const amToken = "am-secret-token-42"

// alertDefinitions: restart-api runs by itself on HighErrorRate of service
// api; restart-db runs by itself on DBDown but its one environment needs an
// approval; flush-cache runs by itself on CacheStale with no cooldown and a
// budget of 2 an hour.
var alertDefinitions = map[string]string{
	"ops/restart-api.yaml": `apiVersion: dayops/v1
phase: day2
name: restart-api
params:
  service: {type: string}
steps:
  - name: Restart
    run: echo "restarting $DAYOPS_PARAM_SERVICE"
triggers:
  alert: [{alertname: HighErrorRate, labels: {service: api}, auto: true}]
`,
	"ops/restart-db.yaml": `apiVersion: dayops/v1
phase: day2
name: restart-db
environments:
  production:
    approvals: {count: 1, from: [sre]}
steps:
  - name: Restart
    run: "true"
triggers:
  alert: [{alertname: DBDown, auto: true}]
`,
	"ops/flush-cache.yaml": `apiVersion: dayops/v1
phase: day2
name: flush-cache
steps:
  - name: Flush
    run: "true"
triggers:
  alert: [{alertname: CacheStale, auto: true, cooldown: 0s, budget: 2}]
`,
}

// TestServeAlertmanager drives dayops serve from a real Alertmanager:
// a bad token is refused with 401 and changes nothing; two alerts of one
// group start one run, in a thread of the notify channel; the group firing
// again starts nothing; resolved, it is noted in the thread; a group
// resolved while its run waits for approval cancels that run; an alert
// that keeps firing again with new start times runs up to its budget, then
// asks people.
func TestServeAlertmanager(t *testing.T) {
	alertmanager.Need(t)
	fake := newRecordingSlack(t)
	gs := gitserver.New(t)
	gs.Commit("defs", alertDefinitions)
	roles := slackSRE + "  automation: {members: [\"trigger:alert\"], allow: [\"day2:*\"]}\n"
	file := serveConfig(t, gs.URL(), "30s") + "base_url: https://dayops.example.com\nslack: {mode: http, notify_channel: '#ops'}\nroles:\n" + roles
	d := startServe(t, file, "DAYOPS_SLACK_BOT_TOKEN", "xoxb-test-token", "DAYOPS_SLACK_SIGNING_SECRET", testSigningSecret,
		"DAYOPS_SLACK_API_URL", fake.srv.GetAPIURL(), "DAYOPS_ALERTMANAGER_TOKEN", amToken)
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, d.url+"/readyz"); return code == http.StatusOK })
	ctx := context.Background()
	runs := func(def string) []*dayops.Run {
		rs, err := d.srv.store.Runs(ctx, dayops.RunFilter{Definition: def})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	posted := func(text string) []slackCall {
		var out []slackCall
		for _, c := range fake.Calls() {
			if c.method == "chat.postMessage" && strings.Contains(c.form.Get("text")+c.form.Get("blocks"), text) {
				out = append(out, c)
			}
		}
		return out
	}

	// A bad token: 401 and nothing.
	fixture := fixtures.Read(t, "alertmanager", "firing.json")
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + amToken + "x"} {
		req, _ := http.NewRequest(http.MethodPost, d.url+"/hooks/alertmanager", strings.NewReader(strings.ReplaceAll(string(fixture), "HighValue", "HighErrorRate")))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if code := do(t, req); code != http.StatusUnauthorized {
			t.Fatalf("token %q: %d, want 401", auth, code)
		}
	}

	am := alertmanager.Start(t, alertmanager.Options{WebhookURL: d.url + "/hooks/alertmanager", Token: amToken})
	fire := func(start time.Time, labels ...string) {
		t.Helper()
		if err := am.Fire(ctx, start, labels...); err != nil {
			t.Fatal(err)
		}
	}
	resolve := func(start time.Time, labels ...string) {
		t.Helper()
		if err := am.Resolve(ctx, start, labels...); err != nil {
			t.Fatal(err)
		}
	}

	// Two alerts of one group: one run, with the group's labels as its parameters.
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	fire(start, "alertname=HighErrorRate", "service=api", "instance=web-1")
	fire(start, "alertname=HighErrorRate", "service=api", "instance=web-2")
	eventually(t, 20*time.Second, "a run of restart-api", func() bool { return len(runs("restart-api")) > 0 })
	r := runs("restart-api")[0]
	if r.Trigger != dayops.TriggerAlert || r.Actor.ID != "trigger:alert" || r.Params["service"] != "api" || r.Context[dayops.ContextAlertName] != "HighErrorRate" {
		t.Errorf("run: trigger %s, actor %s, params %v, context %v", r.Trigger, r.Actor.ID, r.Params, r.Context)
	}
	heads := posted("Alert firing: HighErrorRate")
	if len(heads) != 1 || heads[0].form.Get("channel") != "#ops" {
		t.Fatalf("the alert's thread in #ops: %+v", heads)
	}
	// The fake answers the n-th call with ts 1700000000.n.
	var thread string
	for i, c := range fake.Calls() {
		if c.method == "chat.postMessage" && strings.Contains(c.form.Get("text")+c.form.Get("blocks"), "Alert firing: HighErrorRate") {
			thread = fmt.Sprintf("1700000000.%06d", i+1)
		}
	}
	if r.Thread.ID != thread {
		t.Errorf("the run is reported in thread %q, not the alert's %q", r.Thread.ID, thread)
	}

	// Firing again, with a third alert: Alertmanager notifies, nothing new starts.
	fire(start, "alertname=HighErrorRate", "service=api", "instance=web-3")
	eventually(t, 20*time.Second, "the notification of three alerts", func() bool {
		for _, line := range strings.Split(d.logs.String(), "\n") {
			if strings.Contains(line, `"msg":"alertmanager notification","status":"firing"`) && strings.Contains(line, `"alerts":3`) {
				return true
			}
		}
		return false
	})
	time.Sleep(500 * time.Millisecond)
	if n := len(runs("restart-api")); n != 1 || len(posted("Alert firing: HighErrorRate")) != 1 {
		t.Fatalf("the group firing again: %d runs, %d thread heads", n, len(posted("Alert firing: HighErrorRate")))
	}

	// Resolved: noted in the same thread.
	for _, in := range []string{"web-1", "web-2", "web-3"} {
		resolve(start, "alertname=HighErrorRate", "service=api", "instance="+in)
	}
	eventually(t, 20*time.Second, "the resolution in the thread", func() bool {
		rs := posted("Alert resolved: HighErrorRate")
		return len(rs) == 1 && rs[0].form.Get("thread_ts") == thread
	})

	// A group resolved while its run waits for approval: the run is cancelled.
	fire(start, "alertname=DBDown", "service=db")
	eventually(t, 20*time.Second, "restart-db awaiting approval", func() bool {
		rs := runs("restart-db")
		return len(rs) == 1 && rs[0].State == dayops.RunAwaitingApproval
	})
	resolve(start, "alertname=DBDown", "service=db")
	eventually(t, 20*time.Second, "restart-db cancelled", func() bool {
		rs := runs("restart-db")
		return len(rs) == 1 && rs[0].State == dayops.RunCancelled
	})
	got, err := d.srv.store.Run(ctx, runs("restart-db")[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != "the alert DBDown resolved before the run started" || got.Steps[0].State == dayops.StepSucceeded {
		t.Errorf("cancelled run: %q, step %s", got.Reason, got.Steps[0].State)
	}
	eventually(t, 20*time.Second, "the cancellation in the thread", func() bool { return len(posted("had not started and is cancelled")) == 1 })

	// The guard: an alert firing again and again with new start times runs
	// up to the budget (2), then people are asked and nothing runs.
	for i := range 3 {
		s := time.Now().Truncate(time.Second)
		fire(s, "alertname=CacheStale", "service=cdn")
		if i < 2 {
			eventually(t, 20*time.Second, "flush-cache run", func() bool { return len(runs("flush-cache")) == i+1 })
		} else {
			eventually(t, 20*time.Second, "the request to people", func() bool {
				return len(posted("its trigger already ran it 2 times in the last hour, its budget")) == 1
			})
		}
		resolve(s, "alertname=CacheStale", "service=cdn")
		eventually(t, 20*time.Second, "the resolution", func() bool { return len(posted("Alert resolved: CacheStale")) == i+1 })
		time.Sleep(1100 * time.Millisecond) // the next start is a new second
	}
	if n := len(runs("flush-cache")); n != 2 {
		t.Errorf("%d runs of flush-cache past its budget of 2", n)
	}
	if t.Failed() {
		t.Logf("alertmanager log:\n%s", am.Log())
	}
}
