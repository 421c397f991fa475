package github

import (
	"context"
	"errors"
	"slices"
	"strings"

	gh "github.com/google/go-github/v62/github"
)

// Readiness is what GitHub says of a pull request before a production
// deploy from it: who approved its current head, and whether the checks its
// base branch requires passed on that head.
type Readiness struct {
	HeadSHA string
	Author  string
	// Approvers approved the current head, the author never among them
	// (each reviewer's latest review counts).
	Approvers []string
	// ChangesRequested are the reviewers whose latest review asks for changes.
	ChangesRequested []string
	// Required are the status checks branch protection requires on the
	// base branch, each with how it stands on the head: "success",
	// "failure", "pending" or "missing".
	Required []CheckState
}

// CheckState is one required check on the head.
type CheckState struct {
	Name  string
	State string // success, failure, pending, missing
}

// Approved reports whether someone other than the author approved the head
// and nobody's latest review asks for changes.
func (r Readiness) Approved() bool {
	return len(r.Approvers) > 0 && len(r.ChangesRequested) == 0
}

// ChecksPassed reports whether every required check succeeded on the head.
func (r Readiness) ChecksPassed() bool {
	for _, c := range r.Required {
		if c.State != "success" {
			return false
		}
	}
	return true
}

// Missing says what keeps the pull request from being ready, one phrase
// each: "an approval of the head by someone other than alice", "check
// build: failure". Empty when it is ready.
func (r Readiness) Missing() []string {
	var out []string
	if len(r.Approvers) == 0 {
		out = append(out, "an approval of the head commit by someone other than its author "+r.Author)
	}
	if len(r.ChangesRequested) > 0 {
		out = append(out, "changes requested by "+strings.Join(r.ChangesRequested, ", ")+" to be resolved")
	}
	for _, c := range r.Required {
		if c.State != "success" {
			out = append(out, "required check "+c.Name+" to pass (it is "+c.State+")")
		}
	}
	return out
}

// Readiness reads pull request number's reviews, its base branch's required
// checks and how they stand on its head. Any error is returned: callers
// refuse when GitHub cannot say (fail closed). A base branch without
// protection, or protection without required checks, requires nothing.
func (c *Client) Readiness(ctx context.Context, repo string, number int) (Readiness, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return Readiness{}, err
	}
	pr, _, err := c.api.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return Readiness{}, c.callError("read pull request", err)
	}
	r := Readiness{HeadSHA: pr.GetHead().GetSHA(), Author: pr.GetUser().GetLogin()}
	if err := c.reviews(ctx, owner, name, number, &r); err != nil {
		return Readiness{}, err
	}
	required, err := c.requiredChecks(ctx, owner, name, pr.GetBase().GetRef())
	if err != nil {
		return Readiness{}, err
	}
	if len(required) == 0 {
		return r, nil
	}
	states, err := c.checkStates(ctx, owner, name, r.HeadSHA)
	if err != nil {
		return Readiness{}, err
	}
	for _, n := range required {
		st := states[n]
		if st == "" {
			st = "missing"
		}
		r.Required = append(r.Required, CheckState{Name: n, State: st})
	}
	return r, nil
}

// reviews fills r's approvers: each reviewer's latest deciding review
// (approved, changes requested, dismissed; a comment decides nothing), an
// approval counting only for the current head and never the author's.
func (c *Client) reviews(ctx context.Context, owner, name string, number int, r *Readiness) error {
	latest := map[string]*gh.PullRequestReview{}
	var order []string
	opts := &gh.ListOptions{PerPage: 100}
	for range maxPages {
		list, resp, err := c.api.PullRequests.ListReviews(ctx, owner, name, number, opts)
		if err != nil {
			return c.callError("list reviews", err)
		}
		for _, rv := range list { // oldest first
			who := rv.GetUser().GetLogin()
			switch rv.GetState() {
			case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
			default:
				continue
			}
			if _, seen := latest[who]; !seen {
				order = append(order, who)
			}
			latest[who] = rv
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	for _, who := range order {
		rv := latest[who]
		if who == "" || strings.EqualFold(who, r.Author) {
			continue
		}
		switch rv.GetState() {
		case "APPROVED":
			if rv.GetCommitID() == r.HeadSHA {
				r.Approvers = append(r.Approvers, who)
			}
		case "CHANGES_REQUESTED":
			r.ChangesRequested = append(r.ChangesRequested, who)
		}
	}
	return nil
}

// requiredChecks are the status check names branch protection requires on
// branch. GitHub answers 404 with "Branch not protected" (or "Required
// status checks not enabled") when there are none; any other 404 (a token
// that may not read the protection) is an error, not a "none".
func (c *Client) requiredChecks(ctx context.Context, owner, name, branch string) ([]string, error) {
	rs, _, err := c.api.Repositories.GetRequiredStatusChecks(ctx, owner, name, branch)
	if errors.Is(err, gh.ErrBranchNotProtected) {
		return nil, nil
	}
	if err != nil {
		var er *gh.ErrorResponse
		if statusOf(err) == 404 && errors.As(err, &er) && strings.Contains(strings.ToLower(er.Message), "not enabled") {
			return nil, nil
		}
		return nil, c.callError("read the required checks of "+branch, err)
	}
	var out []string
	if rs.Contexts != nil {
		out = append(out, *rs.Contexts...)
	}
	if rs.Checks != nil {
		for _, ch := range *rs.Checks {
			out = append(out, ch.Context)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// checkStates is how each check run and commit status name stands on sha:
// success, failure or pending; the latest check run of a name counts, and
// any success among a check run and a status of the same name does not
// hide a failure of the other.
func (c *Client) checkStates(ctx context.Context, owner, name, sha string) (map[string]string, error) {
	states := map[string]string{}
	merge := func(n, st string) {
		switch prev := states[n]; {
		case prev == "" || prev == "success":
			states[n] = st
		case prev == "pending" && st == "failure":
			states[n] = st
		}
	}
	runs := map[string]*gh.CheckRun{}
	opts := &gh.ListCheckRunsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for range maxPages {
		res, resp, err := c.api.Checks.ListCheckRunsForRef(ctx, owner, name, sha, opts)
		if err != nil {
			return nil, c.callError("list check runs", err)
		}
		for _, cr := range res.CheckRuns {
			if prev := runs[cr.GetName()]; prev == nil || cr.GetID() > prev.GetID() {
				runs[cr.GetName()] = cr
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	for n, cr := range runs {
		st := "pending"
		if cr.GetStatus() == "completed" {
			switch cr.GetConclusion() {
			case "success", "neutral", "skipped":
				st = "success"
			default:
				st = "failure"
			}
		}
		merge(n, st)
	}
	lo := &gh.ListOptions{PerPage: 100}
	for range maxPages {
		cs, resp, err := c.api.Repositories.GetCombinedStatus(ctx, owner, name, sha, lo)
		if err != nil {
			return nil, c.callError("read commit statuses", err)
		}
		for _, s := range cs.Statuses {
			st := s.GetState()
			if st == "error" {
				st = "failure"
			}
			merge(s.GetContext(), st)
		}
		if resp.NextPage == 0 {
			break
		}
		lo.Page = resp.NextPage
	}
	return states, nil
}
