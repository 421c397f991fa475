package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

// prCatalog has deploy-web with three pull_request triggers (merged into
// main or release/* → staging; labeled deploy-prod → production; a second
// merged trigger for the same environment that must not start a second run)
// and preview, opened with the label preview.
func prCatalog(t *testing.T) *dayops.Catalog {
	t.Helper()
	src := dayops.Source{File: "ops/x.yaml", Revision: "0123456789abcdef0123", Content: []byte("x")}
	step := []dayops.Step{{Name: "Do", Kind: dayops.StepKindRun, Run: "true"}}
	version := []dayops.EnvVar{{Name: "version", Value: "${{ pr.head_sha }}"}}
	defs := []*dayops.Definition{
		{Phase: dayops.Day1, Name: "deploy-web", Service: "web", Steps: step, Source: src,
			Environments: []dayops.Environment{{Name: "staging", URL: "https://web.staging.example.com"}, {Name: "production"}},
			Params:       []dayops.Param{{Name: "version", Type: dayops.ParamString, Required: true}, {Name: "note", Type: dayops.ParamString}},
			Triggers: dayops.Triggers{PullRequest: []dayops.PullRequestTrigger{
				{Repo: "org/web", On: dayops.PRMerged, Branches: []string{"main", "release/*"}, Environment: "staging",
					Params: []dayops.EnvVar{{Name: "version", Value: "${{ pr.head_sha }}"}, {Name: "note", Value: "#${{ pr.number }} by ${{ pr.author }} to ${{ env }}"}}},
				{Repo: "org/web", On: dayops.PRLabeled, Labels: []string{"deploy-prod"}, Environment: "production", Params: version},
				{Repo: "org/web", On: dayops.PRMerged, Environment: "staging", Params: version},
			}}},
		{Phase: dayops.Day1, Name: "preview", Service: "preview", Steps: step, Source: src,
			Environments: []dayops.Environment{{Name: "staging"}},
			Triggers: dayops.Triggers{PullRequest: []dayops.PullRequestTrigger{
				{Repo: "org/web", On: dayops.PROpened, Labels: []string{"preview", "safe"}, Environment: "staging"},
			}}},
	}
	cat, err := dayops.NewCatalog("0123456789abcdef0123", defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func merged(base string) dayops.PullRequest {
	return dayops.PullRequest{Repo: "org/web", Number: 12, Action: dayops.PRMerged, Title: "Faster pages", Author: "octocat",
		URL: "https://github.com/org/web/pull/12", HeadSHA: "abc123", HeadRef: "faster", BaseRef: base, MergeSHA: "def456"}
}

func TestMatchPullRequest(t *testing.T) {
	cat := prCatalog(t)
	with := func(pr dayops.PullRequest, f func(*dayops.PullRequest)) dayops.PullRequest { f(&pr); return pr }
	for _, tc := range []struct {
		name string
		pr   dayops.PullRequest
		want []string // definition:env params
	}{
		{"merged into main", merged("main"), []string{"deploy-web:staging note=#12 by octocat to staging version=abc123"}},
		{"merged into a release branch", merged("release/1.2"), []string{"deploy-web:staging note=#12 by octocat to staging version=abc123"}},
		{"a glob does not cross /", merged("release/1.2/hotfix"), []string{"deploy-web:staging version=abc123"}},
		{"repository names in any case", with(merged("main"), func(p *dayops.PullRequest) { p.Repo = "Org/Web" }),
			[]string{"deploy-web:staging note=#12 by octocat to staging version=abc123"}},
		{"another repository", with(merged("main"), func(p *dayops.PullRequest) { p.Repo = "org/api" }), nil},
		{"closed without merging", with(merged("main"), func(p *dayops.PullRequest) { p.Action = dayops.PRClosed }), nil},
		{"opened with all the labels", with(merged("main"), func(p *dayops.PullRequest) {
			p.Action, p.Labels = dayops.PROpened, []string{"safe", "preview", "x"}
		}), []string{"preview:staging "}},
		{"opened with one of two labels", with(merged("main"), func(p *dayops.PullRequest) {
			p.Action, p.Labels = dayops.PROpened, []string{"preview"}
		}), nil},
		{"the label added", with(merged("main"), func(p *dayops.PullRequest) {
			p.Action, p.Labels, p.Label = dayops.PRLabeled, []string{"deploy-prod", "x"}, "deploy-prod"
		}), []string{"deploy-web:production version=abc123"}},
		{"labels in another case", with(merged("main"), func(p *dayops.PullRequest) {
			p.Action, p.Labels, p.Label = dayops.PRLabeled, []string{"Deploy-Prod"}, "Deploy-Prod"
		}), []string{"deploy-web:production version=abc123"}},
		{"another label added", with(merged("main"), func(p *dayops.PullRequest) {
			p.Action, p.Labels, p.Label = dayops.PRLabeled, []string{"deploy-prod", "x"}, "x"
		}), nil},
		{"synchronize matches no trigger", with(merged("main"), func(p *dayops.PullRequest) { p.Action = dayops.PRSynchronize }), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range bot.MatchPullRequest(cat, tc.pr) {
				got = append(got, m.Definition.Name+":"+m.Environment+" "+dayops.FormatParams(m.Params))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

// prWorld is a bot with a GitHub-like door for pull request threads and a
// chat door for the notify channel.
type prWorld struct {
	*world
	github *bottest.Door
}

var (
	prThread      = dayops.Thread{Door: "github", Channel: "org/web#12", Name: "org/web#12"}
	deploysThread = dayops.Thread{Door: "test", Channel: "C-deploys", Name: "deploys"}
)

func newPRWorld(t *testing.T, tune func(*bot.Options)) *prWorld {
	t.Helper()
	store := &bottest.Store{}
	w := &prWorld{world: &world{engine: &bottest.Engine{Store: store}, store: store,
		cats: &bottest.Catalogs{Cat: prCatalog(t)}, door: &bottest.Door{DoorName: "test"}, bus: dayops.NewBus()},
		github: &bottest.Door{DoorName: "github"}}
	opts := bot.Options{Engine: w.engine, Store: store, Catalogs: w.cats, Policy: bottest.Policy(), Events: w.bus,
		NotifyThread: deploysThread, Now: func() time.Time { return testNow }}
	if tune != nil {
		tune(&opts)
	}
	b, err := bot.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	b.Register(w.door)
	b.Register(w.github)
	w.bot = b
	t.Cleanup(func() { b.Close() })
	return w
}

// TestPullRequestEventStarts: a merged pull request starts its run as
// trigger:pull_request with the PR as context and the trigger's params
// expanded, reported in the pull request and in the notify channel.
func TestPullRequestEventStarts(t *testing.T) {
	w := newPRWorld(t, nil)
	pr := merged("main")
	ids := w.bot.PullRequestEvent(context.Background(), pr, prThread)
	w.bot.Wait()
	if diff := cmp.Diff([]int64{1}, ids); diff != "" {
		t.Fatalf("runs started (-want +got):\n%s", diff)
	}
	want := []dayops.RunRequest{{Definition: "deploy-web", Environment: "staging",
		Params: map[string]string{"version": "abc123", "note": "#12 by octocat to staging"},
		Actor:  dayops.TriggerActor(dayops.TriggerPullRequest), Thread: prThread, Trigger: dayops.TriggerPullRequest, Context: pr.Context()}}
	if diff := cmp.Diff(want, w.engine.Requests()); diff != "" {
		t.Errorf("run requests (-want +got):\n%s", diff)
	}
	for _, d := range []struct {
		door   *bottest.Door
		thread dayops.Thread
	}{{w.github, prThread}, {w.door, deploysThread}} {
		posts := d.door.Posts()
		if len(posts) != 1 || posts[0].Thread != d.thread || posts[0].Msg.Run == nil || !strings.HasPrefix(posts[0].Msg.Run.Title, "Run #1 deploy-web staging") {
			t.Errorf("door %s: posts %+v, want the run's message in %v", d.door.Name(), posts, d.thread)
		} else if got := posts[0].Msg.Run.EnvironmentURL; got != "https://web.staging.example.com" {
			t.Errorf("door %s: the run's environment URL %q", d.door.Name(), got)
		}
	}
	audits := w.store.Audits()
	if len(audits) != 1 || !audits[0].Allowed || audits[0].Actor != "trigger:pull_request" || audits[0].Trigger != dayops.TriggerPullRequest {
		t.Errorf("audit rows %+v", audits)
	}

	// A closed, unmerged one starts nothing and says nothing.
	pr.Action = dayops.PRClosed
	if ids := w.bot.PullRequestEvent(context.Background(), pr, prThread); ids != nil {
		t.Errorf("closed pull request started %v", ids)
	}
	w.bot.Wait()
	if n := len(w.engine.Requests()); n != 1 {
		t.Errorf("%d requests after a closed pull request, want 1", n)
	}
}

// TestPullRequestEventRefused: a trigger whose environment no role lets
// trigger:pull_request run is refused, audited and answered in the PR.
func TestPullRequestEventRefused(t *testing.T) {
	w := newPRWorld(t, nil)
	pr := merged("main")
	pr.Action, pr.Labels, pr.Label = dayops.PRLabeled, []string{"deploy-prod"}, "deploy-prod"
	if ids := w.bot.PullRequestEvent(context.Background(), pr, prThread); len(ids) != 0 {
		t.Fatalf("started %v", ids)
	}
	w.bot.Wait()
	if calls := w.engine.Calls(); len(calls) != 0 {
		t.Errorf("engine calls %q", calls)
	}
	if got := w.github.Transcript(); !strings.Contains(got, "not allowed: pull_request trigger (trigger:pull_request) has no role that allows run day1:deploy-web:production") {
		t.Errorf("PR thread got %q", got)
	}
	if audits := w.store.Audits(); len(audits) != 1 || audits[0].Allowed || audits[0].Target != "day1:deploy-web:production" {
		t.Errorf("audit rows %+v", audits)
	}
}

// TestPullRequestEventForks: a fork's pull request starts nothing (and is
// audited as refused) unless forks are allowed; then its run gets no
// secrets.
func TestPullRequestEventForks(t *testing.T) {
	pr := merged("main")
	pr.Fork = true
	w := newPRWorld(t, nil)
	if ids := w.bot.PullRequestEvent(context.Background(), pr, prThread); len(ids) != 0 {
		t.Fatalf("a fork started %v", ids)
	}
	w.bot.Wait()
	if calls := w.engine.Calls(); len(calls) != 0 {
		t.Errorf("engine calls %q", calls)
	}
	audits := w.store.Audits()
	if len(audits) != 1 || audits[0].Allowed || !strings.Contains(audits[0].Reason, "org/web#12 comes from a fork: forks trigger nothing unless github.allow_forks is set") {
		t.Errorf("audit rows %+v", audits)
	}

	w = newPRWorld(t, func(o *bot.Options) { o.AllowForks = true })
	if ids := w.bot.PullRequestEvent(context.Background(), pr, prThread); len(ids) != 1 {
		t.Fatalf("an allowed fork started %v", ids)
	}
	w.bot.Wait()
	if reqs := w.engine.Requests(); len(reqs) != 1 || !reqs[0].NoSecrets {
		t.Errorf("requests %+v, want one without secrets", reqs)
	}
}

// TestPullRequestEventSupersedes: a newer merge supersedes the older
// pull-request-triggered runs of the same definition and environment that
// are still queued — not runs of another environment, nor ones a person
// started — and a queued run's message says what it is queued behind, in
// the pull request and in the notify channel.
func TestPullRequestEventSupersedes(t *testing.T) {
	w := newPRWorld(t, nil)
	prTrig := dayops.TriggerActor(dayops.TriggerPullRequest)
	older := dayops.Thread{Door: "github", Channel: "org/web#11", Name: "org/web#11"}
	for _, r := range []*dayops.Run{
		{Definition: "deploy-web", Environment: "staging", State: dayops.RunRunning, Trigger: dayops.TriggerPullRequest, Actor: prTrig, Thread: older},
		{Definition: "deploy-web", Environment: "staging", State: dayops.RunQueued, Trigger: dayops.TriggerPullRequest, Actor: prTrig, Thread: older},
		{Definition: "deploy-web", Environment: "production", State: dayops.RunQueued, Trigger: dayops.TriggerPullRequest, Actor: prTrig, Thread: older},
		{Definition: "deploy-web", Environment: "staging", State: dayops.RunQueued, Trigger: dayops.TriggerChat, Actor: alice, Thread: here},
	} {
		w.store.Add(r)
	}
	ids := w.bot.PullRequestEvent(context.Background(), merged("main"), prThread)
	if diff := cmp.Diff([]int64{5}, ids); diff != "" {
		t.Fatalf("runs started (-want +got):\n%s", diff)
	}
	want := []string{"start deploy-web staging", "supersede 2 trigger:pull_request superseded by run 5 (PR org/web#12)"}
	if diff := cmp.Diff(want, w.engine.Calls()); diff != "" {
		t.Errorf("engine calls (-want +got):\n%s", diff)
	}
	for id, state := range map[int64]dayops.RunState{1: dayops.RunRunning, 2: dayops.RunCancelled, 3: dayops.RunQueued, 4: dayops.RunQueued} {
		if r, _ := w.store.Run(context.Background(), id); r.State != state {
			t.Errorf("run %d is %s, want %s", id, r.State, state)
		}
	}

	const behind = "queued behind run 1 (deploy-web, running), which holds the concurrency key deploy-web-staging"
	r := w.store.Update(5, func(r *dayops.Run) { r.State, r.Reason = dayops.RunQueued, behind })
	w.bus.Publish(dayops.RunEvent{Kind: dayops.EventState, Run: r})
	w.bot.Wait()
	for _, d := range []*bottest.Door{w.github, w.door} {
		ups := d.Updates()
		if len(ups) == 0 || ups[len(ups)-1].Msg.Run == nil || ups[len(ups)-1].Msg.Run.Note != behind {
			t.Errorf("door %s: the run's message does not say %q: %+v", d.Name(), behind, ups)
		}
	}
}

// TestRetryKeepsNoSecrets: retrying a failed run that got no secrets (a
// fork's pull request) asks for a run without secrets again.
func TestRetryKeepsNoSecrets(t *testing.T) {
	for _, noSecrets := range []bool{false, true} {
		w := newPRWorld(t, nil)
		ctx := map[string]string{"pr.number": "12"}
		if noSecrets {
			ctx[dayops.ContextNoSecrets] = "true"
		}
		w.store.Add(&dayops.Run{Definition: "deploy-web", Environment: "staging", Phase: dayops.Day1, State: dayops.RunFailed,
			Params: map[string]string{"version": "abc123"}, Trigger: dayops.TriggerPullRequest, Context: ctx, Thread: prThread})
		w.bot.HandleClick(context.Background(), bot.Click{Actor: alice, Thread: here, Action: bot.ActionRetry, Value: "1"})
		w.bot.Wait()
		reqs := w.engine.Requests()
		if len(reqs) != 1 || reqs[0].NoSecrets != noSecrets {
			t.Errorf("retry of a run with no_secrets=%v: requests %+v", noSecrets, reqs)
		}
	}
}
