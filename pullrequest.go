package dayops

import (
	"strconv"
	"strings"
	"time"
)

// The actions of a PullRequest event that triggers match (SPEC §5 `on:`),
// and the others a door reports.
const (
	PRMerged      = "merged"      // closed with its changes merged
	PROpened      = "opened"      // opened (or reopened)
	PRSynchronize = "synchronize" // new commits on its head
	PRLabeled     = "labeled"     // a label added
	PRClosed      = "closed"      // closed without merging: starts nothing
)

// PRActions are the actions a pull_request trigger may name.
var PRActions = []string{PRMerged, PROpened, PRSynchronize, PRLabeled}

// PullRequest is a pull request event as a door saw it, free of any code
// host's types: what pull_request triggers match and what a run it starts
// records as its pr.* context.
type PullRequest struct {
	Repo     string // owner/name
	Number   int
	Action   string // one of the PR* actions
	Title    string
	Author   string // the login of who opened it
	URL      string // its page
	HeadSHA  string
	HeadRef  string
	BaseRef  string    // the branch it merges into
	MergeSHA string    // the merge commit, once merged
	MergedAt time.Time // when it was merged, once merged: lead time for changes starts there
	Labels   []string
	Label    string // the label just added (PRLabeled)
	Fork     bool   // the head is in another repository
}

// ContextPRFork is set to "true" in the context of a pull request from a
// fork: the pipeline refuses its commands unless forks are allowed, and its
// runs get no secrets.
const ContextPRFork = "pr.fork"

// Context is the pull request as run context: the pr.* keys of PRFields,
// ContextPRFork for a fork, and ContextPRMergedAt once merged.
func (p PullRequest) Context() map[string]string {
	fork := map[bool]string{true: "true"}[p.Fork]
	c := WithPR(nil, map[string]string{
		"number":    strconv.Itoa(p.Number),
		"title":     p.Title,
		"author":    p.Author,
		"repo":      p.Repo,
		"url":       p.URL,
		"head_sha":  p.HeadSHA,
		"head_ref":  p.HeadRef,
		"base_ref":  p.BaseRef,
		"merge_sha": p.MergeSHA,
	})
	if fork != "" {
		c[ContextPRFork] = fork
	}
	if !p.MergedAt.IsZero() {
		c[ContextPRMergedAt] = p.MergedAt.UTC().Format(time.RFC3339)
	}
	return c
}

// String is "owner/name#12".
func (p PullRequest) String() string {
	return p.Repo + "#" + strconv.Itoa(p.Number)
}

// PRRef splits "owner/name#12", the Channel of a pull request's Thread.
func PRRef(s string) (repo string, number int, ok bool) {
	repo, num, found := strings.Cut(s, "#")
	if !found || strings.Count(repo, "/") != 1 {
		return "", 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return repo, n, true
}
