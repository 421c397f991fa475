package bot

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
)

// PRRequirement is what a run from a pull request in one environment needs
// of that pull request (github.environments in the server configuration;
// the ops repo cannot weaken it).
type PRRequirement struct {
	Review bool // an approving review by someone other than its author
	Checks bool // every required check passed
}

// PullRequests is implemented by a door that can say, at the time of a
// run, whether a pull request is reviewed and its checks passed.
type PullRequests interface {
	Readiness(ctx context.Context, repo string, number int) (PRReadiness, error)
}

// PRReadiness is what a code host says of a pull request now.
type PRReadiness struct {
	Approvers []string // logins with an approving review, the author excluded
	// ChangesRequested are the reviewers whose latest review asks for
	// changes: while there are any, the pull request is not reviewed.
	ChangesRequested []string
	Checks           []CheckState // the required checks
	HeadSHA          string       // the commit they are about
}

// CheckState is one required check of a pull request.
type CheckState struct {
	Name   string
	Passed bool
}

// checkPR refuses a run from a pull request (the call's context has pr.*)
// into an environment with a PRRequirement unless the door of the call's
// thread says the pull request meets it, now and for the commit the run is
// about. It fails closed: a door that cannot say refuses the run. The
// decision is audited either way.
func (b *Bot) checkPR(ctx context.Context, c *call, def *dayops.Definition, env string) error {
	req, ok := b.prReqs[env]
	pr := dayops.PRContext(c.context)
	if !ok || (!req.Review && !req.Checks) || len(pr) == 0 {
		return nil
	}
	repo, number := pr["repo"], pr["number"]
	ref := repo + "#" + number
	target := runTargetOf(def, env)
	refuse := func(format string, args ...any) error {
		return b.decide(ctx, c, dayops.Verdict{Reason: fmt.Sprintf(format, args...)}, target, 0)
	}
	n, err := strconv.Atoi(number)
	if repo == "" || err != nil {
		return refuse("%s needs a reviewed pull request, but the run does not say which one it comes from", env)
	}
	door, _ := b.door(c.thread.Door).(PullRequests)
	if door == nil {
		return refuse("%s needs %s to be reviewed and its checks passed, and dayops cannot ask %s about it: no door here reads pull requests",
			env, ref, c.thread.Door)
	}
	got, err := door.Readiness(ctx, repo, n)
	if err != nil {
		when := b.now().UTC().Format("2006-01-02T15:04:05Z")
		b.log.Error("reading a pull request's reviews and checks", "pr", ref, "ref", when, "err", err)
		why := "it did not answer (logged at " + when + ")"
		if dayops.KindOf(err) != dayops.KindInternal {
			why = dayops.UserMessage(err, "")
		}
		return refuse("%s needs %s to be reviewed and its checks passed, and %s could not say: %s; try again",
			env, ref, c.thread.Door, why)
	}
	var missing []string
	if head := pr["head_sha"]; head != "" && got.HeadSHA != "" && got.HeadSHA != head {
		missing = append(missing, fmt.Sprintf("its head moved to %s since this run was asked for at %s: ask again for the new commit",
			dayops.ShortRevision(got.HeadSHA), dayops.ShortRevision(head)))
	}
	author := pr["author"]
	approvers := slices.DeleteFunc(slices.Clone(got.Approvers), func(l string) bool { return strings.EqualFold(l, author) })
	if req.Review && len(approvers) == 0 {
		who := "its author"
		if author != "" {
			who = author
		}
		missing = append(missing, "needs an approving review by someone other than "+who)
	}
	if req.Review && len(got.ChangesRequested) > 0 {
		missing = append(missing, "changes requested by "+strings.Join(got.ChangesRequested, ", ")+" are not resolved")
	}
	var passed []string
	if req.Checks {
		for _, ch := range got.Checks {
			if ch.Passed {
				passed = append(passed, ch.Name)
			} else {
				missing = append(missing, "required check "+ch.Name+" has not passed")
			}
		}
	}
	if len(missing) > 0 {
		return refuse("%s in %s: %s", ref, env, strings.Join(missing, "; "))
	}
	why := ref + " meets what " + env + " needs"
	if req.Review {
		why += "; approved by " + strings.Join(approvers, ", ")
	}
	switch {
	case req.Checks && len(passed) == 0:
		why += "; no checks are required"
	case req.Checks:
		why += "; required checks passed: " + strings.Join(passed, ", ")
	}
	return b.decide(ctx, c, dayops.Verdict{Allowed: true, Reason: why}, target, 0)
}
