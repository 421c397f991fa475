package slack

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot/bottest"
)

// TestRolesByUserGroup: a role whose member is slack-group:S0SRE lets a
// user of that group run, and nobody else; groups are read once per TTL,
// and a user taken out of the group loses the role once it has passed.
// Slack's usergroups.list gives the members itself, or leaves them to
// usergroups.users.list.
func TestRolesByUserGroup(t *testing.T) {
	for _, omit := range []bool{false, true} {
		name := "members in usergroups.list"
		if omit {
			name = "members from usergroups.users.list"
		}
		t.Run(name, func(t *testing.T) {
			pol := dayops.Policy{Roles: []dayops.Role{{Name: "oncall", Members: []string{"slack-group:S0SRE"}, Allow: []string{"*"}}}}
			w := newWorldOf(t, filepath.Join(t.TempDir(), "dayops.db"), bottest.Catalog(t), pol)
			var mu sync.Mutex
			now := time.Now()
			w.door.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			w.slack.mu.Lock()
			w.slack.groups = map[string][]string{"S0SRE": {"W555"}, "S0WEB": {"W556", "W555"}}
			w.slack.groupsOmitUsers = omit
			w.slack.mu.Unlock()

			w.serve(signed(PathCommands, commandForm(t, "W556", "deploy web staging v1.2.0"), time.Now()))
			if calls := w.engine.Calls(); len(calls) > 0 {
				t.Fatalf("a user outside S0SRE started something: %q", calls)
			}
			w.serve(signed(PathCommands, commandForm(t, "W555", "deploy web staging v1.2.0"), time.Now()))
			reqs := w.engine.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d runs started by the S0SRE member, want 1; slack calls %s", len(reqs), methods(w.slack.Calls()))
			}
			want := dayops.Actor{ID: "slack:W555", Name: "primary-owner", Groups: []string{"slack-group:S0SRE", "slack-group:S0WEB"}}
			got := reqs[0].Actor
			slices.Sort(got.Groups)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("actor (-want +got):\n%s", diff)
			}
			if n := w.slack.groupReads; n != 1 {
				t.Errorf("groups read %d times for two commands, want 1 (cached)", n)
			}

			// W555 leaves S0SRE: still a member until the TTL has passed.
			w.slack.mu.Lock()
			w.slack.groups["S0SRE"] = nil
			w.slack.mu.Unlock()
			mu.Lock()
			now = now.Add(groupsTTL + time.Second)
			mu.Unlock()
			if rec := w.serve(signed(PathCommands, commandForm(t, "W555", "deploy web staging v1.2.1"), now)); rec.Code != 200 {
				t.Fatalf("answer %d %q", rec.Code, rec.Body.String())
			}
			if n := len(w.engine.Requests()); n != 1 {
				t.Errorf("a former member still started a run: %d runs", n)
			}
			if n := w.slack.groupReads; n != 2 {
				t.Errorf("groups read %d times after the TTL, want 2", n)
			}
		})
	}
}

// TestWhoamiShowsGroups: whoami names the asker's groups and the roles
// they give.
func TestWhoamiShowsGroups(t *testing.T) {
	pol := dayops.Policy{Roles: []dayops.Role{{Name: "oncall", Members: []string{"slack-group:S0SRE"}, Allow: []string{"day2:*", "read"}}}}
	w := newWorldOf(t, filepath.Join(t.TempDir(), "dayops.db"), bottest.Catalog(t), pol)
	w.slack.mu.Lock()
	w.slack.groups = map[string][]string{"S0SRE": {"W555"}}
	w.slack.mu.Unlock()
	w.serve(signed(PathCommands, commandForm(t, "W555", "whoami"), time.Now()))
	var text string
	for _, c := range w.slack.Calls() {
		if c.Method == "chat.postEphemeral" {
			text += c.blocksText()
		}
	}
	for _, want := range []string{"slack-group:S0SRE", "oncall", "day2:*"} {
		if !strings.Contains(text, want) {
			t.Errorf("whoami does not say %s: %s", want, text)
		}
	}
}
