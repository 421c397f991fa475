package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	ghdoor "github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
	"github.com/dayops/dayops/internal/testkit/fixtures"
	"github.com/dayops/dayops/internal/testkit/gitserver"
	"github.com/dayops/dayops/storage"
)

const testWebhookSecret = "webhook-secret-for-tests"

// deployWebFromPRs deploys web to staging when a pull request of
// Codertocat/Hello-World merges into master, at the PR's head.
const deployWebFromPRs = `apiVersion: dayops/v1
phase: day1
name: deploy-web
service: web
environments: {staging: {}, production: {approvals: {count: 1, from: [sre]}}}
params:
  version: {type: string, description: Commit to deploy, pattern: '^[0-9a-f]{7,40}$', required: true}
steps:
  - name: Install
    run: echo "installing $DAYOPS_PARAM_VERSION"
triggers:
  pull_request:
    - {repo: Codertocat/Hello-World, on: merged, branches: [master], environment: staging, params: {version: '${{ pr.head_sha }}'}}
`

// githubRoles: the commenter of the comment fixture may deploy to staging,
// as may merged pull requests.
const githubRoles = `  devs: {members: ["github:runatlantis"], allow: ["day1:*:staging", "read"]}
  robots: {members: ["trigger:pull_request"], allow: ["day1:*:staging"]}
`

type githubServeWorld struct {
	fake *githubtest.Server
	file string
	env  []string
}

func newGitHubServeWorld(t *testing.T) *githubServeWorld {
	t.Helper()
	gs := gitserver.New(t)
	gs.Commit("defs", map[string]string{"ops/deploy-web.yaml": deployWebFromPRs})
	fake := githubtest.New(t)
	return &githubServeWorld{
		fake: fake,
		file: serveConfig(t, gs.URL(), "30s") + "base_url: https://dayops.example.com\n" +
			"github: {repos: {runatlantis/atlantis-tests: {service: web}, Codertocat/Hello-World: {service: web}}}\nroles:\n" + githubRoles,
		env: []string{"DAYOPS_GITHUB_TOKEN", "ghp_test_token", "DAYOPS_GITHUB_WEBHOOK_SECRET", testWebhookSecret,
			"DAYOPS_GITHUB_API_URL", fake.URL},
	}
}

func (w *githubServeWorld) start(t *testing.T) *servedDayops {
	t.Helper()
	d := startServe(t, w.file, w.env...)
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, d.url+"/readyz"); return code == http.StatusOK })
	return d
}

