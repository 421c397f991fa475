package dayops

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// ContextPRMergedAt is the RFC 3339 time a pull request was merged, in the
// context of a run its merge started: lead time for changes is measured
// from it.
const ContextPRMergedAt = "pr.merged_at"

// InsightWindows are the periods the DORA figures are given for.
var InsightWindows = []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour}

// insightWeek is the width of one bar of the weekly series.
const insightWeek = 7 * 24 * time.Hour

// InsightSpan is how far back the runs for the insights are read: the
// longest window, rounded up to whole weeks for the weekly series.
const InsightSpan = 13 * insightWeek

// The sentences that say how each figure is computed; the page and the chat
// answer show the same ones.
const (
	HowDeploymentFrequency = "Successful deploys (runs of a Day-1 definition with a service that ended succeeded; rollbacks not counted) divided by the days of the period."
	HowLeadTime            = "Median time from a pull request's merge to the end of the successful deploy it started; only deploys started by a merged pull request count."
	HowChangeFailureRate   = "Deploys that failed, timed out or were later rolled back, divided by all deploys that ran to an outcome (denied, cancelled and interrupted runs not counted)."
	HowTimeToRestore       = "Median time from the first failed deploy of a service and environment to the next successful deploy or rollback there; a failure not yet followed by one is counted as not restored."
)

// DORA are the four figures of one service and environment over one period.
type DORA struct {
	From, To   time.Time
	Deploys    int             // successful deploys
	Attempts   int             // deploys that ran to an outcome
	Failures   int             // of Attempts: failed, timed out or rolled back later
	LeadTimes  []time.Duration // merge → success, one per deploy from a merged pull request, sorted
	Restores   []time.Duration // first failure → next success, one per restored incident, sorted
	Unrestored int             // incidents begun in the period and not restored by now
}

// Days is the length of the period in days.
func (d DORA) Days() float64 { return d.To.Sub(d.From).Hours() / 24 }

// PerDay is the deployment frequency: successful deploys a day.
func (d DORA) PerDay() float64 {
	if d.Days() <= 0 {
		return 0
	}
	return float64(d.Deploys) / d.Days()
}

// FailureRate is the change failure rate in [0, 1]; ok is false when no
// deploy ran to an outcome.
func (d DORA) FailureRate() (rate float64, ok bool) {
	if d.Attempts == 0 {
		return 0, false
	}
	return float64(d.Failures) / float64(d.Attempts), true
}

// LeadTime is the median lead time for changes; ok is false without any.
func (d DORA) LeadTime() (time.Duration, bool) { return median(d.LeadTimes) }

// TimeToRestore is the median time to restore; ok is false without any.
func (d DORA) TimeToRestore() (time.Duration, bool) { return median(d.Restores) }

func median(ds []time.Duration) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2], true
	}
	return (ds[n/2-1] + ds[n/2]) / 2, true
}

// InsightGroup is the DORA figures of one service in one environment.
type InsightGroup struct {
	Service, Environment string
	Windows              []DORA // one per InsightWindows entry, in order
	Weeks                []DORA // the last weeks of the longest window, oldest first
}

// Insights are the DORA figures of every service and environment that
// deployed in the longest of InsightWindows before Now.
type Insights struct {
	Now    time.Time
	Groups []InsightGroup // by service, then environment
}

// IsDeploy reports whether r is a deploy for the DORA figures: a run of a
// Day-1 definition that names a service. A rollback run (RollbackOf) is
// one too, but it is counted as a restore, not as a change.
func IsDeploy(r *Run) bool { return r.Phase == Day1 && r.Service != "" }

// runEnd is when a run ended, or its best stand-in for a run recorded
// without an end.
func runEnd(r *Run) time.Time {
	switch {
	case !r.EndedAt.IsZero():
		return r.EndedAt
	case !r.StartedAt.IsZero():
		return r.StartedAt
	}
	return r.CreatedAt
}

// ranToOutcome reports whether a run's state is an outcome of its change.
func ranToOutcome(s RunState) bool {
	return s == RunSucceeded || s == RunFailed || s == RunTimedOut
}

// deployEvent is one finished deploy in the order of its end.
type deployEvent struct {
	run        *Run
	at         time.Time
	failed     bool // failed, timed out, or rolled back later
	rollback   bool // a rollback run
	leadTime   time.Duration
	hasLead    bool
	restoredIn time.Duration // for the first failure of an incident
	restored   bool
	opens      bool // it begins an incident
}

// ComputeInsights computes the DORA figures from runs at now. Runs that are
// not deploys, or that have not ended, are left out. It is pure: the
// figures depend only on its arguments.
func ComputeInsights(runs []*Run, now time.Time) *Insights {
	rolledBack := map[int64]bool{}
	for _, r := range runs {
		if r.RollbackOf != 0 && r.State == RunSucceeded {
			rolledBack[r.RollbackOf] = true
		}
	}
	type key struct{ service, env string }
	groups := map[key][]*deployEvent{}
	for _, r := range runs {
		if !IsDeploy(r) || !ranToOutcome(r.State) {
			continue
		}
		ev := &deployEvent{run: r, at: runEnd(r), rollback: r.RollbackOf != 0}
		if ev.at.After(now) {
			continue
		}
		ev.failed = r.State != RunSucceeded || rolledBack[r.ID]
		if !ev.rollback && r.State == RunSucceeded {
			if merged, err := time.Parse(time.RFC3339, r.Context[ContextPRMergedAt]); err == nil && !merged.After(ev.at) {
				ev.leadTime, ev.hasLead = ev.at.Sub(merged), true
			}
		}
		k := key{r.Service, r.Environment}
		groups[k] = append(groups[k], ev)
	}
	out := &Insights{Now: now}
	for _, k := range slices.SortedFunc(maps.Keys(groups), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.env, b.env))
	}) {
		evs := groups[k]
		slices.SortStableFunc(evs, func(a, b *deployEvent) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.run.ID, b.run.ID)) })
		markIncidents(evs)
		g := InsightGroup{Service: k.service, Environment: k.env}
		for _, w := range InsightWindows {
			g.Windows = append(g.Windows, dora(evs, now.Add(-w), now))
		}
		for i := int(InsightSpan / insightWeek); i > 0; i-- {
			to := now.Add(-time.Duration(i-1) * insightWeek)
			g.Weeks = append(g.Weeks, dora(evs, to.Add(-insightWeek), to))
		}
		if g.Windows[len(g.Windows)-1].Attempts+g.Windows[len(g.Windows)-1].Unrestored == 0 {
			continue // nothing in the longest window
		}
		out.Groups = append(out.Groups, g)
	}
	return out
}

