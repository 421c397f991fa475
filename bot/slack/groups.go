package slack

import (
	"context"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/dayops/dayops"
)

// Roles by user group: a role member "slack-group:S0SRE" is everyone in that
// Slack user group. Groups are read by ID (never by handle or display name)
// from usergroups.list, and usergroups.users.list for a group whose members
// the list leaves out, and cached for groupsTTL.

// GroupPrefix starts a user group's ID in Actor.Groups and role members.
const GroupPrefix = "slack-group:"

const (
	groupsTTL   = 5 * time.Minute  // how long the groups read are taken as current
	groupsRetry = 30 * time.Second // after a failed read, the least wait before the next
	groupsStale = 30 * time.Minute // how long groups read earlier still serve while Slack fails
)

// groupCache is every user's groups, as read at a time. Its zero value is
// empty and ready.
type groupCache struct {
	refresh sync.Mutex // one read of Slack at a time

	mu      sync.Mutex
	byUser  map[string][]string // user ID → "slack-group:S…"
	fetched time.Time           // when byUser was read
	tried   time.Time           // when a read was last tried
}

// actor is the Slack user as dayops knows them: "slack:U…" and their groups.
func (d *Door) actor(ctx context.Context, user, name string) dayops.Actor {
	return dayops.Actor{ID: "slack:" + user, Name: name, Groups: d.userGroups(ctx, user)}
}

// userGroups are the groups of user, from the cache when it is current.
func (d *Door) userGroups(ctx context.Context, user string) []string {
	g := &d.groups
	if groups, ok := g.current(d.now(), groupsTTL); ok {
		return groups[user]
	}
	g.refresh.Lock()
	defer g.refresh.Unlock()
	now := d.now()
	if groups, ok := g.current(now, groupsTTL); ok {
		return groups[user] // read while this one waited
	}
	g.mu.Lock()
	wait := !g.tried.IsZero() && now.Sub(g.tried) < groupsRetry
	g.mu.Unlock()
	if !wait {
		byUser, err := d.readGroups(ctx)
		g.mu.Lock()
		g.tried = now
		if err == nil {
			g.byUser, g.fetched = byUser, now
		}
		g.mu.Unlock()
		if err != nil {
			d.log.Warn("reading slack user groups (scope usergroups:read): roles given to groups do not count until it works", "err", apiError(err))
		}
	}
	groups, _ := g.current(now, groupsStale)
	return groups[user]
}

// current is the cache when it was read less than ttl ago.
func (g *groupCache) current(now time.Time, ttl time.Duration) (map[string][]string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byUser == nil || now.Sub(g.fetched) >= ttl {
		return nil, false
	}
	return g.byUser, true
}

// readGroups asks Slack for every user group and its members.
func (d *Door) readGroups(ctx context.Context) (map[string][]string, error) {
	list, err := d.api.GetUserGroupsContext(ctx, slack.GetUserGroupsOptionIncludeUsers(true), slack.GetUserGroupsOptionIncludeCount(true))
	if err != nil {
		return nil, err
	}
	byUser := map[string][]string{}
	for _, ug := range list {
		users := ug.Users
		if len(users) == 0 && ug.UserCount > 0 {
			if users, err = d.api.GetUserGroupMembersContext(ctx, ug.ID); err != nil {
				return nil, err
			}
		}
		for _, u := range users {
			byUser[u] = append(byUser[u], GroupPrefix+ug.ID)
		}
	}
	return byUser, nil
}
