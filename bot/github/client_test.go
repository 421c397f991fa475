package github_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
)

func TestNewClientRefusesABadURL(t *testing.T) {
	for _, u := range []string{"api.github.com", "ftp://x/", "://"} {
		_, err := github.NewClient(github.ClientOptions{BaseURL: u})
		if dayops.KindOf(err) != dayops.KindInvalid || !strings.Contains(err.Error(), "github.api_url") {
			t.Errorf("NewClient(%q) = %v, want an invalid github.api_url error", u, err)
		}
	}
}

func TestClientRetriesServerErrors(t *testing.T) {
	tests := []struct {
		name      string
		fail      int // 502s before GitHub answers
		wantCalls int
		wantErr   dayops.Kind
	}{
		{"one 502", 1, 2, ""},
		{"three 502s", 3, 4, ""},
		{"more than the retries", 10, 4, dayops.KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := githubtest.New(t)
			c := newClient(t, fake, nil)
			fake.FailNext("POST /repos/o/r/issues/1/comments", 502, tt.fail)
			_, err := c.CreateComment(context.Background(), "o/r", 1, "hello")
			if got := dayops.KindOf(err); (err == nil) != (tt.wantErr == "") || (err != nil && got != tt.wantErr) {
				t.Fatalf("CreateComment = %v (kind %s), want kind %q", err, got, tt.wantErr)
			}
			if got := len(fake.CallsTo("POST /repos/o/r/issues/1/comments")); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			wantComments := 0
			if tt.wantErr == "" {
				wantComments = 1
			}
			if got := len(fake.Comments("o/r", 1)); got != wantComments {
				t.Errorf("%d comments, want %d", got, wantComments)
			}
		})
	}
}

func TestClientHonoursRateLimits(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(fake *githubtest.Server)
		wantAfter time.Duration // 0: the call succeeds
		wantCalls int
	}{
		{"secondary limit, short wait: waits and succeeds", func(f *githubtest.Server) {
			f.LimitNext("PATCH /repos/o/r/issues/comments/", 403, 1, 1)
		}, 0, 2},
		{"secondary limit, long wait: the bot retries later", func(f *githubtest.Server) {
			f.LimitNext("PATCH /repos/o/r/issues/comments/", 403, 1, 120)
		}, 120 * time.Second, 1},
		{"429, long wait", func(f *githubtest.Server) {
			f.LimitNext("PATCH /repos/o/r/issues/comments/", 429, 1, 90)
		}, 90 * time.Second, 1},
		{"429 without Retry-After", func(f *githubtest.Server) {
			f.LimitNext("PATCH /repos/o/r/issues/comments/", 429, 1, -1)
		}, time.Minute, 1},
		{"primary limit spent for a moment: waits for the reset", func(f *githubtest.Server) {
			f.SpendRateLimit("PATCH /repos/o/r/issues/comments/", 1, time.Now().Add(time.Second))
		}, 0, 2},
		{"primary limit spent for an hour", func(f *githubtest.Server) {
			f.SpendRateLimit("PATCH /repos/o/r/issues/comments/", 1, time.Now().Add(time.Hour))
		}, time.Hour, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := githubtest.New(t)
			c := newClient(t, fake, time.Now)
			id := fake.AddComment("o/r", 1, "dayops[bot]", "before")
			tt.fail(fake)
			began := time.Now()
			err := c.EditComment(context.Background(), "o/r", id, "after")
			calls := len(fake.CallsTo("PATCH /repos/o/r/issues/comments/"))
			if calls != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls, tt.wantCalls)
			}
			if tt.wantAfter == 0 {
				if err != nil {
					t.Fatalf("EditComment = %v, want it done after the wait", err)
				}
				if waited := time.Since(began); waited < 900*time.Millisecond {
					t.Errorf("retried after %s, before GitHub's Retry-After of 1s", waited)
				}
				return
			}
			var ra bot.RetryAfter
			if !errors.As(err, &ra) {
				t.Fatalf("EditComment = %v, want an error with RetryAfter", err)
			}
			if got := ra.RetryAfter(); got < tt.wantAfter-5*time.Second || got > tt.wantAfter+time.Second {
				t.Errorf("RetryAfter %s, want about %s", got, tt.wantAfter)
			}
			if dayops.KindOf(err) != dayops.KindUnavailable {
				t.Errorf("kind %s, want unavailable", dayops.KindOf(err))
			}
			if c, _ := fake.Comment(id); c.Body != "before" {
				t.Errorf("comment edited to %q while rate limited", c.Body)
			}
		})
	}
}

func TestClientWaitsOutASpentLimitWithoutCalling(t *testing.T) {
	fake := githubtest.New(t)
	c := newClient(t, fake, time.Now)
	fake.SpendRateLimit("/repos/o/r/", 1, time.Now().Add(time.Hour))
	if _, err := c.CreateComment(context.Background(), "o/r", 1, "one"); err == nil {
		t.Fatal("the spent limit was not reported")
	}
	_, err := c.CreateComment(context.Background(), "o/r", 1, "two")
	var rl *github.RateLimited
	if !errors.As(err, &rl) || rl.After < 59*time.Minute {
		t.Fatalf("second call = %v, want RateLimited for about an hour", err)
	}
	if got := len(fake.Calls()); got != 1 {
		t.Errorf("%d calls reached GitHub, want 1: the second must wait for the reset", got)
	}
}