// markIncidents finds, in one group's events in order, the failures that
// begin an incident (the first failure after a success, or the first
// failure of all) and when the next success restored it.
func markIncidents(evs []*deployEvent) {
	var open *deployEvent
	for _, ev := range evs {
		switch {
		case ev.failed && !ev.rollback && open == nil:
			open, ev.opens = ev, true
		case ev.run.State == RunSucceeded && (!ev.failed || ev.rollback) && open != nil:
			open.restored, open.restoredIn = true, ev.at.Sub(open.at)
			open = nil
		}
	}
}

// dora computes the figures of the events that ended in (from, to].
func dora(evs []*deployEvent, from, to time.Time) DORA {
	d := DORA{From: from, To: to}
	for _, ev := range evs {
		if !ev.at.After(from) || ev.at.After(to) {
			continue
		}
		if ev.opens {
			if ev.restored {
				d.Restores = append(d.Restores, ev.restoredIn)
			} else {
				d.Unrestored++
			}
		}
		if ev.rollback {
			continue
		}
		d.Attempts++
		if ev.failed {
			d.Failures++
		}
		if ev.run.State == RunSucceeded {
			d.Deploys++
		}
		if ev.hasLead {
			d.LeadTimes = append(d.LeadTimes, ev.leadTime)
		}
	}
	slices.Sort(d.LeadTimes)
	slices.Sort(d.Restores)
	return d
}

// RunLister lists runs page by page, newest first; the storage package
// implements it.
type RunLister interface {
	Runs(ctx context.Context, f RunFilter) ([]*Run, error)
}

// insightPage and maxInsightRuns bound how many runs DeployRuns reads.
const (
	insightPage    = 500
	maxInsightRuns = 100_000
)

// DeployRuns reads the deploys (IsDeploy) of service ("" every service)
// created since, newest first, for ComputeInsights. Over maxInsightRuns
// runs it stops and reports truncated.
func DeployRuns(ctx context.Context, store RunLister, service string, since time.Time) (runs []*Run, truncated bool, err error) {
	var before int64
	read := 0
	for {
		page, err := store.Runs(ctx, RunFilter{Service: service, BeforeID: before, Limit: insightPage})
		if err != nil {
			return nil, false, fmt.Errorf("reading runs for the insights: %w", err)
		}
		for _, r := range page {
			if r.CreatedAt.Before(since) {
				return runs, false, nil
			}
			if IsDeploy(r) {
				runs = append(runs, r)
			}
		}
		read += len(page)
		if len(page) < insightPage {
			return runs, false, nil
		}
		if read >= maxInsightRuns {
			return runs, true, nil
		}
		before = page[len(page)-1].ID
	}
}

// FrequencyText is the deployment frequency as the page and chat show it:
// "2.3 a day (16)", "1.6 a week (7)", "none".
func (d DORA) FrequencyText() string {
	perDay := d.PerDay()
	switch {
	case d.Deploys == 0:
		return "none"
	case perDay >= 1:
		return fmt.Sprintf("%.1f a day (%d)", perDay, d.Deploys)
	}
	return fmt.Sprintf("%.1f a week (%d)", perDay*7, d.Deploys)
}

// LeadTimeText is the lead time for changes: "2h 10m (median of 3)", or
// "no merged pull request".
func (d DORA) LeadTimeText() string {
	lt, ok := d.LeadTime()
	if !ok {
		return "no merged pull request"
	}
	return fmt.Sprintf("%s (median of %d)", HumanDuration(lt), len(d.LeadTimes))
}

// FailureRateText is the change failure rate: "25% (1 of 4)", or "no deploy".
func (d DORA) FailureRateText() string {
	rate, ok := d.FailureRate()
	if !ok {
		return "no deploy"
	}
	return fmt.Sprintf("%.0f%% (%d of %d)", rate*100, d.Failures, d.Attempts)
}

// RestoreText is the time to restore: "45m (median of 2)", with ", 1 not
// restored" when an incident is still open; "no failure" without any.
func (d DORA) RestoreText() string {
	ttr, ok := d.TimeToRestore()
	out := ""
	switch {
	case ok:
		out = fmt.Sprintf("%s (median of %d)", HumanDuration(ttr), len(d.Restores))
	case d.Unrestored == 0:
		return "no failure"
	}
	if d.Unrestored > 0 {
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%d not restored", d.Unrestored)
	}
	return out
}

// HumanDuration rounds d for people: "40s", "12m", "5h 20m", "3.2 days".
func HumanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute)/time.Minute))
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%.1f days", d.Hours()/24)
}
