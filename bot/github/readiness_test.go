package github_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
)

const (
	head = "1111111111111111111111111111111111111111"
	old  = "0000000000000000000000000000000000000000"
)

func TestReadiness(t *testing.T) {
	type review struct{ login, state, commit string }
	tests := []struct {
		name       string
		reviews    []review
		protect    []string // required checks; nil: branch not protected
		checks     map[string][2]string
		statuses   map[string]string
		wantApp    []string
		wantChReq  []string
		wantReq    []github.CheckState
		approved   bool
		checksPass bool
	}{
		{name: "no review", approved: false, checksPass: true},
		{name: "the author approving their own", reviews: []review{{"alice", "APPROVED", head}}, checksPass: true},
		{name: "approved an older head", reviews: []review{{"bob", "APPROVED", old}}, checksPass: true},
		{name: "approved the head", reviews: []review{{"bob", "APPROVED", head}}, wantApp: []string{"bob"}, approved: true, checksPass: true},
		{name: "a comment after an approval keeps it", reviews: []review{{"bob", "APPROVED", head}, {"bob", "COMMENTED", head}},
			wantApp: []string{"bob"}, approved: true, checksPass: true},
		{name: "changes requested after the approval", reviews: []review{{"bob", "APPROVED", head}, {"bob", "CHANGES_REQUESTED", head}},
			wantChReq: []string{"bob"}, checksPass: true},
		{name: "approved after asking for changes", reviews: []review{{"bob", "CHANGES_REQUESTED", old}, {"bob", "APPROVED", head}},
			wantApp: []string{"bob"}, approved: true, checksPass: true},
		{name: "dismissed", reviews: []review{{"bob", "APPROVED", head}, {"bob", "DISMISSED", head}}, checksPass: true},
		{name: "another's changes requested hold it", reviews: []review{{"bob", "APPROVED", head}, {"carol", "CHANGES_REQUESTED", head}},
			wantApp: []string{"bob"}, wantChReq: []string{"carol"}, checksPass: true},
		{name: "protected without required checks", protect: []string{}, checksPass: true},
		{name: "required checks passed", protect: []string{"build", "lint"},
			checks: map[string][2]string{"build": {"completed", "success"}}, statuses: map[string]string{"lint": "success"},
			wantReq: []github.CheckState{{"build", "success"}, {"lint", "success"}}, checksPass: true},
		{name: "a required check failed, another missing", protect: []string{"build", "lint", "test"},
			checks:  map[string][2]string{"build": {"completed", "failure"}, "test": {"in_progress", ""}},
			wantReq: []github.CheckState{{"build", "failure"}, {"lint", "missing"}, {"test", "pending"}}},
		{name: "a failing status is not hidden by a passing check run", protect: []string{"build"},
			checks: map[string][2]string{"build": {"completed", "success"}}, statuses: map[string]string{"build": "error"},
			wantReq: []github.CheckState{{"build", "failure"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := githubtest.New(t)
			fake.SetPullRequest(githubtest.PR{Repo: "o/app", Number: 7, Author: "alice", HeadSHA: head, BaseRef: "main"})
			for _, r := range tt.reviews {
				fake.AddReview("o/app", 7, r.login, r.state, r.commit)
			}
			if tt.protect != nil {
				fake.SetRequiredChecks("o/app", "main", tt.protect...)
			}
			for name, st := range tt.checks {
				fake.AddCheckRun("o/app", head, name, st[0], st[1])
			}
			for ctx, st := range tt.statuses {
				fake.SetStatus("o/app", head, ctx, st)
			}
			got, err := newClient(t, fake, nil).Readiness(context.Background(), "o/app", 7)
			if err != nil {
				t.Fatal(err)
			}
			want := github.Readiness{HeadSHA: head, Author: "alice", Approvers: tt.wantApp, ChangesRequested: tt.wantChReq, Required: tt.wantReq}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("readiness (-want +got):\n%s", d)
			}
			if got.Approved() != tt.approved || got.ChecksPassed() != tt.checksPass {
				t.Errorf("Approved %v ChecksPassed %v, want %v %v", got.Approved(), got.ChecksPassed(), tt.approved, tt.checksPass)
			}
			if ready := tt.approved && tt.checksPass; ready != (len(got.Missing()) == 0) {
				t.Errorf("Missing() = %q with approved %v, checks %v", got.Missing(), tt.approved, tt.checksPass)
			}
		})
	}
}

func TestReadinessFailsClosed(t *testing.T) {
	tests := []struct {
		name string
		fail string
		code int
	}{
		{"reviews unreadable", "/repos/o/app/pulls/7/reviews", 500},
		{"protection unreadable", "/repos/o/app/branches/", 500},
		{"protection hidden from the token", "/repos/o/app/branches/", 404},
		{"check runs unreadable", "/repos/o/app/commits/" + head + "/check-runs", 403},
		{"statuses unreadable", "/repos/o/app/commits/" + head + "/status", 502},
		{"pull request unknown", "/repos/o/app/pulls/7", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := githubtest.New(t)
			fake.SetPullRequest(githubtest.PR{Repo: "o/app", Number: 7, Author: "alice", HeadSHA: head})
			fake.AddReview("o/app", 7, "bob", "APPROVED", head)
			fake.SetRequiredChecks("o/app", "main", "build")
			fake.AddCheckRun("o/app", head, "build", "completed", "success")
			fake.RetryAfter = 120 // a 403 is a secondary limit: not waited out in the call
			fake.FailNext(tt.fail, tt.code, 10)
			got, err := newClient(t, fake, nil).Readiness(context.Background(), "o/app", 7)
			if err == nil {
				t.Fatalf("Readiness = %+v, nil; want an error when GitHub cannot say", got)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	fake := githubtest.New(t)
	clk := &clock{t: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)}
	c := newClient(t, fake, clk.now)
	ctx := context.Background()
	fake.SetTeam("acme/sre", "alice", "active")
	fake.SetTeam("acme/dev", "alice", "pending")
	teams := []string{"acme/sre", "github-team:acme/dev", "acme/ops"}
	got, err := c.Groups(ctx, "alice", teams)
	if err != nil || !cmp.Equal(got, []string{"github-team:acme/sre"}) {
		t.Fatalf("Groups = %q, %v; want only the active team", got, err)
	}
	calls := len(fake.Calls())
	if calls != 3 {
		t.Errorf("%d calls, want one per team", calls)
	}
	fake.SetTeam("acme/sre", "alice", "")
	clk.t = clk.t.Add(4 * time.Minute)
	if got, _ := c.Groups(ctx, "alice", teams); !cmp.Equal(got, []string{"github-team:acme/sre"}) || len(fake.Calls()) != calls {
		t.Errorf("within five minutes: %q after %d calls, want the cached answer and no call", got, len(fake.Calls())-calls)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	if got, err := c.Groups(ctx, "alice", teams); len(got) != 0 || err != nil {
		t.Errorf("after five minutes: %q, %v; want the membership gone", got, err)
	}
	fake.FailNext("/orgs/acme/teams/sre/", 500, 10)
	clk.t = clk.t.Add(10 * time.Minute)
	if _, err := c.Groups(ctx, "alice", []string{"acme/sre"}); dayops.KindOf(err) != dayops.KindUnavailable {
		t.Errorf("GitHub failing: %v, want unavailable (callers refuse)", err)
	}
	if _, err := c.Groups(ctx, "alice", []string{"acme"}); dayops.KindOf(err) != dayops.KindInvalid {
		t.Errorf("a team without a slug: %v, want invalid", err)
	}
}