// webhook sends m as GitHub does: signed, with its event and delivery.
func webhook(t *testing.T, url, event, delivery string, m map[string]any) int {
	t.Helper()
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url+"/github/webhook", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", ghdoor.Signature(testWebhookSecret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func runsOf(t *testing.T, d *servedDayops) []*dayops.Run {
	t.Helper()
	runs, err := d.srv.store.Runs(context.Background(), dayops.RunFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// commentOnPR is the PR comment fixture with body, by runatlantis on
// runatlantis/atlantis-tests#1, whose comment exists on the fake.
func (w *githubServeWorld) commentOnPR(t *testing.T, body string) map[string]any {
	m := fixtures.JSON(t, "github", "issue_comment_created_on_pr.json")
	id := w.fake.AddComment("runatlantis/atlantis-tests", 1, "runatlantis", body)
	fixtures.Set(m, "comment.body", body)
	fixtures.Set(m, "comment.id", id)
	return m
}

// TestServeGitHubEndToEnd: through dayops serve with a fake GitHub — a
// merged pull request deploys and keeps GitHub's record (deployment
// statuses, check run, one comment edited in place); "/ops deploy staging"
// in a comment deploys the PR's head, answered by one comment edited in
// place; a closed, unmerged pull request starts nothing; a comment on a
// fork's pull request is refused; the same delivery sent 50 times at once
// starts one run.
func TestServeGitHubEndToEnd(t *testing.T) {
	w := newGitHubServeWorld(t)
	d := w.start(t)

	// Merged: deploy-web to staging at the head, as trigger:pull_request.
	merged := fixtures.JSON(t, "github", "pull_request_closed.json")
	fixtures.Set(merged, "pull_request.merged", true)
	fixtures.Set(merged, "pull_request.merged_at", "2019-05-15T15:20:33Z")
	if code := webhook(t, d.url, "pull_request", "merged-1", merged); code != http.StatusAccepted {
		t.Fatalf("merged PR: %d", code)
	}
	var run *dayops.Run
	eventually(t, 30*time.Second, "the merge's deploy to end", func() bool {
		runs := runsOf(t, d)
		if len(runs) == 1 && runs[0].State.Final() {
			run = runs[0]
		}
		return run != nil
	})
	if run.State != dayops.RunSucceeded || run.Trigger != dayops.TriggerPullRequest || run.Actor.ID != "trigger:pull_request" ||
		run.Params["version"] != "ec26c3e57ca3a959ca5aad62de7213c562f8c821" || run.Environment != "staging" {
		t.Fatalf("merge deploy: %+v", run)
	}
	if got := run.Context[dayops.ContextPRMergedAt]; got != "2019-05-15T15:20:33Z" {
		t.Errorf("merge deploy: %s = %q, want the merge time (lead time for changes starts there)", dayops.ContextPRMergedAt, got)
	}
	repo := "Codertocat/Hello-World"
	eventually(t, 30*time.Second, "the deployment to show success", func() bool {
		deps := w.fake.Deployments(repo)
		return len(deps) == 1 && deps[0].State() == "success"
	})
	dep := w.fake.Deployments(repo)[0]
	var states []string
	for _, s := range dep.Statuses {
		states = append(states, s.State)
	}
	// The statuses follow the run in order; how many of queued and
	// in_progress GitHub sees depends on how fast the run goes.
	order := map[string]int{"queued": 0, "in_progress": 1, "success": 2}
	for i := 1; i < len(states); i++ {
		if order[states[i]] < order[states[i-1]] {
			t.Errorf("statuses out of order: %v", states)
		}
	}
	if dep.Environment != "staging" || dep.Ref == "" || len(states) == 0 {
		t.Errorf("deployment %+v, statuses %v", dep, states)
	}
	if lu := dep.Statuses[len(dep.Statuses)-1].LogURL; !strings.Contains(lu, fmt.Sprintf("/runs/%d", run.ID)) {
		t.Errorf("log_url %q, want the run page", lu)
	}
	eventually(t, 30*time.Second, "the PR comment to show the end", func() bool {
		cs := w.fake.Comments(repo, 2)
		return len(cs) == 1 && strings.Contains(cs[0].Body, "succeeded")
	})
	if c := w.fake.Comments(repo, 2)[0]; c.Author != w.fake.Login || !strings.Contains(c.Body, fmt.Sprintf("/runs/%d", run.ID)) {
		t.Errorf("PR comment by %s: %s", c.Author, c.Body)
	}
	var checks []string
	for _, cr := range w.fake.CheckRuns(repo) {
		checks = append(checks, cr.Name+" "+cr.Status+" "+cr.Conclusion)
	}
	if len(checks) != 1 || checks[0] != "dayops/deploy-web completed success" {
		t.Errorf("check runs %q", checks)
	}

	// A comment: deploy staging at the PR's head, answered in place.
	w.fake.SetPullRequest(githubtest.PR{Repo: "runatlantis/atlantis-tests", Number: 1, Author: "octocat", HeadSHA: "c0ffee1234567", HeadRef: "feature"})
	if code := webhook(t, d.url, "issue_comment", "comment-1", w.commentOnPR(t, "Ready.\n/ops deploy staging")); code != http.StatusAccepted {
		t.Fatalf("comment: %d", code)
	}
	eventually(t, 30*time.Second, "the comment's deploy to end", func() bool {
		runs := runsOf(t, d)
		return len(runs) == 2 && runs[0].State.Final()
	})
	if r := runsOf(t, d)[0]; r.State != dayops.RunSucceeded || r.Actor.ID != "github:runatlantis" || r.Params["version"] != "c0ffee1234567" || r.Trigger != dayops.TriggerPRComment {
		t.Errorf("comment deploy: %+v", r)
	}
	eventually(t, 30*time.Second, "dayops's comment to show the end", func() bool {
		for _, c := range w.fake.Comments("runatlantis/atlantis-tests", 1) {
			if c.Author == w.fake.Login && strings.Contains(c.Body, "succeeded") {
				return true
			}
		}
		return false
	})
	var ours []githubtest.Comment
	for _, c := range w.fake.Comments("runatlantis/atlantis-tests", 1) {
		switch {
		case c.Author == w.fake.Login:
			ours = append(ours, c)
		case !strings.Contains(strings.Join(c.Reactions, " "), "eyes"):
			t.Errorf("the command's comment has reactions %v, want 👀", c.Reactions)
		}
	}
	if len(ours) != 1 || len(ours[0].Edits) == 0 {
		t.Errorf("dayops's comments %+v, want one, edited in place", ours)
	}

	// Closed without merging: nothing.
	if code := webhook(t, d.url, "pull_request", "closed-1", fixtures.JSON(t, "github", "pull_request_closed.json")); code != http.StatusAccepted {
		t.Fatalf("closed PR: %d", code)
	}
	eventually(t, 30*time.Second, "the closed pull request's delivery processed", func() bool {
		due, err := d.srv.store.DueInbound(context.Background(), ghdoor.Source, time.Now().Add(time.Hour), 0)
		return err == nil && len(due) == 0
	})
	if runs := runsOf(t, d); len(runs) != 2 {
		t.Fatalf("after a closed, unmerged pull request: %d runs, want the 2 before it", len(runs))
	}

	// A fork's pull request: refused, nothing run.
	w.fake.SetPullRequest(githubtest.PR{Repo: "runatlantis/atlantis-tests", Number: 1, Author: "mallory", HeadSHA: "bad5bad5bad5", HeadRepo: "mallory/atlantis-tests"})
	webhook(t, d.url, "issue_comment", "fork-1", w.commentOnPR(t, "/ops deploy staging"))
	eventually(t, 30*time.Second, "the fork's refusal", func() bool {
		for _, c := range w.fake.Comments("runatlantis/atlantis-tests", 1) {
			if c.Author == w.fake.Login && strings.Contains(c.Body, "fork") {
				return true
			}
		}
		return false
	})

	// The same delivery 50 times at once: one run.
	w.fake.SetPullRequest(githubtest.PR{Repo: "runatlantis/atlantis-tests", Number: 1, Author: "octocat", HeadSHA: "abcdef1234567"})
	same := w.commentOnPR(t, "/ops deploy staging")
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Go(func() { codes <- webhook(t, d.url, "issue_comment", "same-delivery", same) })
	}
	wg.Wait()
	close(codes)
	accepted := 0
	for c := range codes {
		if c == http.StatusAccepted {
			accepted++
		} else if c != http.StatusOK {
			t.Errorf("a redelivery answered %d", c)
		}
	}
	eventually(t, 30*time.Second, "the redelivered command's run", func() bool { return len(runsOf(t, d)) == 3 })
	d.srv.bot.Wait()
	time.Sleep(300 * time.Millisecond) // anything still to come from the 49 others would start now
	if n := len(runsOf(t, d)); accepted != 1 || n != 3 {
		t.Errorf("50 copies of one delivery: %d accepted, %d runs in all (want 1 and 3)", accepted, n)
	}
	for _, r := range runsOf(t, d) {
		if r.Params["version"] == "bad5bad5bad5" {
			t.Errorf("the fork's command ran: %+v", r)
		}
	}

	// /metrics counted the GitHub API calls and the webhooks' answers.
	code, metrics := get(t, d.url+"/metrics")
	for _, want := range []string{`dayops_api_requests_total{api="github",outcome="ok"}`, `dayops_http_request_duration_seconds_count{code="202",route="POST /github/webhook"}`} {
		if code != http.StatusOK || !strings.Contains(metrics, want) {
			t.Errorf("/metrics = %d, lacks %q", code, want)
		}
	}
}

// TestServeGitHubDeliveryRunsAfterAKill: a delivery is stored and answered,
// then the process is killed (SIGKILL) before it could run it (GitHub
// answered 502 to its read); the next dayops on the same database runs it.
func TestServeGitHubDeliveryRunsAfterAKill(t *testing.T) {
	w := newGitHubServeWorld(t)
	w.fake.SetPullRequest(githubtest.PR{Repo: "runatlantis/atlantis-tests", Number: 1, Author: "octocat", HeadSHA: "c0ffee1234567"})
	// One attempt fails whole (the client's own retries included); the
	// process is killed during it.
	w.fake.FailNext("GET /repos/runatlantis/atlantis-tests/pulls/1", http.StatusBadGateway, 4)

	path := filepath.Join(t.TempDir(), "dayops.yaml")
	if err := os.WriteFile(path, []byte(w.file), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "serve", "--config", path)
	cmd.Env = append(os.Environ(), asDayops+"=1")
	for i := 0; i+1 < len(w.env); i += 2 {
		cmd.Env = append(cmd.Env, w.env[i]+"="+w.env[i+1])
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- "http://" + m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-addr:
	case <-time.After(time.Minute):
		t.Fatal("no listening line within a minute")
	}
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, url+"/readyz"); return code == http.StatusOK })
	if code := webhook(t, url, "issue_comment", "kill-1", w.commentOnPR(t, "/ops deploy staging")); code != http.StatusAccepted {
		t.Fatalf("comment: %d", code)
	}
	eventually(t, 30*time.Second, "the first process to try GitHub", func() bool {
		return len(w.fake.CallsTo("GET /repos/runatlantis/atlantis-tests/pulls/1")) > 0
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	db := regexp.MustCompile(`database: (\S+)`).FindStringSubmatch(w.file)[1]
	st, err := storage.Open(context.Background(), db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.Runs(context.Background(), dayops.RunFilter{})
	st.Close()
	if err != nil || len(runs) != 0 {
		t.Fatalf("before the restart: runs %+v, %v; want none", runs, err)
	}

	d := startServe(t, w.file, w.env...)
	eventually(t, 60*time.Second, "the stored delivery's run after the restart", func() bool {
		runs := runsOf(t, d)
		return len(runs) == 1 && runs[0].State == dayops.RunSucceeded
	})
	if r := runsOf(t, d)[0]; r.Params["version"] != "c0ffee1234567" || r.Actor.ID != "github:runatlantis" {
		t.Errorf("run after the restart: %+v", r)
	}
}

// TestServeGitHubProductionNeedsAReview: with github.environments asking a
// review and the required checks for production, "/ops deploy production"
// on a pull request without them is refused saying what is missing, and
// nothing runs; once reviewed by someone else and green, it is asked for
// (and waits for its approval gate).
func TestServeGitHubProductionNeedsAReview(t *testing.T) {
	w := newGitHubServeWorld(t)
	w.file = strings.Replace(w.file, "github: {repos:", "github: {environments: {production: {require_review: true, require_checks: true}}, repos:", 1)
	w.file = strings.Replace(w.file, `allow: ["day1:*:staging", "read"]`, `allow: ["day1:*", "read"]`, 1)
	d := w.start(t)
	repo := "runatlantis/atlantis-tests"
	head := "c0ffee1234567"
	w.fake.SetPullRequest(githubtest.PR{Repo: repo, Number: 1, Author: "octocat", HeadSHA: head})
	w.fake.SetRequiredChecks(repo, "main", "ci/test")
	w.fake.SetStatus(repo, head, "ci/test", "failure")

	webhook(t, d.url, "issue_comment", "prod-1", w.commentOnPR(t, "/ops deploy production"))
	var refusal string
	eventually(t, 30*time.Second, "the refusal", func() bool {
		for _, c := range w.fake.Comments(repo, 1) {
			if c.Author == w.fake.Login && strings.Contains(c.Body, "production") {
				refusal = c.Body
				return true
			}
		}
		return false
	})
	for _, want := range []string{"needs an approving review by someone other than octocat", "required check ci/test has not passed"} {
		if !strings.Contains(refusal, want) {
			t.Errorf("refusal %q does not say %q", refusal, want)
		}
	}
	if runs := runsOf(t, d); len(runs) != 0 {
		t.Fatalf("refused, yet runs %+v", runs)
	}

	// The author's own approval does not count; another's does.
	w.fake.AddReview(repo, 1, "octocat", "APPROVED", head)
	w.fake.AddReview(repo, 1, "alice", "APPROVED", head)
	w.fake.SetStatus(repo, head, "ci/test", "success")
	webhook(t, d.url, "issue_comment", "prod-2", w.commentOnPR(t, "/ops deploy production"))
	eventually(t, 30*time.Second, "the reviewed deploy to wait for its approval", func() bool {
		runs := runsOf(t, d)
		return len(runs) == 1 && runs[0].State == dayops.RunAwaitingApproval
	})
}

// TestServeGitHubValidatesOpsRepoPullRequests: a pull request on the ops
// repo with three broken definitions gets a failing dayops/validate check
// with an annotation at each one's file and line, and one comment saying
// what it changes; the serving catalog is not touched.
func TestServeGitHubValidatesOpsRepoPullRequests(t *testing.T) {
	gs := gitserver.New(t)
	gs.Commit("defs", map[string]string{"ops/deploy-web.yaml": deployWebFromPRs})
	fake := githubtest.New(t)
	file := serveConfig(t, gs.URL(), "30s") + "base_url: https://dayops.example.com\n" +
		"github: {ops_repo: acme/runbooks, repos: {Codertocat/Hello-World: {service: web}}}\nroles:\n" + githubRoles
	d := startServe(t, file, "DAYOPS_GITHUB_TOKEN", "ghp_test_token", "DAYOPS_GITHUB_WEBHOOK_SECRET", testWebhookSecret,
		"DAYOPS_GITHUB_API_URL", fake.URL)
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, d.url+"/readyz"); return code == http.StatusOK })
	served := d.srv.syncer.Catalog().Revision()

	broken := "apiVersion: dayops/v1\nphase: day2\nname: %s\nsteps:\n  - name: Step\n    run: echo hi\n    %s\n"
	head := gs.PushPullRequest("refs/pull/7/head", map[string]string{
		"ops/a.yaml":     fmt.Sprintf(broken, "broken-a", "retries: many"),                                      // line 7: not a number
		"ops/b.yaml":     fmt.Sprintf(broken, "broken-b", "colour: blue"),                                       // line 7: unknown key
		"ops/c/c.yaml":   "apiVersion: dayops/v1\nphase: day9\nname: broken-c\nsteps: [{name: S, run: echo}]\n", // line 2: no such phase
		"ops/flush.yaml": "apiVersion: dayops/v1\nphase: day2\nname: flush-cache\nsteps:\n  - name: Flush\n    run: echo flush\n",
	})
	pr := fixtures.JSON(t, "github", "pull_request_opened.json")
	fixtures.Set(pr, "repository.full_name", "acme/runbooks")
	fixtures.Set(pr, "number", 7)
	fixtures.Set(pr, "pull_request.number", 7)
	fixtures.Set(pr, "pull_request.head.sha", head)
	if code := webhook(t, d.url, "pull_request", "ops-pr-1", pr); code != http.StatusAccepted {
		t.Fatalf("ops repo PR: %d", code)
	}
	var check githubtest.CheckRun
	eventually(t, 30*time.Second, "the dayops/validate check", func() bool {
		for _, cr := range fake.CheckRuns("acme/runbooks") {
			if cr.Name == "dayops/validate" && cr.Status == "completed" {
				check = cr
				return true
			}
		}
		return false
	})
	if check.Conclusion != "failure" || check.HeadSHA != head {
		t.Errorf("check %s on %s, want failure on %s", check.Conclusion, check.HeadSHA, head)
	}
	var got []string
	for _, a := range check.Annotations {
		got = append(got, fmt.Sprintf("%s:%d", a.Path, a.StartLine))
	}
	want := []string{"ops/a.yaml:7", "ops/b.yaml:7", "ops/c/c.yaml:2"}
	slices.Sort(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("annotations at %v, want %v (%+v)", got, want, check.Annotations)
	}
	eventually(t, 30*time.Second, "the summary comment", func() bool { return len(fake.Comments("acme/runbooks", 7)) == 1 })
	if c := fake.Comments("acme/runbooks", 7)[0]; !strings.Contains(c.Body, "3 problems") {
		t.Errorf("summary comment: %s", c.Body)
	}
	if d.srv.syncer.Catalog().Revision() != served {
		t.Errorf("the serving catalog moved to %s", d.srv.syncer.Catalog().Revision())
	}

	// Fixed: the check passes and the comment says what the pull request
	// adds to the catalog.
	head2 := gs.PushPullRequest("refs/pull/7/head", map[string]string{
		"ops/a.yaml": fmt.Sprintf(broken, "fixed-a", "retries: 2"), "ops/b.yaml": fmt.Sprintf(broken, "fixed-b", "timeout: 1m"),
		"ops/c/c.yaml": "apiVersion: dayops/v1\nphase: day2\nname: fixed-c\nsteps:\n  - name: S\n    run: echo c\n",
	})
	fixtures.Set(pr, "action", "synchronize")
	fixtures.Set(pr, "pull_request.head.sha", head2)
	webhook(t, d.url, "pull_request", "ops-pr-2", pr)
	eventually(t, 30*time.Second, "the second check to pass", func() bool {
		for _, cr := range fake.CheckRuns("acme/runbooks") {
			if cr.Name == "dayops/validate" && cr.HeadSHA == head2 && cr.Conclusion == "success" {
				return true
			}
		}
		return false
	})
	eventually(t, 30*time.Second, "the one comment to list what is added", func() bool {
		cs := fake.Comments("acme/runbooks", 7)
		if len(cs) == 1 && strings.Contains(cs[0].Body, "3 added") && strings.Contains(cs[0].Body, "fixed-c") {
			return true
		}
		return false
	})
}

