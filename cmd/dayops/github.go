package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/dayops/dayops"
	ghdoor "github.com/dayops/dayops/bot/github"
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
	door, err := ghdoor.NewDoor(ghdoor.DoorOptions{Client: client, BotLogin: login, Prefix: d.cfg.Slack.Command, Logger: d.log})
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
			}},
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
