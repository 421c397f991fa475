package bot

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// statsWindow is the period stats measures.
const statsWindow = 30 * 24 * time.Hour

// statsPage and maxStatsPages bound how many runs stats reads.
const (
	statsPage     = 200
	maxStatsPages = 50
)

// deployStats are the DORA figures dayops can measure from its own runs.
type deployStats struct {
	Service, Environment string
	Attempts             int // finished deploys that could succeed or fail
	Deploys              int // succeeded
	Failures             int // failed, timed out, or later rolled back
}

func (b *Bot) stats(ctx context.Context, c *call) (*Message, error) {
	service := c.cmd.Service
	target := "stats"
	if service != "" {
		target += " of " + service
	}
	if err := b.authorizeRead(ctx, c, target); err != nil {
		return nil, err
	}
	now := b.now()
	runs, err := b.recentRuns(ctx, service, now.Add(-statsWindow))
	if err != nil {
		return nil, err
	}
	stats := computeStats(runs)
	if len(stats) == 0 && service != "" {
		if _, err := b.service(service); err != nil {
			return nil, err
		}
	}
	lines := []string{"deployments in the last 30 days"}
	if service != "" {
		lines[0] += " of " + service
	}
	if len(stats) == 0 {
		lines = append(lines, "  none")
	}
	for _, s := range stats {
		line := fmt.Sprintf("  %s %s: %d %s (%s)", s.Service, s.Environment, s.Deploys, plural(s.Deploys, "deploy", "deploys"), frequency(s.Deploys, statsWindow))
		if s.Attempts > 0 {
			line += fmt.Sprintf(", change failure rate %d%% (%d of %d)", (s.Failures*100+s.Attempts/2)/s.Attempts, s.Failures, s.Attempts)
		}
		lines = append(lines, line)
	}
	return &Message{
		Text:   b.redact(strings.Join(lines, "\n")),
		Footer: "lead time for changes and time to restore need pull request and incident data, which dayops does not record yet",
	}, nil
}

// recentRuns reads the day1 runs created since, newest first.
func (b *Bot) recentRuns(ctx context.Context, service string, since time.Time) ([]*dayops.Run, error) {
	var out []*dayops.Run
	var before int64
	for range maxStatsPages {
		page, err := b.store.Runs(ctx, dayops.RunFilter{Service: service, BeforeID: before, Limit: statsPage})
		if err != nil {
			return nil, fmt.Errorf("reading runs for stats: %w", err)
		}
		for _, r := range page {
			if r.CreatedAt.Before(since) {
				return out, nil
			}
			if r.Phase == dayops.Day1 {
				out = append(out, r)
			}
		}
		if len(page) < statsPage {
			break
		}
		before = page[len(page)-1].ID
	}
	return out, nil
}

// computeStats groups deploys by service and environment. A rollback run is
// not a deploy of its own, but it marks the deploy it rolls back as a change
// that failed.
func computeStats(runs []*dayops.Run) []deployStats {
	rolledBack := map[int64]bool{}
	for _, r := range runs {
		if r.RollbackOf != 0 {
			rolledBack[r.RollbackOf] = true
		}
	}
	groups := map[string]*deployStats{}
	for _, r := range runs {
		if r.RollbackOf != 0 {
			continue
		}
		switch r.State {
		case dayops.RunSucceeded, dayops.RunFailed, dayops.RunTimedOut:
		default:
			continue // never ran to an outcome: denied, cancelled, interrupted, or still going
		}
		service := r.Service
		if service == "" {
			service = r.Definition
		}
		key := service + " " + r.Environment
		g := groups[key]
		if g == nil {
			g = &deployStats{Service: service, Environment: r.Environment}
			groups[key] = g
		}
		g.Attempts++
		if r.State == dayops.RunSucceeded {
			g.Deploys++
		}
		if r.State != dayops.RunSucceeded || rolledBack[r.ID] {
			g.Failures++
		}
	}
	out := make([]deployStats, 0, len(groups))
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		out = append(out, *groups[k])
	}
	return out
}

// frequency renders n events over window as a rate: "2.3 a day", "1.6 a week".
func frequency(n int, window time.Duration) string {
	days := window.Hours() / 24
	perDay := float64(n) / days
	switch {
	case n == 0:
		return "none"
	case perDay >= 1:
		return fmt.Sprintf("%.1f a day", perDay)
	}
	return fmt.Sprintf("%.1f a week", perDay*7)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
