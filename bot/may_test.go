package bot_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dayops/dayops"
)

// TestHelpShowsWhatTheAskerMayDo: help lists only the commands the asker's
// roles allow; help on one command says when the asker may not use it.
func TestHelpShowsWhatTheAskerMayDo(t *testing.T) {
	verbs := []string{"list", "describe", "plan", "run", "deploy", "rollback", "status", "history",
		"approve", "deny", "cancel", "lock", "unlock", "sync", "stats", "whoami", "help"}
	tests := []struct {
		name string
		who  dayops.Actor
		text string
		may  []string // the verbs listed; every other verb is not
		want string
	}{
		{name: "sre", who: alice, text: "help", may: verbs},
		{name: "dev: staging deploys, read, lock staging", who: carol, text: "help",
			may: []string{"list", "describe", "plan", "run", "deploy", "rollback", "status", "history",
				"approve", "deny", "cancel", "lock", "sync", "stats", "whoami", "help"}},
		{name: "no role", who: dave, text: "help", may: []string{"whoami", "help"}},
		{name: "one command not allowed", who: dave, text: "help deploy",
			want: "usage: /ops deploy SERVICE ENV [VERSION] [key=value…]\nstart the Day-1 definition of SERVICE in ENV\nVERSION is short"},
		{name: "no role: one command says so", who: dave, text: "help deploy", want: "you may not use deploy here"},
		{name: "one command not allowed says so", who: carol, text: "help unlock",
			want: "you may not use unlock here: no role of yours allows it (/ops whoami shows what yours allow)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.say(tt.who, tt.text)
			w.bot.Wait()
			got := w.door.Transcript()
			if tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("help lacks %q:\n%s", tt.want, got)
			}
			if tt.may == nil {
				return
			}
			for _, v := range verbs {
				listed := strings.Contains(got, "/ops "+v+" ")
				if want := slices.Contains(tt.may, v); listed != want {
					t.Errorf("%s listed: %v, want %v:\n%s", v, listed, want, got)
				}
			}
		})
	}
}

// TestWhoamiThroughGroups: whoami names the groups and the role each gives.
func TestWhoamiThroughGroups(t *testing.T) {
	erin := dayops.Actor{ID: "slack:U0ERIN", Name: "erin", Groups: []string{"slack-group:S0SRE", "slack-group:S0WEB"}}
	b := newIncidentWorld(t, dayops.Policy{Roles: []dayops.Role{
		{Name: "oncall", Members: []string{"slack-group:S0SRE"}, Allow: []string{"day2:*", "read"}},
		{Name: "ops", Members: []string{"slack:U0ERIN"}, Allow: []string{"read"}},
	}})
	b.say(erin, "whoami")
	b.bot.Wait()
	got := b.door.Transcript()
	for _, want := range []string{
		"you are erin (slack:U0ERIN)",
		"groups: slack-group:S0SRE, slack-group:S0WEB",
		"role oncall (through slack-group:S0SRE) allows: day2:*, read",
		"role ops allows: read",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("whoami lacks %q:\n%s", want, got)
		}
	}
}
