package github_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
)

var opsPR = dayops.PullRequest{Repo: "o/ops", Number: 4, HeadSHA: head, Author: "alice"}

func TestPublishValidationAnnotatesEveryProblem(t *testing.T) {
	tests := []struct {
		problems       int
		wantCalls      int // create + updates of the check run
		wantConclusion string
	}{
		{0, 1, "success"},
		{3, 1, "failure"},
		{50, 1, "failure"},
		{51, 2, "failure"},
		{120, 3, "failure"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.problems, " problems"), func(t *testing.T) {
			fake := githubtest.New(t)
			d := newDoor(t, fake)
			v := github.Validation{Revision: head[:12], Summary: "**Added:** deploy-web"}
			for i := range tt.problems {
				v.Problems = append(v.Problems, github.Problem{Path: fmt.Sprintf("definitions/d%d.yaml", i%3), Line: i + 1, Col: 3, Message: fmt.Sprintf("problem %d", i)})
			}
			if err := d.PublishValidation(context.Background(), opsPR, v); err != nil {
				t.Fatal(err)
			}
			crs := fake.CheckRuns("o/ops")
			if len(crs) != 1 {
				t.Fatalf("%d check runs, want 1", len(crs))
			}
			cr := crs[0]
			if cr.Name != github.ValidateCheck || cr.HeadSHA != head || cr.Conclusion != tt.wantConclusion || cr.Calls != tt.wantCalls {
				t.Errorf("check run %s on %s: %s after %d calls; want %s after %d", cr.Name, cr.HeadSHA, cr.Conclusion, cr.Calls, tt.wantConclusion, tt.wantCalls)
			}
			if len(fake.CallsTo("POST /repos/o/ops/check-runs"))+len(fake.CallsTo("PATCH /repos/o/ops/check-runs/")) != tt.wantCalls {
				t.Errorf("calls %v", fake.Calls())
			}
			if len(cr.Annotations) != tt.problems {
				t.Fatalf("%d annotations, want %d", len(cr.Annotations), tt.problems)
			}
			for i, a := range cr.Annotations {
				if a.StartLine != i+1 || a.Path != fmt.Sprintf("definitions/d%d.yaml", i%3) || a.Message != fmt.Sprintf("problem %d", i) || a.AnnotationLevel != "failure" || a.StartColumn != 3 {
					t.Errorf("annotation %d = %+v", i, a)
					break
				}
			}
			if !strings.Contains(cr.Summary, "**Added:** deploy-web") {
				t.Errorf("summary lacks the catalog diff:\n%s", cr.Summary)
			}
		})
	}
}

func TestPublishValidationEditsItsOneComment(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	ctx := context.Background()
	// Someone quoting the marker does not get their comment edited.
	fake.AddComment("o/ops", 4, "mallory", "<!-- dayops:validate --> mine")
	bad := github.Validation{Revision: "aaa", Problems: []github.Problem{{Path: "a.yaml", Line: 2, Message: "steps: required"}}, Summary: "changed: deploy-web"}
	if err := d.PublishValidation(ctx, opsPR, bad); err != nil {
		t.Fatal(err)
	}
	fixed := opsPR
	fixed.HeadSHA = old
	if err := d.PublishValidation(ctx, fixed, github.Validation{Revision: "bbb", Summary: "changed: deploy-web, added: backup"}); err != nil {
		t.Fatal(err)
	}
	var mine []githubtest.Comment
	for _, c := range fake.Comments("o/ops", 4) {
		if c.Author == "dayops[bot]" {
			mine = append(mine, c)
		} else if c.Body != "<!-- dayops:validate --> mine" {
			t.Errorf("someone else's comment was changed to %q", c.Body)
		}
	}
	if len(mine) != 1 || len(mine[0].Edits) != 1 {
		t.Fatalf("dayops's comments %+v: want one, edited once", mine)
	}
	if !strings.Contains(mine[0].Edits[0], "1 problem") || !strings.Contains(mine[0].Body, "added: backup") || !strings.Contains(mine[0].Body, "Every definition loads") {
		t.Errorf("comment before:\n%s\nafter:\n%s", mine[0].Edits[0], mine[0].Body)
	}
	crs := fake.CheckRuns("o/ops")
	if len(crs) != 2 || crs[0].Conclusion != "failure" || crs[1].Conclusion != "success" || crs[1].HeadSHA != old {
		t.Errorf("check runs %+v: want a failure on the first head and a success on the second", crs)
	}
}

func TestPublishValidationRefusesAnIncompletePR(t *testing.T) {
	fake := githubtest.New(t)
	err := newDoor(t, fake).PublishValidation(context.Background(), dayops.PullRequest{Repo: "o/ops", Number: 4}, github.Validation{})
	if dayops.KindOf(err) != dayops.KindInvalid || len(fake.Calls()) != 0 {
		t.Errorf("no head: %v after %d calls; want invalid and no call", err, len(fake.Calls()))
	}
}

func TestPublishValidationWithoutCheckRuns(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	fake.RefuseNext("POST /repos/o/ops/check-runs", 403, 1, "You must authenticate via a GitHub App.")
	v := github.Validation{Revision: "aaa", Problems: []github.Problem{
		{Path: "day1/deploy-web.yaml", Line: 7, Message: "steps: at least one step is required"},
		{Path: "day2/backup.yaml", Line: 3, Message: "phase: write day0, day1 or day2"},
	}}
	if err := d.PublishValidation(context.Background(), opsPR, v); err != nil {
		t.Fatal(err)
	}
	sts := fake.Statuses("o/ops", head)
	if len(sts) != 1 || sts[0].Context != github.ValidateCheck || sts[0].State != "failure" || sts[0].Description != "2 problems in the ops repository" {
		t.Errorf("commit statuses %+v", sts)
	}
	cs := fake.Comments("o/ops", 4)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "`day1/deploy-web.yaml` line 7: steps: at least one step is required") || !strings.Contains(cs[0].Body, "`day2/backup.yaml` line 3") {
		t.Errorf("comments %+v: want the problems listed", cs)
	}
}
