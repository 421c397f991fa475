package bot_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

// readinessDoor is a GitHub-like door that says what its pull requests'
// reviews and checks are, or fails.
type readinessDoor struct {
	*bottest.Door
	mu    sync.Mutex
	ready bot.PRReadiness
	err   error
	asked []string
}

func (d *readinessDoor) Readiness(ctx context.Context, repo string, number int) (bot.PRReadiness, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, repo)
	return d.ready, d.err
}

func (d *readinessDoor) set(r bot.PRReadiness, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ready, d.err = r, err
}

// prPolicy lets the PR trigger deploy anywhere and has people on GitHub.
func prPolicy() dayops.Policy {
	return dayops.Policy{Roles: []dayops.Role{
		{Name: "sre", Members: []string{"github:octocat", "github:hubot"}, Allow: []string{"*"}},
		{Name: "automation", Members: []string{"trigger:pull_request"}, Allow: []string{"day1:*"}},
	}}
}

// TestPRRequirements: a run from a pull request into an environment that
// requires a review and passed checks starts only when the door says so,
// and otherwise is refused saying exactly what is missing, or that GitHub
// could not say; every decision is audited. An environment without
// requirements, and a run that is not from a pull request, ask nothing.
func TestPRRequirements(t *testing.T) {
	store := &bottest.Store{}
	engine := &bottest.Engine{Store: store}
	door := &readinessDoor{Door: &bottest.Door{DoorName: "github"}}
	b, err := bot.New(bot.Options{Engine: engine, Store: store, Catalogs: &bottest.Catalogs{Cat: prCatalog(t)}, Policy: prPolicy(),
		PRRequirements: map[string]bot.PRRequirement{"production": {Review: true, Checks: true}},
		Now:            func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	b.Register(door)
	t.Cleanup(func() { b.Close() })
	pr := merged("main")
	pr.Action, pr.Labels, pr.Label = dayops.PRLabeled, []string{"deploy-prod"}, "deploy-prod"

	for _, tc := range []struct {
		name    string
		ready   bot.PRReadiness
		err     error
		started bool
		say     string
	}{
		{"nothing yet", bot.PRReadiness{HeadSHA: "abc123", Checks: []bot.CheckState{{Name: "ci/test"}, {Name: "ci/lint", Passed: true}}}, nil, false,
			"not allowed: org/web#12 in production: needs an approving review by someone other than octocat; required check ci/test has not passed"},
		{"the author's own review does not count", bot.PRReadiness{HeadSHA: "abc123", Approvers: []string{"OctoCat"}}, nil, false,
			"not allowed: org/web#12 in production: needs an approving review by someone other than octocat"},
		{"the head moved", bot.PRReadiness{HeadSHA: "fff999", Approvers: []string{"hubot"}}, nil, false,
			"not allowed: org/web#12 in production: its head moved to fff999 since this run was asked for at abc123: ask again for the new commit"},
		{"GitHub cannot say", bot.PRReadiness{}, errors.New("GET /repos/org/web/pulls/12/reviews: 502 Bad Gateway"), false,
			"not allowed: production needs org/web#12 to be reviewed and its checks passed, and github could not say: it did not answer (logged at 2025-03-01T12:05:00Z); try again"},
		{"reviewed and green", bot.PRReadiness{HeadSHA: "abc123", Approvers: []string{"hubot"}, Checks: []bot.CheckState{{Name: "ci/test", Passed: true}}}, nil, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			door.set(tc.ready, tc.err)
			before := len(engine.Requests())
			ids := b.PullRequestEvent(context.Background(), pr, prThread)
			b.Wait()
			if started := len(engine.Requests()) > before; started != tc.started || (len(ids) == 1) != tc.started {
				t.Fatalf("started %v (ids %v), want %v:\n%s", started, ids, tc.started, door.Transcript())
			}
			audits := store.Audits()
			last := audits[len(audits)-1]
			if last.Allowed != tc.started || last.Actor != "trigger:pull_request" || last.Target != "day1:deploy-web:production" {
				t.Errorf("last audit row %+v", last)
			}
			if tc.say != "" {
				posts := door.Posts()
				if got := posts[len(posts)-1].Msg.Text; got != tc.say {
					t.Errorf("said %q\nwant %q", got, tc.say)
				}
			} else if !strings.Contains(last.Reason, "org/web#12 meets what production needs; approved by hubot; required checks passed: ci/test") {
				t.Errorf("allowed audit reason %q", last.Reason)
			}
		})
	}

	// Staging requires nothing: the door is not asked.
	door.mu.Lock()
	door.asked = nil
	door.mu.Unlock()
	if ids := b.PullRequestEvent(context.Background(), merged("main"), prThread); len(ids) != 1 {
		t.Errorf("staging deploy started %v", ids)
	}
	if len(door.asked) != 0 {
		t.Errorf("the door was asked about a staging deploy: %v", door.asked)
	}
}

// TestPRRequirementsNoDoor: with no door that reads pull requests in the
// run's thread, a run that needs a review is refused.
func TestPRRequirementsNoDoor(t *testing.T) {
	w := newPRWorld(t, func(o *bot.Options) {
		o.Policy = prPolicy()
		o.PRRequirements = map[string]bot.PRRequirement{"production": {Checks: true}}
	})
	pr := merged("main")
	pr.Action, pr.Labels, pr.Label = dayops.PRLabeled, []string{"deploy-prod"}, "deploy-prod"
	if ids := w.bot.PullRequestEvent(context.Background(), pr, prThread); len(ids) != 0 {
		t.Fatalf("started %v", ids)
	}
	w.bot.Wait()
	want := "not allowed: production needs org/web#12 to be reviewed and its checks passed, and dayops cannot ask github about it: no door here reads pull requests"
	if got := w.github.Transcript(); !strings.Contains(got, want) {
		t.Errorf("said %q, want %q", got, want)
	}
}

// TestPRAuthorCannotApprove: the pull request's author typing approve for
// its deploy is refused with a clear answer; nothing reaches the engine.
func TestPRAuthorCannotApprove(t *testing.T) {
	w := newPRWorld(t, func(o *bot.Options) { o.Policy = prPolicy() })
	pr := merged("main")
	w.store.Add(&dayops.Run{Definition: "deploy-web", Environment: "production", Phase: dayops.Day1, State: dayops.RunAwaitingApproval,
		Actor: dayops.TriggerActor(dayops.TriggerPullRequest), Trigger: dayops.TriggerPullRequest, Context: pr.Context(), Thread: prThread})
	w.bot.Submit(context.Background(), bot.Submission{Actor: dayops.Actor{ID: "github:octocat", Name: "octocat"}, Thread: prThread,
		Trigger: dayops.TriggerPRComment, Context: pr.Context(), Text: "approve 1"})
	w.bot.Wait()
	want := "not allowed: octocat wrote pull request org/web#12, which run 1 deploys, and cannot approve it: someone else must"
	if got := w.github.Transcript(); !strings.Contains(got, want) {
		t.Errorf("said %q, want %q", got, want)
	}
	if calls := w.engine.Calls(); len(calls) != 0 {
		t.Errorf("engine calls %q", calls)
	}
}