func TestClientExplainsRefusals(t *testing.T) {
	fake := githubtest.New(t)
	fake.RequireToken("right")
	c, err := github.NewClient(github.ClientOptions{BaseURL: fake.URL, Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateComment(context.Background(), "o/r", 1, "x")
	if dayops.KindOf(err) != dayops.KindForbidden || !strings.Contains(err.Error(), "DAYOPS_GITHUB_TOKEN") {
		t.Errorf("wrong token: %v, want forbidden naming DAYOPS_GITHUB_TOKEN", err)
	}
	good, _ := github.NewClient(github.ClientOptions{BaseURL: fake.URL, Token: "right"})
	if _, err := good.CreateComment(context.Background(), "o/r", 1, "x"); err != nil {
		t.Errorf("right token: %v", err)
	}
	if err := good.EditComment(context.Background(), "o/r", 999999, "x"); dayops.KindOf(err) != dayops.KindNotFound {
		t.Errorf("edit of a missing comment: %v, want not found", err)
	}
	if err := good.React(context.Background(), "o/r", 1, "eyes"); dayops.KindOf(err) != dayops.KindNotFound {
		t.Errorf("reaction to a missing comment: %v, want not found", err)
	}
	if _, err := good.CreateComment(context.Background(), "not-a-repo", 1, "x"); dayops.KindOf(err) != dayops.KindInvalid || !strings.Contains(err.Error(), "owner/name") {
		t.Errorf("bad repo: %v, want invalid saying owner/name", err)
	}
}

func TestLogin(t *testing.T) {
	fake := githubtest.New(t)
	fake.Login = "ops-machine"
	if got, err := newClient(t, fake, nil).Login(context.Background()); got != "ops-machine" || err != nil {
		t.Errorf("Login = %q, %v", got, err)
	}
}

func TestReactAndFindComment(t *testing.T) {
	fake := githubtest.New(t)
	c := newClient(t, fake, nil)
	ctx := context.Background()
	asked := fake.AddComment("o/r", 3, "alice", "/ops deploy staging")
	if err := c.React(ctx, "o/r", asked, "eyes"); err != nil {
		t.Fatal(err)
	}
	if got, _ := fake.Comment(asked); !cmp.Equal(got.Reactions, []string{"eyes"}) {
		t.Errorf("reactions %v", got.Reactions)
	}
	// A marker in someone else's comment is not dayops's summary.
	fake.AddComment("o/r", 3, "mallory", "<!-- dayops:validate --> fake")
	for i := range 120 { // past the first page
		fake.AddComment("o/r", 3, "bob", "comment "+string(rune('a'+i%26)))
	}
	mine := fake.AddComment("o/r", 3, "dayops[bot]", "<!-- dayops:validate -->\nsummary")
	id, err := c.FindComment(ctx, "o/r", 3, "dayops[bot]", "<!-- dayops:validate -->")
	if err != nil || id != mine {
		t.Errorf("FindComment = %d, %v; want %d", id, err, mine)
	}
	if id, err := c.FindComment(ctx, "o/r", 4, "dayops[bot]", "<!-- dayops:validate -->"); id != 0 || err != nil {
		t.Errorf("FindComment on a PR without it = %d, %v", id, err)
	}
}

func TestPullRequestFromTheFixture(t *testing.T) {
	opened := fixture(t, "pull_request_opened.json")["pull_request"]
	closed := fixture(t, "pull_request_closed.json")["pull_request"]
	tests := []struct {
		name string
		raw  []byte
		want dayops.PullRequest
	}{
		{"opened", opened, dayops.PullRequest{Action: dayops.PROpened}},
		{"closed, not merged", closed, dayops.PullRequest{Action: dayops.PRClosed}},
		{"merged", withField(t, withField(t, closed, "merged", true), "merged_at", "2019-05-15T15:20:33Z"),
			dayops.PullRequest{Action: dayops.PRMerged, MergeSHA: "c4295bd74fb0f4fda03689c3df3f2803b658fd85", MergedAt: time.Date(2019, 5, 15, 15, 20, 33, 0, time.UTC)}},
		{"from a fork", func() []byte {
			head := fixtureObject(t, opened, "head")
			head["repo"].(map[string]any)["full_name"] = "mallory/Hello-World"
			return withField(t, opened, "head", head)
		}(), dayops.PullRequest{Action: dayops.PROpened, Fork: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := githubtest.New(t)
			if err := fake.SetPullRequestJSON(tt.raw); err != nil {
				t.Fatal(err)
			}
			got, err := newClient(t, fake, nil).PullRequest(context.Background(), "Codertocat/Hello-World", 2)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Repo, want.Number, want.Title, want.Author = "Codertocat/Hello-World", 2, "Update the README with new information.", "Codertocat"
			want.URL, want.HeadSHA, want.HeadRef, want.BaseRef = "https://github.com/Codertocat/Hello-World/pull/2", "ec26c3e57ca3a959ca5aad62de7213c562f8c821", "changes", "master"
			want.Labels = []string{"bug"}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("pull request (-want +got):\n%s", d)
			}
		})
	}
}

// fixtureObject is field of the JSON object raw, as a map.
func fixtureObject(t *testing.T, raw []byte, field string) map[string]any {
	t.Helper()
	var fields map[string]json.RawMessage
	var obj map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fields[field], &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}
