package web_test

import (
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// deploys records finished deploys of web in production ending at the
// given ages, the first from a pull request merged an hour before its end.
func (w *world) deploys(states []dayops.RunState, ages []time.Duration) {
	w.t.Helper()
	for i, st := range states {
		end := w.clock.Now().Add(-ages[i])
		w.run(st, func(r *dayops.Run) {
			r.CreatedAt, r.StartedAt, r.EndedAt = end.Add(-2*time.Minute), end.Add(-time.Minute), end
			if i == 0 {
				r.Trigger, r.Context = dayops.TriggerPullRequest, map[string]string{"pr.number": "7", dayops.ContextPRMergedAt: end.Add(-time.Hour).Format(time.RFC3339)}
			}
		})
	}
}

// TestInsightsPage: /insights needs a login (a run's signed link does not
// open it) and shows each figure over 7, 30 and 90 days with how it is
// computed, and a server-drawn SVG chart of each, with no script.
func TestInsightsPage(t *testing.T) {
	w := newWorld(t)
	h := time.Hour
	w.deploys([]dayops.RunState{dayops.RunSucceeded, dayops.RunFailed, dayops.RunSucceeded, dayops.RunSucceeded, dayops.RunRunning},
		[]time.Duration{50 * h, 20 * h, 18 * h, 40 * 24 * h, 0})
	link := w.link(1)

	if rec := w.get("/insights", "", nil); rec.Code != 303 || !strings.HasPrefix(rec.Header().Get("Location"), "/login?") {
		t.Errorf("/insights without a login = %d (Location %q), want 303 to the login", rec.Code, rec.Header().Get("Location"))
	}
	_, query, _ := strings.Cut(link, "?")
	if rec := w.get("/insights?"+query, "", nil); rec.Code == 200 {
		t.Errorf("/insights opened with a run's signed link: %d", rec.Code)
	}

	cookie := w.login()
	rec := w.get("/insights", "", cookie)
	body := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("/insights = %d:\n%s", rec.Code, body)
	}
	text := html.UnescapeString(body)
	for _, want := range []string{
		"web · production", "<th>last 7 days</th><th>last 30 days</th><th>last 90 days</th>",
		"<th>Deployment frequency</th><td>2.0 a week (2)</td><td>0.5 a week (2)</td><td>0.2 a week (3)</td>",
		"<th>Lead time for changes</th><td>1h (median of 1)</td>",
		"<th>Change failure rate</th><td>33% (1 of 3)</td><td>33% (1 of 3)</td><td>25% (1 of 4)</td>",
		"<th>Time to restore</th><td>2h (median of 1)</td>",
		dayops.HowDeploymentFrequency, dayops.HowLeadTime, dayops.HowChangeFailureRate, dayops.HowTimeToRestore,
		"<figcaption>Deploys per week</figcaption>", "<figcaption>Lead time for changes (median, hours)</figcaption>",
		"<figcaption>Change failure rate (%)</figcaption>", "<figcaption>Time to restore (median, hours)</figcaption>",
		"week to ", ": 2 deploys</title>",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/insights lacks %q", want)
		}
	}
	if n := strings.Count(body, "<svg "); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
	if n := len(regexp.MustCompile(`<rect class="(bar|missing)"`).FindAllString(body, -1)); n != 4*13 {
		t.Errorf("%d bars, want 13 weeks in each of 4 charts", n)
	}
	if strings.Contains(body, "<script") || strings.Contains(body, " style=") {
		t.Error("/insights carries script or inline style: the CSP refuses them")
	}

	rec = w.get("/insights?service=api", "", cookie)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "No deploy of api ran to an outcome in the last 90 days") {
		t.Errorf("/insights?service=api = %d:\n%s", rec.Code, rec.Body.String())
	}
}
