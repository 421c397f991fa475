package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// statsFooter says in one line how the figures are computed; /insights
// says it at length (dayops.HowDeploymentFrequency and the others).
const statsFooter = "frequency: successful deploys a day or week · lead time: median from a pull request's merge to its deploy's success · " +
	"failure rate: failed, timed out or rolled back deploys of all that ran · time to restore: median from a first failure to the next success"

// stats answers with the DORA figures (dayops.ComputeInsights) of every
// service, or of one, over 7, 30 and 90 days: the figures /insights draws.
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
	runs, truncated, err := dayops.DeployRuns(ctx, b.store, service, now.Add(-dayops.InsightSpan))
	if err != nil {
		return nil, err
	}
	in := dayops.ComputeInsights(runs, now)
	if len(in.Groups) == 0 && service != "" {
		if _, err := b.service(service); err != nil {
			return nil, err
		}
	}
	windows := make([]string, len(dayops.InsightWindows))
	for i, w := range dayops.InsightWindows {
		windows[i] = fmt.Sprintf("%d", int(w/(24*time.Hour)))
	}
	head := "deploys"
	if service != "" {
		head += " of " + service
	}
	lines := []string{head + " over the last " + strings.Join(windows, " · ") + " days"}
	if len(in.Groups) == 0 {
		lines = append(lines, "  none in the last "+windows[len(windows)-1]+" days")
	}
	for _, g := range in.Groups {
		lines = append(lines, g.Service+" "+g.Environment,
			"  deployment frequency: "+joinFigures(g.Windows, dayops.DORA.FrequencyText),
			"  lead time for changes: "+joinFigures(g.Windows, dayops.DORA.LeadTimeText),
			"  change failure rate: "+joinFigures(g.Windows, dayops.DORA.FailureRateText),
			"  time to restore: "+joinFigures(g.Windows, dayops.DORA.RestoreText))
	}
	if truncated {
		lines = append(lines, "(only the newest runs were read: there are too many to count them all here)")
	}
	footer := statsFooter
	if b.baseURL != "" {
		footer += " · charts: " + b.baseURL + "/insights"
	}
	return &Message{Text: b.redact(strings.Join(lines, "\n")), Footer: footer}, nil
}

// joinFigures is one figure over every window: "2.0 a day (14) · …".
func joinFigures(ws []dayops.DORA, text func(dayops.DORA) string) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = text(w)
	}
	return strings.Join(parts, " · ")
}
