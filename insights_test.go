package dayops

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var insightNow = time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)

// deploy is a run of deploy-SERVICE in env that ended ago before
// insightNow in state st.
func deploy(id int64, service, env string, st RunState, ago time.Duration) *Run {
	end := insightNow.Add(-ago)
	return &Run{ID: id, Definition: "deploy-" + service, Phase: Day1, Service: service, Environment: env, State: st,
		CreatedAt: end.Add(-2 * time.Minute), StartedAt: end.Add(-time.Minute), EndedAt: end}
}

func merged(r *Run, before time.Duration) *Run {
	r.Context = map[string]string{"pr.number": "7", ContextPRMergedAt: r.EndedAt.Add(-before).Format(time.RFC3339)}
	return r
}

func rollbackOf(r *Run, of int64) *Run { r.RollbackOf = of; return r }

// figures is what a test compares of one window.
type figures struct {
	Deploys, Attempts, Failures int
	LeadTimes, Restores         []time.Duration
	Unrestored                  int
}

type groupFigures struct {
	Service, Environment string
	Windows              [3]figures // 7, 30, 90 days
}

func project(in *Insights) []groupFigures {
	var out []groupFigures
	for _, g := range in.Groups {
		gf := groupFigures{Service: g.Service, Environment: g.Environment}
		for i, w := range g.Windows {
			gf.Windows[i] = figures{w.Deploys, w.Attempts, w.Failures, w.LeadTimes, w.Restores, w.Unrestored}
		}
		out = append(out, gf)
	}
	return out
}

