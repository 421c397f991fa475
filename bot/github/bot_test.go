package github_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
	"github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func deploymentStates(fake *githubtest.Server, repo string) []string {
	var out []string
	for _, d := range fake.Deployments(repo) {
		for _, s := range d.Statuses {
			out = append(out, s.State)
		}
	}
	return out
}

// TestARunReportedThroughTheBot takes a deploy asked for in a PR comment
// through the bot to GitHub: the comment, the deployment and the check run
// follow the run, and a status GitHub refuses for a while is posted when it
// is back, without a second deployment.
func TestARunReportedThroughTheBot(t *testing.T) {
	fake := githubtest.New(t)
	door, err := github.NewDoor(github.DoorOptions{Client: newClient(t, fake, nil), BotLogin: "dayops[bot]", UpdateInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	store := &bottest.Store{}
	engine := &bottest.Engine{Store: store}
	bus := dayops.NewBus()
	b, err := bot.New(bot.Options{
		Engine: engine, Store: store, Catalogs: &bottest.Catalogs{Cat: bottest.Catalog(t)}, Policy: bottest.Policy(),
		Events: bus, BaseURL: "https://dayops.example.com", UpdateInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Register(door)
	pr := dayops.PullRequest{Repo: "o/app", Number: 12, Author: "carol", HeadSHA: head, HeadRef: "feature", BaseRef: "main"}
	b.Submit(context.Background(), bot.Submission{
		Actor: bottest.Carol, Thread: prThread, Trigger: dayops.TriggerPRComment, Context: pr.Context(), Text: "deploy web staging v1.2.0",
	})
	waitFor(t, "the queued deployment", func() bool { return slices.Equal(deploymentStates(fake, "o/app"), []string{"queued"}) })

	fake.FailNext("POST /repos/o/app/deployments/", 502, 4) // past the client's retries
	move := func(state dayops.RunState) {
		r := store.Update(1, func(r *dayops.Run) { r.State = state })
		bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: r})
	}
	move(dayops.RunRunning)
	waitFor(t, "the status once GitHub is back", func() bool {
		return slices.Equal(deploymentStates(fake, "o/app"), []string{"queued", "in_progress"})
	})
	move(dayops.RunSucceeded)
	waitFor(t, "the success", func() bool {
		return slices.Equal(deploymentStates(fake, "o/app"), []string{"queued", "in_progress", "success"})
	})
	b.Wait()

	deps, comments, checks := fake.Deployments("o/app"), fake.Comments("o/app", 12), fake.CheckRuns("o/app")
	if len(deps) != 1 || len(comments) != 1 || len(checks) != 1 {
		t.Fatalf("%d deployments, %d comments, %d check runs; want one each; comments %+v", len(deps), len(comments), len(checks), comments)
	}
	if deps[0].Ref != head || deps[0].Environment != "staging" || deps[0].Statuses[2].LogURL != "https://dayops.example.com/runs/1" {
		t.Errorf("deployment %+v", deps[0])
	}
	if !strings.Contains(comments[0].Body, "succeeded") || !strings.Contains(comments[0].Body, "https://dayops.example.com/runs/1") {
		t.Errorf("final comment:\n%s", comments[0].Body)
	}
	if checks[0].Name != "dayops/deploy-web" || checks[0].Conclusion != "success" {
		t.Errorf("check run %+v", checks[0])
	}
	reps, err := store.Reports(context.Background(), 1)
	if err != nil || len(reps) != 1 {
		t.Fatalf("reports %+v, %v", reps, err)
	}
	if reps[0].Shown != dayops.RunSucceeded || reps[0].Refs[github.RefDeploymentState] != "success" || reps[0].Thread.Message == "" {
		t.Errorf("stored report %+v", reps[0])
	}
	if d := cmp.Diff([]string{"queued", "in_progress", "success"}, deploymentStates(fake, "o/app")); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
}
