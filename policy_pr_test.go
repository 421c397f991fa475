package dayops_test

import (
	"testing"

	"github.com/dayops/dayops"
)

// TestPRAuthorPolicy: the author of the pull request a run came from may
// not approve it (any case of the login), nor does an approval recorded in
// their name count; others with the role may, and the author may deny.
func TestPRAuthorPolicy(t *testing.T) {
	p := dayops.Policy{Roles: []dayops.Role{{Name: "sre", Members: []string{"github:octocat", "github:hubot", "slack:U1"}, Allow: []string{"*"}}}}
	pr := dayops.PullRequest{Repo: "org/web", Number: 7, Author: "octocat"}
	run := &dayops.Run{ID: 3, Definition: "deploy-web", Phase: dayops.Day1, Environment: "production", PlanHash: "h",
		Actor: dayops.TriggerActor(dayops.TriggerPullRequest), Context: pr.Context()}
	def := &dayops.Definition{Name: "deploy-web", Phase: dayops.Day1}
	for _, tc := range []struct {
		who     string
		act     dayops.ActionKind
		allowed bool
	}{
		{"github:octocat", dayops.ActApprove, false},
		{"github:OCTOCAT", dayops.ActApprove, false},
		{"github:hubot", dayops.ActApprove, true},
		{"slack:U1", dayops.ActApprove, true}, // not a GitHub identity: not the author
		{"github:octocat", dayops.ActDeny, true},
		{"github:octocat", dayops.ActCancel, true},
	} {
		a := dayops.Actor{ID: tc.who}
		if v := p.MayActOnRun(a, dayops.Thread{}, run, tc.act); v.Allowed != tc.allowed {
			t.Errorf("MayActOnRun(%s, %s) = %+v, want allowed %v", tc.who, tc.act, v, tc.allowed)
		}
		if tc.act == dayops.ActCancel {
			continue
		}
		g := dayops.Gate{Run: run, Def: def, Rule: dayops.ApprovalRule{Count: 1}}
		if v := p.MayDecide(a, g, tc.act == dayops.ActApprove); v.Allowed != tc.allowed {
			t.Errorf("MayDecide(%s, %s) = %+v, want allowed %v", tc.who, tc.act, v, tc.allowed)
		}
	}
	g := dayops.Gate{Run: run, Def: def, Rule: dayops.ApprovalRule{Count: 2}, Prior: []dayops.Approval{
		{Actor: dayops.Actor{ID: "github:Octocat"}, Approved: true, Valid: true, PlanHash: "h"},
		{Actor: dayops.Actor{ID: "github:hubot"}, Approved: true, Valid: true, PlanHash: "h"},
	}}
	if have, need := p.Tally(g); have != 1 || need != 2 {
		t.Errorf("Tally = %d of %d, want the author's approval not to count: 1 of 2", have, need)
	}
}