func TestComputeInsights(t *testing.T) {
	day, h := 24*time.Hour, time.Hour
	tests := []struct {
		name string
		runs []*Run
		want []groupFigures
	}{
		{"no runs", nil, nil},
		{"deployment frequency by window", []*Run{
			deploy(1, "web", "prod", RunSucceeded, 100*day), // outside every window
			deploy(2, "web", "prod", RunSucceeded, 60*day),
			deploy(3, "web", "prod", RunSucceeded, 20*day),
			deploy(4, "web", "prod", RunSucceeded, 2*day),
			deploy(5, "web", "prod", RunSucceeded, h),
			deploy(6, "web", "prod", RunSucceeded, -h), // ends after now: clock skew, left out
		}, []groupFigures{{"web", "prod", [3]figures{{Deploys: 2, Attempts: 2}, {Deploys: 3, Attempts: 3}, {Deploys: 4, Attempts: 4}}}}},
		{"change failure rate: failed, timed out and rolled back count; denied, cancelled, interrupted and running do not", []*Run{
			deploy(1, "web", "prod", RunSucceeded, 10*h),
			deploy(2, "web", "prod", RunFailed, 9*h),
			deploy(3, "web", "prod", RunSucceeded, 8*h),
			deploy(4, "web", "prod", RunTimedOut, 7*h),
			deploy(5, "web", "prod", RunSucceeded, 6*h),
			rollbackOf(deploy(6, "web", "prod", RunSucceeded, 5*h), 5),
			deploy(7, "web", "prod", RunDenied, 4*h),
			deploy(8, "web", "prod", RunCancelled, 3*h),
			deploy(9, "web", "prod", RunInterrupted, 2*h),
			deploy(10, "web", "prod", RunRunning, 0),
		}, []groupFigures{{"web", "prod", [3]figures{
			{Deploys: 3, Attempts: 5, Failures: 3, Restores: []time.Duration{h, 2 * h}},
			{Deploys: 3, Attempts: 5, Failures: 3, Restores: []time.Duration{h, 2 * h}},
			{Deploys: 3, Attempts: 5, Failures: 3, Restores: []time.Duration{h, 2 * h}},
		}}}},
		{"lead time from the merge, only for merged pull requests", []*Run{
			merged(deploy(1, "api", "prod", RunSucceeded, 40*day), 5*h),
			merged(deploy(2, "api", "prod", RunSucceeded, 3*day), 2*h),
			merged(deploy(3, "api", "prod", RunSucceeded, 2*day), 30*time.Minute),
			deploy(4, "api", "prod", RunSucceeded, day), // from chat: no lead time
			merged(deploy(5, "api", "prod", RunFailed, 20*h), h),
			func() *Run {
				r := deploy(6, "api", "prod", RunSucceeded, 10*h)
				r.Context = map[string]string{ContextPRMergedAt: "yesterday"}
				return r
			}(),
		}, []groupFigures{{"api", "prod", [3]figures{
			{Deploys: 4, Attempts: 5, Failures: 1, LeadTimes: []time.Duration{30 * time.Minute, 2 * h}, Restores: []time.Duration{10 * h}},
			{Deploys: 4, Attempts: 5, Failures: 1, LeadTimes: []time.Duration{30 * time.Minute, 2 * h}, Restores: []time.Duration{10 * h}},
			{Deploys: 5, Attempts: 6, Failures: 1, LeadTimes: []time.Duration{30 * time.Minute, 2 * h, 5 * h}, Restores: []time.Duration{10 * h}},
		}}}},
		{"time to restore: from the first failure to the next success; an open incident is unrestored", []*Run{
			deploy(1, "web", "prod", RunFailed, 20*day),
			deploy(2, "web", "prod", RunFailed, 20*day-h),
			deploy(3, "web", "prod", RunSucceeded, 20*day-3*h),
			deploy(4, "web", "prod", RunSucceeded, 5*day),
			deploy(5, "web", "prod", RunTimedOut, 2*day),
			rollbackOf(deploy(6, "web", "prod", RunFailed, 2*day-h), 5), // a failed rollback restores nothing
		}, []groupFigures{{"web", "prod", [3]figures{
			{Deploys: 1, Attempts: 2, Failures: 1, Unrestored: 1},
			{Deploys: 2, Attempts: 5, Failures: 3, Restores: []time.Duration{3 * h}, Unrestored: 1},
			{Deploys: 2, Attempts: 5, Failures: 3, Restores: []time.Duration{3 * h}, Unrestored: 1},
		}}}},
		{"groups by service and environment; other runs left out", []*Run{
			deploy(1, "web", "staging", RunSucceeded, h),
			deploy(2, "api", "prod", RunSucceeded, h),
			deploy(3, "web", "prod", RunFailed, h),
			func() *Run { r := deploy(4, "db", "prod", RunSucceeded, h); r.Phase = Day2; return r }(),
			func() *Run { r := deploy(5, "", "prod", RunSucceeded, h); return r }(),
		}, []groupFigures{
			{"api", "prod", [3]figures{{Deploys: 1, Attempts: 1}, {Deploys: 1, Attempts: 1}, {Deploys: 1, Attempts: 1}}},
			{"web", "prod", [3]figures{{Attempts: 1, Failures: 1, Unrestored: 1}, {Attempts: 1, Failures: 1, Unrestored: 1}, {Attempts: 1, Failures: 1, Unrestored: 1}}},
			{"web", "staging", [3]figures{{Deploys: 1, Attempts: 1}, {Deploys: 1, Attempts: 1}, {Deploys: 1, Attempts: 1}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ComputeInsights(tt.runs, insightNow)
			if diff := cmp.Diff(tt.want, project(got)); diff != "" {
				t.Errorf("figures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInsightFigures(t *testing.T) {
	runs := []*Run{
		merged(deploy(1, "web", "prod", RunSucceeded, 3*24*time.Hour), time.Hour),
		merged(deploy(2, "web", "prod", RunSucceeded, 2*24*time.Hour), 3*time.Hour),
		deploy(3, "web", "prod", RunFailed, 24*time.Hour),
		deploy(4, "web", "prod", RunSucceeded, 23*time.Hour),
	}
	g := ComputeInsights(runs, insightNow).Groups[0]
	week := g.Windows[0]
	if got := week.PerDay(); got != 3.0/7 {
		t.Errorf("PerDay = %v, want 3/7", got)
	}
	if rate, ok := week.FailureRate(); !ok || rate != 0.25 {
		t.Errorf("FailureRate = %v, %v; want 0.25", rate, ok)
	}
	if lt, ok := week.LeadTime(); !ok || lt != 2*time.Hour {
		t.Errorf("LeadTime = %v, %v; want the median 2h", lt, ok)
	}
	if ttr, ok := week.TimeToRestore(); !ok || ttr != time.Hour {
		t.Errorf("TimeToRestore = %v, %v; want 1h", ttr, ok)
	}
	if _, ok := (DORA{}).FailureRate(); ok {
		t.Error("FailureRate of no deploy is ok")
	}
	if len(g.Weeks) != 13 {
		t.Fatalf("%d weeks, want 13", len(g.Weeks))
	}
	last := g.Weeks[12]
	if !last.To.Equal(insightNow) || last.Deploys != 3 || last.Failures != 1 {
		t.Errorf("last week = %+v, want to now with 3 deploys and 1 failure", last)
	}
	for _, w := range g.Weeks[:12] {
		if w.Attempts != 0 {
			t.Errorf("week to %s has %d deploys, want none", w.To, w.Attempts)
		}
	}
}

// pagedRuns is a RunLister over runs sorted newest first.
type pagedRuns []*Run

func (p pagedRuns) Runs(_ context.Context, f RunFilter) ([]*Run, error) {
	var out []*Run
	for _, r := range p {
		if (f.BeforeID == 0 || r.ID < f.BeforeID) && (f.Service == "" || r.Service == f.Service) && len(out) < f.Limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func TestDeployRuns(t *testing.T) {
	var runs pagedRuns
	for id := int64(1200); id > 0; id-- {
		r := deploy(id, "web", "prod", RunSucceeded, time.Duration(1200-id)*time.Hour)
		if id%3 == 0 {
			r.Phase = Day2
		}
		runs = append(runs, r)
	}
	since := insightNow.Add(-1000 * time.Hour)
	got, truncated, err := DeployRuns(context.Background(), runs, "web", since)
	if err != nil || truncated {
		t.Fatalf("DeployRuns: %v, truncated %v", err, truncated)
	}
	// Runs 201..1200 were created since; a third of them are Day-2.
	want := 0
	for id := 201; id <= 1200; id++ {
		if id%3 != 0 {
			want++
		}
	}
	if len(got) != want || got[0].ID != 1199 || got[len(got)-1].ID != 202 {
		t.Errorf("DeployRuns = %d runs (%d … %d), want %d (1199 … 202)", len(got), got[0].ID, got[len(got)-1].ID, want)
	}
}

func TestInsightTexts(t *testing.T) {
	h := time.Hour
	tests := []struct {
		d                                  DORA
		frequency, lead, failures, restore string
	}{
		{DORA{From: insightNow.Add(-7 * 24 * h), To: insightNow}, "none", "no merged pull request", "no deploy", "no failure"},
		{DORA{From: insightNow.Add(-7 * 24 * h), To: insightNow, Deploys: 16, Attempts: 20, Failures: 4,
			LeadTimes: []time.Duration{h, 2*h + 10*time.Minute, 3 * h}, Restores: []time.Duration{40 * time.Second}, Unrestored: 1},
			"2.3 a day (16)", "2h 10m (median of 3)", "20% (4 of 20)", "40s (median of 1), 1 not restored"},
		{DORA{From: insightNow.Add(-30 * 24 * h), To: insightNow, Deploys: 7, Attempts: 7,
			LeadTimes: []time.Duration{50 * h, 100 * h}, Unrestored: 2},
			"1.6 a week (7)", "3.1 days (median of 2)", "0% (0 of 7)", "2 not restored"},
	}
	for _, tt := range tests {
		got := []string{tt.d.FrequencyText(), tt.d.LeadTimeText(), tt.d.FailureRateText(), tt.d.RestoreText()}
		if diff := cmp.Diff([]string{tt.frequency, tt.lead, tt.failures, tt.restore}, got); diff != "" {
			t.Errorf("texts of %+v (-want +got):\n%s", tt.d, diff)
		}
	}
}
