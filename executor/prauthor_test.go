package executor_test

import (
	"context"
	"testing"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

// TestPRAuthorNeverApproves: a run from a pull request waits for
// approvals; its author (github:LOGIN, in any case) is refused with a clear
// note and does not count, someone else with the role does.
func TestPRAuthorNeverApproves(t *testing.T) {
	policy := dayops.Policy{Roles: []dayops.Role{
		{Name: "sre", Members: []string{"github:octocat", "github:hubot"}, Allow: []string{"*"}},
		{Name: "automation", Members: []string{"trigger:pull_request"}, Allow: []string{"day1:*"}},
	}}
	h := newHarness(t, map[string]string{"api.yaml": twoApprovals}, func(o *executor.Options) { o.Policy = policy })
	ctx := context.Background()
	pr := dayops.PullRequest{Repo: "org/api", Number: 12, Author: "octocat", HeadSHA: "abc", Action: dayops.PRMerged}
	r := h.start(dayops.RunRequest{Definition: "deploy-api", Environment: "production", Params: map[string]string{"version": "v2"},
		Actor: dayops.TriggerActor(dayops.TriggerPullRequest), Trigger: dayops.TriggerPullRequest, Context: pr.Context()})
	for _, tc := range []struct {
		who   dayops.Actor
		kind  dayops.Kind
		valid bool
		note  string
	}{
		{dayops.Actor{ID: "github:OctoCat"}, dayops.KindForbidden, false,
			"github:OctoCat wrote pull request org/api#12, which run 1 deploys, and cannot approve it: someone else must"},
		{dayops.Actor{ID: "github:hubot", Name: "hubot"}, "", true, "1 of 2 approvals"},
	} {
		a, err := h.exec.Approve(ctx, r.ID, tc.who, thread)
		if dayops.KindOf(err) != tc.kind || a == nil || a.Valid != tc.valid || a.Note != tc.note {
			t.Errorf("approve as %s: %+v, %v; want valid %v note %q", tc.who.ID, a, err, tc.valid, tc.note)
		}
	}
	// The author may still deny (stop) it, as anyone with the role may.
	if err := h.exec.Deny(ctx, r.ID, dayops.Actor{ID: "github:octocat"}, thread, "not yet"); err != nil {
		t.Errorf("the author denying: %v", err)
	}
	if got := h.done(r.ID); got.State != dayops.RunDenied {
		t.Errorf("run %s %q", got.State, got.Reason)
	}
}
