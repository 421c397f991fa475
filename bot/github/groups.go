package github

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// groupTTL is how long a team membership read from GitHub is trusted.
const groupTTL = 5 * time.Minute

// TeamPrefix is how roles name a GitHub team: "github-team:ORG/TEAM".
const TeamPrefix = "github-team:"

type membershipKey struct{ login, team string }

type membership struct {
	member bool
	at     time.Time
}

// Groups returns which of teams ("ORG/TEAM", the team's slug, or
// "github-team:ORG/TEAM") login is an active member of, as
// "github-team:ORG/TEAM" strings, the way roles name members. Answers are
// cached for five minutes; an error (GitHub cannot say) is never cached.
// With an error, the teams returned are those GitHub did confirm: a caller
// granting something on a membership it could not read refuses it.
func (c *Client) Groups(ctx context.Context, login string, teams []string) ([]string, error) {
	if login == "" {
		return nil, dayops.Errorf(dayops.KindInvalid, "github teams: no login to look up")
	}
	var out []string
	var errs []error
	for _, t := range teams {
		team := strings.TrimPrefix(t, TeamPrefix)
		org, slug, ok := strings.Cut(team, "/")
		if !ok || org == "" || slug == "" || strings.Contains(slug, "/") {
			errs = append(errs, dayops.Errorf(dayops.KindInvalid, "github team %q: write it as github-team:ORG/TEAM (the team's slug)", t))
			continue
		}
		member, err := c.member(ctx, login, org, slug)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if member {
			out = append(out, TeamPrefix+org+"/"+slug)
		}
	}
	return out, errors.Join(errs...)
}

// member reports whether login is an active member of org/slug, from the
// cache when fresh.
func (c *Client) member(ctx context.Context, login, org, slug string) (bool, error) {
	key := membershipKey{strings.ToLower(login), strings.ToLower(org + "/" + slug)}
	now := c.now()
	c.mu.Lock()
	m, ok := c.groups[key]
	c.mu.Unlock()
	if ok && now.Sub(m.at) < groupTTL {
		return m.member, nil
	}
	ms, _, err := c.api.Teams.GetTeamMembershipBySlug(ctx, org, slug, login)
	member := false
	switch {
	case err == nil:
		member = ms.GetState() == "active"
	case statusOf(err) == 404:
		// Not a member (or no such team): GitHub says the same for both.
	default:
		return false, c.callError("read the membership of "+login+" in "+org+"/"+slug, err)
	}
	c.mu.Lock()
	c.groups[key] = membership{member: member, at: now}
	c.mu.Unlock()
	return member, nil
}
