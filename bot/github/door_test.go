package github_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
)

const merge = "2222222222222222222222222222222222222222"

// prThread is the thread of pull request o/app#12.
var prThread = dayops.Thread{Door: "github", Channel: "o/app#12", Name: "o/app#12"}

func newDoor(t *testing.T, fake *githubtest.Server) *github.Door {
	t.Helper()
	d, err := github.NewDoor(github.DoorOptions{
		Client:   newClient(t, fake, nil),
		BotLogin: "dayops[bot]",
		EnvironmentURL: func(run *dayops.Run) string {
			return "https://" + run.Environment + ".example.com"
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// deployRun is run id deploying env from o/app#12, merged.
func deployRun(id int64, env string, state dayops.RunState) *dayops.Run {
	pr := dayops.PullRequest{Repo: "o/app", Number: 12, Author: "alice", HeadSHA: head, HeadRef: "feature", BaseRef: "main", MergeSHA: merge}
	return &dayops.Run{
		ID: id, Definition: "deploy-app", Phase: dayops.Day1, Service: "app", Environment: env,
		State: state, Trigger: dayops.TriggerPullRequest, Context: pr.Context(), Thread: prThread,
	}
}

func runMessage(run *dayops.Run) bot.Message {
	return bot.Message{Run: &bot.RunView{
		ID: run.ID, Title: "Run #" + strconv.FormatInt(run.ID, 10) + " deploy-app " + run.Environment + " — " + bot.StateText(run.State),
		Definition: run.Definition, Environment: run.Environment, State: run.State,
		URL: "https://dayops.example.com/runs/" + strconv.FormatInt(run.ID, 10),
	}}
}

// report reports run through the door in each state, as the bot does.
func report(t *testing.T, d *github.Door, rep *dayops.Report, run *dayops.Run, states ...dayops.RunState) {
	t.Helper()
	for _, st := range states {
		run.State = st
		if err := d.ReportRun(context.Background(), rep, run, runMessage(run)); err != nil {
			t.Fatalf("ReportRun(%s): %v", st, err)
		}
	}
}

func TestReportRunKeepsOneCommentDeploymentAndCheckRun(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	run := deployRun(5, "staging", dayops.RunQueued)
	rep := &dayops.Report{RunID: 5, Thread: prThread}
	report(t, d, rep, run, dayops.RunQueued, dayops.RunRunning, dayops.RunRunning, dayops.RunSucceeded)

	comments := fake.Comments("o/app", 12)
	if len(comments) != 1 || len(comments[0].Edits) != 3 || rep.Thread.Message != strconv.FormatInt(comments[0].ID, 10) {
		t.Fatalf("comments %+v, report's message %q: want one comment edited three times", comments, rep.Thread.Message)
	}
	if !strings.Contains(comments[0].Body, "succeeded") || !strings.Contains(comments[0].Body, "(https://dayops.example.com/runs/5)") {
		t.Errorf("final comment lacks the state or the run link:\n%s", comments[0].Body)
	}
	deps := fake.Deployments("o/app")
	if len(deps) != 1 {
		t.Fatalf("%d deployments, want 1", len(deps))
	}
	dep := deps[0]
	if dep.Ref != merge || dep.Environment != "staging" || dep.Production || dep.Transient {
		t.Errorf("deployment %+v: want the merge commit to staging", dep)
	}
	var states []string
	for _, s := range dep.Statuses {
		states = append(states, s.State)
		if s.LogURL != "https://dayops.example.com/runs/5" || s.EnvironmentURL != "https://staging.example.com" {
			t.Errorf("status %+v: want the run page as log_url and the environment's URL", s)
		}
	}
	if want := []string{"queued", "in_progress", "success"}; !cmp.Equal(states, want) {
		t.Errorf("deployment statuses %q, want %q", states, want)
	}
	crs := fake.CheckRuns("o/app")
	if len(crs) != 1 || crs[0].Name != "dayops/deploy-app" || crs[0].HeadSHA != head || crs[0].Conclusion != "success" || crs[0].Calls != 3 {
		t.Errorf("check runs %+v: want one dayops/deploy-app on the head, success after 3 calls", crs)
	}
	want := map[string]string{
		github.RefDeployment: strconv.FormatInt(dep.ID, 10), github.RefDeploymentRepo: "o/app", github.RefDeploymentState: "success",
		github.RefReplaced: "done", github.RefCheckRun: strconv.FormatInt(crs[0].ID, 10), github.RefCheckRunState: "succeeded",
	}
	if d := cmp.Diff(want, rep.Refs); d != "" {
		t.Errorf("refs (-want +got):\n%s", d)
	}
}

func TestReportRunCreatesTheDeploymentOnceThroughAFailure(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	run := deployRun(5, "staging", dayops.RunRunning)
	rep := &dayops.Report{RunID: 5, Thread: prThread}
	// The deployment is created, then its status fails: 502 past the
	// client's retries.
	fake.FailNext("POST /repos/o/app/deployments/", 502, 4)
	err := d.ReportRun(context.Background(), rep, run, runMessage(run))
	if dayops.KindOf(err) != dayops.KindUnavailable {
		t.Fatalf("ReportRun = %v, want unavailable", err)
	}
	if rep.Refs[github.RefDeployment] == "" || rep.Thread.Message == "" {
		t.Fatalf("refs %v, message %q: the deployment and the comment must be kept though the status failed", rep.Refs, rep.Thread.Message)
	}
	report(t, d, rep, run, dayops.RunRunning, dayops.RunFailed)
	deps := fake.Deployments("o/app")
	if len(deps) != 1 || len(fake.Comments("o/app", 12)) != 1 || len(fake.CheckRuns("o/app")) != 1 {
		t.Fatalf("%d deployments, %d comments, %d check runs after the retry; want one each", len(deps), len(fake.Comments("o/app", 12)), len(fake.CheckRuns("o/app")))
	}
	var states []string
	for _, s := range deps[0].Statuses {
		states = append(states, s.State)
	}
	if want := []string{"in_progress", "failure"}; !cmp.Equal(states, want) {
		t.Errorf("statuses %q, want %q", states, want)
	}
}

func TestReportRunRateLimitedAsksToWait(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	run := deployRun(5, "staging", dayops.RunRunning)
	rep := &dayops.Report{RunID: 5, Thread: prThread}
	fake.LimitNext("POST /repos/o/app/issues/12/comments", 403, 1, 300)
	err := d.ReportRun(context.Background(), rep, run, runMessage(run))
	var ra bot.RetryAfter
	if !errors.As(err, &ra) || ra.RetryAfter() != 300*time.Second {
		t.Fatalf("ReportRun = %v, want a RetryAfter of 5m", err)
	}
	if rep.Refs[github.RefDeployment] == "" || rep.Refs[github.RefCheckRun] == "" {
		t.Errorf("refs %v: the deployment and check run are done though the comment waits", rep.Refs)
	}
}

func TestSuccessMarksTheReplacedDeploymentInactive(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	first := deployRun(1, "production", dayops.RunRunning)
	report(t, d, &dayops.Report{RunID: 1, Thread: prThread}, first, dayops.RunRunning, dayops.RunSucceeded)
	failed := deployRun(2, "production", dayops.RunRunning)
	report(t, d, &dayops.Report{RunID: 2, Thread: prThread}, failed, dayops.RunRunning, dayops.RunFailed)
	other := deployRun(3, "staging", dayops.RunRunning)
	report(t, d, &dayops.Report{RunID: 3, Thread: prThread}, other, dayops.RunSucceeded)
	third := deployRun(4, "production", dayops.RunRunning)
	report(t, d, &dayops.Report{RunID: 4, Thread: prThread}, third, dayops.RunRunning, dayops.RunSucceeded)

	var got []string
	for _, dep := range fake.Deployments("o/app") {
		got = append(got, dep.Environment+":"+dep.State())
		if dep.Environment == "production" && !dep.Production {
			t.Errorf("deployment %d to production not marked production_environment", dep.ID)
		}
	}
	want := []string{"production:inactive", "production:failure", "staging:success", "production:success"}
	if !cmp.Equal(got, want) {
		t.Errorf("deployments %q, want %q", got, want)
	}
}

func TestPreviewEnvironmentsPerPullRequest(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	run := deployRun(1, "preview", dayops.RunRunning)
	report(t, d, &dayops.Report{RunID: 1, Thread: prThread}, run, dayops.RunSucceeded)
	other := deployRun(2, "preview", dayops.RunRunning)
	other.Context = dayops.PullRequest{Repo: "o/app", Number: 120, HeadSHA: head}.Context()
	report(t, d, &dayops.Report{RunID: 2, Thread: dayops.Thread{Door: "github", Channel: "o/app#120"}}, other, dayops.RunSucceeded)

	deps := fake.Deployments("o/app")
	if len(deps) != 2 || deps[0].Environment != "preview-pr-12" || !deps[0].Transient || deps[0].Ref != merge || deps[1].Environment != "preview-pr-120" {
		t.Fatalf("deployments %+v: want preview-pr-12 (transient) and preview-pr-120", deps)
	}
	if err := d.ClosePreview(context.Background(), dayops.PullRequest{Repo: "o/app", Number: 12}); err != nil {
		t.Fatal(err)
	}
	deps = fake.Deployments("o/app")
	if deps[0].State() != "inactive" || deps[1].State() != "success" {
		t.Errorf("after #12 closed: %s %s, %s %s; want only #12's preview inactive", deps[0].Environment, deps[0].State(), deps[1].Environment, deps[1].State())
	}
	before := len(fake.CallsTo("POST "))
	if err := d.ClosePreview(context.Background(), dayops.PullRequest{Repo: "o/app", Number: 12}); err != nil || len(fake.CallsTo("POST ")) != before {
		t.Errorf("closing again: %v, %d new statuses; want none", err, len(fake.CallsTo("POST "))-before)
	}
}

func TestReportRunWithoutAPullRequest(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	// A day2 runbook asked for in a PR comment without pr context: a
	// comment only.
	run := &dayops.Run{ID: 9, Definition: "restart", Phase: dayops.Day2, Environment: "staging", State: dayops.RunSucceeded, Trigger: dayops.TriggerChat, Thread: prThread}
	rep := &dayops.Report{RunID: 9, Thread: prThread}
	if err := d.ReportRun(context.Background(), rep, run, runMessage(run)); err != nil {
		t.Fatal(err)
	}
	if len(fake.Deployments("o/app")) != 0 || len(fake.CheckRuns("o/app")) != 0 || len(fake.Comments("o/app", 12)) != 1 {
		t.Errorf("calls %v: want one comment and nothing else", fake.Calls())
	}
	bad := &dayops.Report{RunID: 9, Thread: dayops.Thread{Door: "github", Channel: "C123"}}
	if err := d.ReportRun(context.Background(), bad, run, runMessage(run)); dayops.KindOf(err) != dayops.KindInvalid {
		t.Errorf("a thread that is no pull request: %v, want invalid", err)
	}
}

func TestCheckRunWithoutARunView(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	run := deployRun(5, "staging", dayops.RunRunning)
	// A message without its run view still makes a check run GitHub takes.
	if err := d.ReportRun(context.Background(), &dayops.Report{RunID: 5, Thread: prThread}, run, bot.Message{Text: "run 5 is running"}); err != nil {
		t.Fatal(err)
	}
	if crs := fake.CheckRuns("o/app"); len(crs) != 1 || crs[0].Summary == "" {
		t.Errorf("check runs %+v", crs)
	}
}

func TestARefusedPartIsGivenUpNotRetried(t *testing.T) {
	tests := []struct {
		name, path, ref string
		status          int
		msg             string
	}{
		{"a token that may not create check runs", "POST /repos/o/app/check-runs", github.RefCheckRunError, 403, "You must authenticate via a GitHub App."},
		{"a ref GitHub does not know", "POST /repos/o/app/deployments", github.RefDeploymentError, 422, "No ref found for: 2222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := githubtest.New(t)
			d := newDoor(t, fake)
			fake.RefuseNext(tt.path, tt.status, 100, tt.msg)
			run := deployRun(5, "staging", dayops.RunRunning)
			rep := &dayops.Report{RunID: 5, Thread: prThread}
			report(t, d, rep, run, dayops.RunRunning, dayops.RunSucceeded)
			if !strings.Contains(rep.Refs[tt.ref], tt.msg) {
				t.Errorf("refs %v: want %s saying %q", rep.Refs, tt.ref, tt.msg)
			}
			if n := len(fake.CallsTo(tt.path)); n != 1 {
				t.Errorf("%d calls to %s, want 1: a refusal is not retried", n, tt.path)
			}
			cs := fake.Comments("o/app", 12)
			if len(cs) != 1 || !strings.Contains(cs[0].Body, "succeeded") {
				t.Errorf("comments %+v: the comment goes on", cs)
			}
		})
	}
}

func TestGitHubSeesOnlyWhatTheBotRedacted(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	run := deployRun(5, "staging", dayops.RunFailed)
	run.Reason = "curl https://user:hunter2@example.com failed"
	m := runMessage(run)
	m.Run.Note = "curl https://user:***@example.com failed" // as the bot's Redactor left it
	if err := d.ReportRun(context.Background(), &dayops.Report{RunID: 5, Thread: prThread}, run, m); err != nil {
		t.Fatal(err)
	}
	for _, c := range fake.Calls() {
		if strings.Contains(c.Body, "hunter2") {
			t.Errorf("%s sent the secret: %s", c, c.Body)
		}
	}
	if deps := fake.Deployments("o/app"); len(deps) != 1 || !strings.Contains(deps[0].Statuses[0].Description, "user:***@") {
		t.Errorf("deployment %+v: want the redacted note as its description", deps)
	}
}

func TestACommitStatusWhenCheckRunsAreRefused(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	// A personal access token: GitHub lets only apps create check runs.
	fake.RefuseNext("POST /repos/o/app/check-runs", 403, 1, "You must authenticate via a GitHub App.")
	run := deployRun(5, "staging", dayops.RunQueued)
	rep := &dayops.Report{RunID: 5, Thread: prThread}
	report(t, d, rep, run, dayops.RunQueued, dayops.RunRunning, dayops.RunRunning, dayops.RunFailed)
	if len(fake.CallsTo("POST /repos/o/app/check-runs")) != 1 || len(fake.CheckRuns("o/app")) != 0 {
		t.Errorf("check runs tried %d times", len(fake.CallsTo("POST /repos/o/app/check-runs")))
	}
	want := []githubtest.Status{{Context: "dayops/deploy-app", State: "failure", Description: "failed: deploy-app staging", TargetURL: "https://dayops.example.com/runs/5"}}
	if d := cmp.Diff(want, fake.Statuses("o/app", head)); d != "" {
		t.Errorf("commit statuses (-want +got):\n%s", d)
	}
	if n := len(fake.CallsTo("POST /repos/o/app/statuses/")); n != 3 {
		t.Errorf("%d statuses set, want 3: queued, running, failed (running again changes nothing)", n)
	}
}
