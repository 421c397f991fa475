package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	gh "github.com/google/go-github/v62/github"

	"github.com/dayops/dayops"
)

// MaxBody bounds a webhook body: GitHub caps its payloads at 25 MB.
const MaxBody = 25 << 20

// Reading bodies: at most maxReading at once, each within readTimeout.
const (
	maxReading  = 8
	readTimeout = 30 * time.Second
)

// The events dayops acts on (SPEC §3).
const (
	EventPing         = "ping"
	EventPullRequest  = "pull_request"
	EventIssueComment = "issue_comment"
	EventPush         = "push"
)

// ServeHTTP is POST /github/webhook. In order: the body is read (413 over
// MaxBody), its X-Hub-Signature-256 checked on the raw bytes (401 and
// nothing done when missing or wrong), ping answered, other unknown events
// answered 204, the payload decoded (400 with the reason when malformed)
// and checked for relevance (200 "ignored: …" for what dayops does not act
// on); what is left is stored and answered 202 at once, or 200 when it is a
// redelivery of a delivery stored before. Processing is from the store.
func (in *Intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	// Bodies are read before their signature can be checked: a sender
	// gets a bounded time for it, and only a few are read at once, so that
	// unsigned uploads cannot hold the server's memory.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(readTimeout))
	select {
	case in.reading <- struct{}{}:
		defer func() { <-in.reading }()
	case <-r.Context().Done():
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("body over %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := verify(in.opts.Secret, r.Header.Get("X-Hub-Signature-256"), body); err != nil {
		in.log.Warn("github webhook refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	event := r.Header.Get("X-GitHub-Event")
	delivery := r.Header.Get("X-GitHub-Delivery")
	switch event {
	case EventPing:
		if _, err := gh.ParseWebHook(event, body); err != nil {
			http.Error(w, "malformed ping payload: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "pong")
		return
	case EventPullRequest, EventIssueComment, EventPush:
	case "":
		http.Error(w, "missing X-GitHub-Event", http.StatusBadRequest)
		return
	default:
		// GitHub sends what the webhook subscribes to; dayops acts on
		// the events above and lets the rest be.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if delivery == "" || len(delivery) > 100 {
		http.Error(w, "missing or overlong X-GitHub-Delivery: it is the key that keeps a redelivery from running twice", http.StatusBadRequest)
		return
	}
	ev, err := decode(event, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ev.comment != nil && utf8.RuneCountInString(ev.comment.GetComment().GetBody()) > MaxCommentRunes {
		// GitHub never sends one: whatever sent it is not a person typing.
		http.Error(w, fmt.Sprintf("the comment is longer than GitHub allows (%d characters): not read", MaxCommentRunes), http.StatusRequestEntityTooLarge)
		return
	}
	if why := in.irrelevant(ev); why != "" {
		in.log.Debug("github delivery ignored", "delivery", delivery, "event", event, "why", why)
		fmt.Fprintln(w, "ignored: "+why)
		return
	}
	added, err := in.opts.Inbox.AddInbound(r.Context(), dayops.Inbound{
		Source: Source, Delivery: delivery, Kind: event, Body: body, ReceivedAt: in.now(),
	})
	if err != nil {
		// Not stored: GitHub shows the failure, and a redelivery (by hand
		// or by its API) brings it again.
		in.log.Error("storing a github delivery", "delivery", delivery, "err", err)
		http.Error(w, "could not store the delivery; redeliver it", http.StatusServiceUnavailable)
		return
	}
	if !added {
		fmt.Fprintln(w, "redelivery: delivery "+delivery+" was received before")
		return
	}
	in.poke()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, "accepted")
}

// event is a decoded delivery, reduced to what dayops reads.
type event struct {
	kind    string
	action  string
	repo    string // owner/name
	sender  string // login
	bot     bool   // the sender is a bot
	comment *gh.IssueCommentEvent
	pr      *gh.PullRequestEvent
	push    *gh.PushEvent
}

// decode parses body as event kind; a malformed body is an error whose
// text says what is wrong.
func decode(kind string, body []byte) (*event, error) {
	v, err := gh.ParseWebHook(kind, body)
	if err != nil {
		return nil, fmt.Errorf("malformed %s payload: %v", kind, err)
	}
	ev := &event{kind: kind}
	var repo *gh.Repository
	var sender *gh.User
	switch e := v.(type) {
	case *gh.IssueCommentEvent:
		ev.comment, ev.action, repo, sender = e, e.GetAction(), e.GetRepo(), e.GetSender()
		if e.GetIssue().GetNumber() <= 0 || e.GetComment().GetID() == 0 {
			return nil, fmt.Errorf("malformed %s payload: no issue number or comment id", kind)
		}
	case *gh.PullRequestEvent:
		ev.pr, ev.action, repo, sender = e, e.GetAction(), e.GetRepo(), e.GetSender()
		if e.GetPullRequest().GetNumber() <= 0 && e.GetNumber() <= 0 {
			return nil, fmt.Errorf("malformed %s payload: no pull request number", kind)
		}
	case *gh.PushEvent:
		ev.push, repo, sender = e, pushRepo(e), e.GetSender()
	default:
		return nil, fmt.Errorf("unexpected %s payload %T", kind, v)
	}
	ev.repo = repo.GetFullName()
	if ev.repo == "" || strings.Count(ev.repo, "/") != 1 {
		return nil, fmt.Errorf("malformed %s payload: repository.full_name %q is not owner/name", kind, dayops.Truncate(ev.repo, 100))
	}
	ev.sender = sender.GetLogin()
	ev.bot = sender.GetType() == "Bot"
	return ev, nil
}

// pushRepo is a push's repository as a Repository.
func pushRepo(e *gh.PushEvent) *gh.Repository {
	r := e.GetRepo()
	if r == nil {
		return nil
	}
	return &gh.Repository{FullName: r.FullName}
}

// irrelevant says why dayops does nothing with ev, or "" when it acts on it.
func (in *Intake) irrelevant(ev *event) string {
	ops := in.opts.OpsRepo.Name != "" && strings.EqualFold(ev.repo, in.opts.OpsRepo.Name)
	_, app := in.service(ev.repo)
	if !ops && !app {
		return fmt.Sprintf("repository %s is not in github.repos", ev.repo)
	}
	switch ev.kind {
	case EventIssueComment:
		switch {
		case ev.action != "created":
			return "comment " + ev.action + ": only new comments are read"
		case ev.comment.GetIssue().GetPullRequestLinks() == nil:
			return "a comment on an issue, not on a pull request"
		case ev.bot || (in.opts.BotLogin != "" && strings.EqualFold(ev.sender, in.opts.BotLogin)):
			return "a comment by a bot"
		case !app:
			return "comments on the ops repo run nothing"
		}
	case EventPullRequest:
		switch ev.action {
		case "opened", "reopened", "synchronize", "labeled", "closed":
		default:
			return "pull request " + ev.action + ": nothing to do"
		}
	case EventPush:
		if !ops {
			return "a push to an application repository: deploys follow pull requests"
		}
		if ref := ev.push.GetRef(); ref != "refs/heads/"+in.opsBranch() {
			return fmt.Sprintf("a push to %s, not to the ops repo's branch %s", ref, in.opsBranch())
		}
	}
	return ""
}

func (in *Intake) opsBranch() string {
	if in.opts.OpsRepo.Branch != "" {
		return in.opts.OpsRepo.Branch
	}
	return "main"
}

// service returns the service repo deploys, matching its name regardless
// of case as GitHub does.
func (in *Intake) service(repo string) (string, bool) {
	for name, svc := range in.opts.Repos {
		if strings.EqualFold(name, repo) {
			return svc, true
		}
	}
	return "", false
}

// process acts on one stored delivery. An error means "try again later":
// GitHub could not be read, say.
func (in *Intake) process(ctx context.Context, d dayops.Inbound) error {
	ev, err := decode(d.Kind, d.Body)
	if err != nil {
		in.log.Error("a stored github delivery does not decode", "delivery", d.Delivery, "err", err)
		return nil // it never will: not retried
	}
	switch d.Kind {
	case EventIssueComment:
		return in.comment(ctx, d.Delivery, ev)
	case EventPullRequest:
		return in.pullRequest(ctx, d.Delivery, ev)
	case EventPush:
		if in.opts.OpsRepo.Sync == nil {
			return nil
		}
		return in.opts.OpsRepo.Sync(ctx)
	}
	return nil
}
