// Package github is dayops's GitHub door: the webhook intake (pull request
// comments as commands, merges as triggers) and everything dayops says to
// GitHub through its REST API (client.go): comments edited in place as a
// run goes, reactions, deployments and their statuses, check runs, and an
// ops repository's validation.
package github

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/dayops/dayops"
)

// DefaultAPIURL is GitHub's REST API (github.api_url when empty).
const DefaultAPIURL = "https://api.github.com/"

// Defaults of ClientOptions.
const (
	defaultRetries = 3
	defaultBackoff = 200 * time.Millisecond
	defaultMaxWait = 5 * time.Second
	maxBackoff     = 5 * time.Second
)

// maxPages bounds the pages one listing reads (100 items a page).
const maxPages = 10

// ClientOptions configure a Client.
type ClientOptions struct {
	// BaseURL is the REST API (github.api_url): "" is api.github.com; for
	// GitHub Enterprise Server "https://HOST/api/v3".
	BaseURL string
	Token   string // DAYOPS_GITHUB_TOKEN; "" calls anonymously (tests)
	// HTTPClient makes the calls; default one with a 30 s timeout. Its
	// transport is wrapped with the client's retries.
	HTTPClient *http.Client
	// Retries is how often a call that GitHub answers 5xx (or, for a call
	// that is safe to repeat, that cannot reach GitHub) is tried again, with
	// doubling backoff from Backoff. Default 3 and 200 ms; negative: never.
	Retries int
	Backoff time.Duration
	// MaxWait is the longest a call waits for GitHub's rate limits itself
	// (Retry-After, X-RateLimit-Reset) before it gives up with a
	// *RateLimited error, whose RetryAfter the bot honours. Default 5 s;
	// negative: never wait.
	MaxWait time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Client talks to GitHub's REST API for dayops. It is safe for concurrent
// use. Every method returns a dayops.Error that says what failed, or a
// *RateLimited (bot.RetryAfter) when GitHub asks to wait.
type Client struct {
	api *gh.Client
	now func() time.Time
	log *slog.Logger

	mu     sync.Mutex
	groups map[membershipKey]membership // Groups' cache
}

// NewClient returns a Client for opts.BaseURL.
func NewClient(opts ClientOptions) (*Client, error) {
	base := opts.BaseURL
	if base == "" {
		base = DefaultAPIURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, dayops.Errorf(dayops.KindInvalid, "github.api_url %q is not an http(s) URL; write it as https://api.github.com or https://HOST/api/v3", opts.BaseURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	c := &Client{now: opts.Now, log: opts.Logger, groups: map[membershipKey]membership{}}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if opts.HTTPClient != nil {
		copied := *opts.HTTPClient
		hc = &copied
	}
	t := &transport{base: hc.Transport, retries: opts.Retries, backoff: opts.Backoff, maxWait: opts.MaxWait, client: c}
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	if t.retries == 0 {
		t.retries = defaultRetries
	}
	if t.backoff <= 0 {
		t.backoff = defaultBackoff
	}
	if t.maxWait == 0 {
		t.maxWait = defaultMaxWait
	}
	hc.Transport = t
	c.api = gh.NewClient(hc)
	if opts.Token != "" {
		c.api = c.api.WithAuthToken(opts.Token)
	}
	c.api.BaseURL = u
	c.api.UserAgent = "dayops"
	return c, nil
}

// transport retries what GitHub asks to be retried: 5xx answers with
// backoff, rate-limited answers after the wait GitHub gives when that is
// short (MaxWait), all within the call's context. What it does not retry it
// returns as it came, for go-github and callError to read.
type transport struct {
	base    http.RoundTripper
	retries int
	backoff time.Duration
	maxWait time.Duration
	client  *Client
}

// RoundTrip does req, again while the answer says to try again.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	backoff := t.backoff
	limited := 0
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			r = req.Clone(req.Context())
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		resp, err := t.base.RoundTrip(r)
		var wait time.Duration
		switch {
		case err != nil:
			// A call that may have been done must not be done twice (a
			// second comment); one that is safe to repeat is.
			if attempt >= t.retries || !idempotent(req.Method) || req.Context().Err() != nil {
				return nil, err
			}
			wait, backoff = backoff, min(2*backoff, maxBackoff)
		case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests:
			w, ok := t.client.limitWait(resp)
			if !ok || t.maxWait < 0 || w > t.maxWait || limited >= 2 {
				return resp, nil
			}
			if dl, has := req.Context().Deadline(); has && time.Until(dl) < w {
				return resp, nil
			}
			limited++
			wait = w
		case resp.StatusCode >= 500:
			if attempt >= t.retries {
				return resp, nil
			}
			wait, backoff = backoff, min(2*backoff, maxBackoff)
		default:
			return resp, nil
		}
		if req.Body != nil && req.GetBody == nil {
			return resp, err // cannot send the body again
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			t.client.log.Warn("github call retried", "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode, "wait", wait)
		} else {
			t.client.log.Warn("github call retried", "method", req.Method, "path", req.URL.Path, "err", err, "wait", wait)
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		}
	}
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// splitRepo splits "owner/name".
func splitRepo(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", dayops.Errorf(dayops.KindInvalid, "github repository %q: write it as owner/name", repo)
	}
	return owner, name, nil
}

// Login is the login the token acts as (GET /user): a person's or a
// machine user's. A GitHub App's installation token cannot ask; its login
// is the app's slug with "[bot]" ("dayops[bot]"), to be configured.
func (c *Client) Login(ctx context.Context) (string, error) {
	u, _, err := c.api.Users.Get(ctx, "")
	if err != nil {
		return "", c.callError("ask who the token is", err)
	}
	return u.GetLogin(), nil
}

// React adds a reaction ("eyes", "+1", "rocket"…) to an issue or pull
// request comment.
func (c *Client) React(ctx context.Context, repo string, commentID int64, content string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	_, _, err = c.api.Reactions.CreateIssueCommentReaction(ctx, owner, name, commentID, content)
	return c.callError("react to comment", err)
}

// CreateComment comments on issue or pull request number and returns the
// comment's ID.
func (c *Client) CreateComment(ctx context.Context, repo string, number int, body string) (int64, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	cm, _, err := c.api.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: &body})
	if err != nil {
		return 0, c.callError("create comment", err)
	}
	return cm.GetID(), nil
}

