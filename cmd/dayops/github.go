package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	ghdoor "github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/config"
	"github.com/dayops/dayops/gitsync"
)

// registerGitHub wires the GitHub door: the client, the door that answers
// in pull requests and keeps GitHub's record of runs, and the webhook
// intake on POST /github/webhook. It returns what stops the intake.
func registerGitHub(ctx context.Context, d doorDeps) (stop func(), err error) {
	gh := d.cfg.GitHub
	client, err := ghdoor.NewClient(ghdoor.ClientOptions{BaseURL: gh.APIURL, Token: gh.Token.Value(), Logger: d.log, HTTPClient: d.apiClient("github")})
	if err != nil {
		return nil, err
	}
	// dayops's own login: its comments are never commands. A GitHub App's
	// token cannot read it; any bot's comments are ignored anyway.
	login, err := client.Login(ctx)
	if err != nil {
		d.log.Warn("github: the token's login is unknown; comments by bots are ignored all the same", "err", err)
	}
	door, err := ghdoor.NewDoor(ghdoor.DoorOptions{Client: client, BotLogin: login, Prefix: d.cfg.Slack.Command, Logger: d.log,
		EnvironmentURL: func(run *dayops.Run) string { return environmentURL(d.syncer.Catalog(), run) }})
	if err != nil {
		return nil, fmt.Errorf("starting the GitHub door: %w", err)
	}
	d.bot.Register(door)
	repos := map[string]string{}
	for name, r := range gh.Repos {
		repos[name] = r.Service
	}
	intake, err := ghdoor.NewIntake(ghdoor.IntakeOptions{
		Secret: gh.WebhookSecret.Value(), Inbox: d.store, Pipeline: d.bot, GitHub: client,
		Repos: repos, Teams: githubTeams(d.cfg.Policy), BotLogin: login, Previews: door,
		OnPullRequest: func(ctx context.Context, pr dayops.PullRequest, where dayops.Thread) {
			d.bot.PullRequestEvent(ctx, pr, where)
		},
		OpsRepo: ghdoor.OpsRepo{Name: gh.OpsRepo, Branch: d.cfg.Repo.Branch,
			Sync: func(ctx context.Context) error {
				_, err := d.syncer.Sync(ctx)
				return err
			},
			Validate: func(ctx context.Context, pr dayops.PullRequest) error {
				return validateOpsPR(ctx, d.syncer, door, pr)
			}},
		Owner:  d.owner,
		Logger: d.log,
	})
	if err != nil {
		return nil, err
	}
	d.mux.Handle("POST /github/webhook", intake)
	intake.Start()
	d.log.Info("github door: webhooks", "path", "/github/webhook", "repos", len(repos), "ops_repo", gh.OpsRepo, "login", login)
	return intake.Close, nil
}

// githubTeams are the "ORG/TEAM"s the roles name as github-team:ORG/TEAM.
func githubTeams(p dayops.Policy) []string {
	var teams []string
	seen := map[string]bool{}
	for _, r := range p.Roles {
		for _, m := range r.Members {
			if t, ok := strings.CutPrefix(m, "github-team:"); ok && !seen[t] {
				seen[t] = true
				teams = append(teams, t)
			}
		}
	}
	return teams
}

// environmentURL is the url: of run's environment in the catalog's
// definition: where the deployment is reached; "" when it gives none.
func environmentURL(cat *dayops.Catalog, run *dayops.Run) string {
	if cat == nil || run.Environment == "" {
		return ""
	}
	def, ok := cat.Lookup(run.Definition)
	if !ok {
		return ""
	}
	env, _ := def.Environment(run.Environment)
	return env.URL
}

// validateOpsPR checks an ops repo pull request's head as a sync would,
// without serving it, and reports on the pull request: the dayops/validate
// check with an annotation per problem, and what it changes in the catalog.
func validateOpsPR(ctx context.Context, syncer *gitsync.Syncer, door *ghdoor.Door, pr dayops.PullRequest) error {
	check, err := syncer.Check(ctx, fmt.Sprintf("refs/pull/%d/head", pr.Number))
	if err != nil {
		return fmt.Errorf("checking %s: %w", pr, err)
	}
	v := ghdoor.Validation{Revision: check.Revision}
	for _, p := range check.Located {
		v.Problems = append(v.Problems, ghdoor.Problem{Path: p.File, Line: p.Line, Col: p.Col, Message: p.Message})
	}
	if check.Catalog != nil {
		v.Summary = dayops.CatalogChanges(syncer.Catalog(), check.Catalog).Markdown()
	}
	return door.PublishValidation(ctx, pr, v)
}

// prRequirements are github.environments as the bot enforces them.
func prRequirements(cfg *config.Config) map[string]bot.PRRequirement {
	out := map[string]bot.PRRequirement{}
	for env, e := range cfg.GitHub.Environments {
		out[env] = bot.PRRequirement{Review: e.RequireReview, Checks: e.RequireChecks}
	}
	return out
}