// TestServeGitHubDownDoesNotHoldARun: while GitHub answers 503 to every
// comment and deployment call, a merged pull request's deploy runs to its
// end all the same; its comment and deployment arrive once GitHub is back.
func TestServeGitHubDownDoesNotHoldARun(t *testing.T) {
	w := newGitHubServeWorld(t)
	d := w.start(t)
	repo := "Codertocat/Hello-World"
	w.fake.FailNext("/repos/"+repo+"/issues", http.StatusServiceUnavailable, 1000)
	w.fake.FailNext("/repos/"+repo+"/deployments", http.StatusServiceUnavailable, 1000)
	merged := fixtures.JSON(t, "github", "pull_request_closed.json")
	fixtures.Set(merged, "pull_request.merged", true)
	if code := webhook(t, d.url, "pull_request", "merged-down", merged); code != http.StatusAccepted {
		t.Fatalf("merged PR: %d", code)
	}
	eventually(t, 30*time.Second, "the deploy to end while GitHub is down", func() bool {
		runs := runsOf(t, d)
		return len(runs) == 1 && runs[0].State == dayops.RunSucceeded
	})
	eventually(t, 30*time.Second, "dayops to have tried GitHub", func() bool {
		refused := 0
		for _, c := range w.fake.CallsTo("POST /repos/" + repo + "/issues/2/comments") {
			if c.Status == http.StatusServiceUnavailable {
				refused++
			}
		}
		return refused > 0
	})
	if n := len(w.fake.Comments(repo, 2)); n != 0 {
		t.Fatalf("%d comments while GitHub was down", n)
	}
	w.fake.ClearFailures()
	eventually(t, 90*time.Second, "the comment and the deployment once GitHub is back", func() bool {
		cs, deps := w.fake.Comments(repo, 2), w.fake.Deployments(repo)
		return len(cs) == 1 && strings.Contains(cs[0].Body, "succeeded") && len(deps) == 1 && deps[0].State() == "success"
	})
}