// EditComment replaces the body of comment id.
func (c *Client) EditComment(ctx context.Context, repo string, id int64, body string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	_, _, err = c.api.Issues.EditComment(ctx, owner, name, id, &gh.IssueComment{Body: &body})
	return c.callError("edit comment", err)
}

// FindComment is the ID of the first comment on number written by author
// ("" = anyone) whose body contains marker; 0 when there is none.
func (c *Client) FindComment(ctx context.Context, repo string, number int, author, marker string) (int64, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for range maxPages {
		list, resp, err := c.api.Issues.ListComments(ctx, owner, name, number, opts)
		if err != nil {
			return 0, c.callError("list comments", err)
		}
		for _, cm := range list {
			if (author == "" || strings.EqualFold(cm.GetUser().GetLogin(), author)) && strings.Contains(cm.GetBody(), marker) {
				return cm.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return 0, nil
}

// PullRequest reads pull request number as it is now. Its Action tells its
// state: dayops.PRMerged once merged (MergeSHA is then set), dayops.PRClosed
// when closed without merging, dayops.PROpened while open.
func (c *Client) PullRequest(ctx context.Context, repo string, number int) (dayops.PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return dayops.PullRequest{}, err
	}
	pr, _, err := c.api.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return dayops.PullRequest{}, c.callError("read pull request", err)
	}
	return convertPR(repo, pr), nil
}

// convertPR is a go-github pull request as a dayops.PullRequest.
func convertPR(repo string, pr *gh.PullRequest) dayops.PullRequest {
	out := dayops.PullRequest{
		Repo:    repo,
		Number:  pr.GetNumber(),
		Action:  dayops.PROpened,
		Title:   pr.GetTitle(),
		Author:  pr.GetUser().GetLogin(),
		URL:     pr.GetHTMLURL(),
		HeadSHA: pr.GetHead().GetSHA(),
		HeadRef: pr.GetHead().GetRef(),
		BaseRef: pr.GetBase().GetRef(),
	}
	switch {
	case pr.GetMerged() || pr.MergedAt != nil:
		out.Action, out.MergeSHA, out.MergedAt = dayops.PRMerged, pr.GetMergeCommitSHA(), pr.GetMergedAt().Time
	case pr.GetState() == "closed":
		out.Action = dayops.PRClosed
	}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	// A head without a repository is one whose fork was deleted: not
	// this repository's either.
	head, base := pr.GetHead().GetRepo().GetFullName(), pr.GetBase().GetRepo().GetFullName()
	out.Fork = head == "" || !strings.EqualFold(head, base)
	return out
}
