package github

import (
	"context"

	"github.com/dayops/dayops/bot"
)

// Readiness tells the bot, at the time of a run, who approved a pull
// request's head and how its required checks stand (bot.PullRequests): a
// check passes only with GitHub's "success". Errors are returned as they
// are, and the bot refuses the run (fail closed).
func (d *Door) Readiness(ctx context.Context, repo string, number int) (bot.PRReadiness, error) {
	r, err := d.client.Readiness(ctx, repo, number)
	if err != nil {
		return bot.PRReadiness{}, err
	}
	out := bot.PRReadiness{Approvers: r.Approvers, ChangesRequested: r.ChangesRequested, HeadSHA: r.HeadSHA}
	for _, c := range r.Required {
		out.Checks = append(out.Checks, bot.CheckState{Name: c.Name, Passed: c.State == "success"})
	}
	return out, nil
}

var _ bot.PullRequests = (*Door)(nil)
