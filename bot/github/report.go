package github

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// The keys of a run report's Refs that the door keeps.
const (
	RefDeployment      = "deployment"          // the GitHub deployment's ID
	RefDeploymentRepo  = "deployment_repo"     // where it is
	RefDeploymentState = "deployment_state"    // the last status posted
	RefReplaced        = "deployment_replaced" // "done" once the one it replaces is inactive
	RefCheckRun        = "check_run"           // the check run's ID
	RefCheckRunState   = "check_run_state"     // the run state it last showed
	// A part GitHub refuses for good (a token that may not create check
	// runs or deployments, a ref GitHub does not know) is given up for the
	// run: why is kept here, and the comment goes on being updated.
	RefDeploymentError = "deployment_error"
	RefCheckRunError   = "check_run_error"
	// A pull request's run whose check run GitHub refuses gets a commit
	// status instead.
	RefStatusState = "status_state" // the run state the commit status last showed
	RefStatusError = "status_error"
)

// previewPrefix starts the names of preview environments: one per pull
// request.
const previewPrefix = "preview"

// replacedLookback bounds how many earlier deployments of an environment
// are looked at to find the one a successful deployment replaces.
const replacedLookback = 20

// ReportRun brings the run's record on GitHub up to date: ONE comment on the
// pull request edited in place (its ID in rep.Thread.Message), for a
// deploy ONE deployment with its status, for a pull request's run ONE check
// run. Each ID is put in rep.Refs the moment it exists (the bot stores rep
// even when ReportRun fails), so a retry carries on and never creates a
// second one. One part failing does not keep the others from being done;
// the errors are returned together (a *RateLimited among them is found by
// errors.As).
func (d *Door) ReportRun(ctx context.Context, rep *dayops.Report, run *dayops.Run, m bot.Message) error {
	m = unsigned(m)
	if rep.Refs == nil {
		rep.Refs = map[string]string{}
	}
	pr := dayops.PRContext(run.Context)
	var errs []error
	if env, ok := d.deployEnvironment(run, pr); ok && rep.Refs[RefDeploymentError] == "" {
		err := d.reportDeployment(ctx, rep, run, m, pr, env)
		errs = append(errs, d.giveUp(rep, run, RefDeploymentError, err))
	}
	if isPRRun(run, pr) && rep.Refs[RefCheckRunError] == "" {
		err := d.reportCheckRun(ctx, rep, run, m, pr)
		errs = append(errs, d.giveUp(rep, run, RefCheckRunError, err))
	}
	if isPRRun(run, pr) && rep.Refs[RefCheckRunError] != "" && rep.Refs[RefStatusError] == "" {
		err := d.reportCommitStatus(ctx, rep, run, m, pr)
		errs = append(errs, d.giveUp(rep, run, RefStatusError, err))
	}
	errs = append(errs, d.reportComment(ctx, rep, m))
	return errors.Join(errs...)
}

// giveUp records a refusal that trying again cannot change (GitHub said
// the request is wrong or not allowed) under key and returns nil, so that
// the run's comment is not held back by a deployment or check run that
// will never be; any other error is returned, to be tried again.
func (d *Door) giveUp(rep *dayops.Report, run *dayops.Run, key string, err error) error {
	if !refused(err) {
		return err
	}
	rep.Refs[key] = dayops.Truncate(err.Error(), 300)
	d.log.Warn("github refused a part of a run's record; it is given up for this run", "run_id", run.ID, "part", key, "err", err)
	return nil
}

// refused reports whether err is GitHub refusing a request for good: wrong,
// not allowed, of something it does not know. Rate limits and faults are
// not: they pass.
func refused(err error) bool {
	var ra bot.RetryAfter
	if err == nil || errors.As(err, &ra) {
		return false
	}
	switch dayops.KindOf(err) {
	case dayops.KindInvalid, dayops.KindNotFound, dayops.KindForbidden, dayops.KindConflict:
		return true
	}
	return false
}

// reportComment posts the run's comment, or edits the one posted before.
func (d *Door) reportComment(ctx context.Context, rep *dayops.Report, m bot.Message) error {
	if rep.Thread.Message != "" {
		return d.Update(ctx, rep.Thread, rep.Thread.Message, m)
	}
	id, err := d.Post(ctx, rep.Thread, m)
	if err != nil {
		return err
	}
	rep.Thread.Message = id
	return nil
}

// isPRRun reports whether run was started from a pull request: by its
// merge or labels, or by a comment on it.
func isPRRun(run *dayops.Run, pr map[string]string) bool {
	return (run.Trigger == dayops.TriggerPullRequest || run.Trigger == dayops.TriggerPRComment) && pr["repo"] != "" && pr["head_sha"] != ""
}

// deployEnvironment is the GitHub environment a deploy run records its
// deployment in: a day1 run of an environment, with a pull request to
// deploy from. Preview environments get one name per pull request:
// "preview" for #12 is "preview-pr-12".
func (d *Door) deployEnvironment(run *dayops.Run, pr map[string]string) (string, bool) {
	if run.Phase != dayops.Day1 || run.Environment == "" || pr["repo"] == "" || deployRef(pr) == "" {
		return "", false
	}
	return EnvironmentName(run.Environment, pr["number"]), true
}

// EnvironmentName is the GitHub environment of dayops environment env for
// pull request number: env itself, or for a preview environment (a name
// starting "preview") one per pull request, "preview-pr-12".
func EnvironmentName(env, number string) string {
	if strings.HasPrefix(env, previewPrefix) && number != "" {
		return env + "-pr-" + number
	}
	return env
}

// deployRef is the commit a PR's deploy deploys: the merge once merged,
// else the head.
func deployRef(pr map[string]string) string {
	if pr["merge_sha"] != "" {
		return pr["merge_sha"]
	}
	return pr["head_sha"]
}

// deploymentState is the GitHub deployment state of a run state.
func deploymentState(s dayops.RunState) string {
	switch s {
	case dayops.RunRunning:
		return "in_progress"
	case dayops.RunSucceeded:
		return "success"
	case dayops.RunFailed, dayops.RunTimedOut:
		return "failure"
	case dayops.RunCancelled, dayops.RunDenied, dayops.RunInterrupted:
		return "error"
	}
	return "queued" // pending, awaiting approval, queued
}

// reportDeployment creates the run's deployment once and posts its status
// when it changed; on success the deployment it replaces becomes inactive.
func (d *Door) reportDeployment(ctx context.Context, rep *dayops.Report, run *dayops.Run, m bot.Message, pr map[string]string, env string) error {
	repo := pr["repo"]
	if r := rep.Refs[RefDeploymentRepo]; r != "" {
		repo = r
	}
	id, err := parseID(rep.Refs[RefDeployment])
	if err != nil {
		return err
	}
	if id == 0 {
		id, err = d.client.CreateDeployment(ctx, repo, Deployment{
			Ref:         deployRef(pr),
			Environment: env,
			Description: "dayops run " + strconv.FormatInt(run.ID, 10) + ": " + run.Definition,
			Transient:   strings.HasPrefix(run.Environment, previewPrefix),
			Production:  d.prod(run.Environment),
		})
		if err != nil {
			return err
		}
		rep.Refs[RefDeployment], rep.Refs[RefDeploymentRepo] = strconv.FormatInt(id, 10), repo
	}
	state := deploymentState(run.State)
	if rep.Refs[RefDeploymentState] != state {
		st := DeploymentStatus{State: state, Description: runDescription(run, m)}
		if m.Run != nil {
			st.LogURL = m.Run.URL
		}
		if d.envURL != nil {
			st.EnvironmentURL = d.envURL(run)
		}
		if err := d.client.SetDeploymentStatus(ctx, repo, id, st); err != nil {
			return err
		}
		rep.Refs[RefDeploymentState] = state
	}
	if state == "success" && rep.Refs[RefReplaced] == "" {
		if err := d.markReplaced(ctx, repo, env, id); err != nil {
			return err
		}
		rep.Refs[RefReplaced] = "done"
	}
	return nil
}

// markReplaced marks inactive the deployment of env that deployment id
// replaces: the newest older one that is still active (its latest status
// success). Failed ones in between are passed over.
func (d *Door) markReplaced(ctx context.Context, repo, env string, id int64) error {
	list, err := d.client.Deployments(ctx, repo, env, replacedLookback)
	if err != nil {
		return err
	}
	for _, dep := range list {
		if dep.ID >= id || dep.Environment != env {
			continue
		}
		state, err := d.client.DeploymentState(ctx, repo, dep.ID)
		if err != nil {
			return err
		}
		switch state {
		case "success":
			return d.client.SetDeploymentStatus(ctx, repo, dep.ID, DeploymentStatus{
				State: "inactive", Description: "replaced by deployment " + strconv.FormatInt(id, 10),
			})
		case "inactive":
			return nil // the older ones were replaced before
		}
	}
	return nil
}

// runDescription is a run in a line: "failed: deploy-web staging (step
// migrate failed)". Its note comes from the message, which the bot has
// redacted; nothing of the run that may hold a secret (its reason, its
// parameters) is taken from the run itself.
func runDescription(run *dayops.Run, m bot.Message) string {
	s := bot.StateText(run.State) + ": " + run.Definition
	if run.Environment != "" {
		s += " " + run.Environment
	}
	if m.Run != nil && m.Run.Note != "" && run.State.Final() {
		s += " (" + m.Run.Note + ")"
	}
	return s
}

// checkRunStatus is the check run status and conclusion of a run state.
func checkRunStatus(s dayops.RunState) (status, conclusion string) {
	switch s {
	case dayops.RunPending, dayops.RunQueued:
		return "queued", ""
	case dayops.RunAwaitingApproval, dayops.RunRunning:
		return "in_progress", ""
	case dayops.RunSucceeded:
		return "completed", "success"
	case dayops.RunTimedOut:
		return "completed", "timed_out"
	case dayops.RunCancelled, dayops.RunDenied:
		return "completed", "cancelled"
	}
	return "completed", "failure" // failed, interrupted
}

// CheckName is the check run of a definition's runs: "dayops/DEFINITION".
func CheckName(definition string) string { return "dayops/" + definition }

// reportCheckRun creates the run's check run on the head once and updates it
// when the run's state changed.
func (d *Door) reportCheckRun(ctx context.Context, rep *dayops.Report, run *dayops.Run, m bot.Message, pr map[string]string) error {
	id, err := parseID(rep.Refs[RefCheckRun])
	if err != nil {
		return err
	}
	if id != 0 && rep.Refs[RefCheckRunState] == string(run.State) {
		return nil
	}
	status, conclusion := checkRunStatus(run.State)
	cr := CheckRun{
		Name:       CheckName(run.Definition),
		HeadSHA:    pr["head_sha"],
		Status:     status,
		Conclusion: conclusion,
		ExternalID: strconv.FormatInt(run.ID, 10),
		Title:      runDescription(run, m),
		Summary:    Render(bot.Message{Run: m.Run}, d.prefix),
	}
	if m.Run != nil && strings.HasPrefix(m.Run.URL, "http") {
		cr.DetailsURL = m.Run.URL // GitHub takes only absolute URLs
	}
	if id == 0 {
		id, err = d.client.CreateCheckRun(ctx, pr["repo"], cr)
		if err != nil {
			return err
		}
		rep.Refs[RefCheckRun] = strconv.FormatInt(id, 10)
	} else if err := d.client.UpdateCheckRun(ctx, pr["repo"], id, cr); err != nil {
		return err
	}
	rep.Refs[RefCheckRunState] = string(run.State)
	return nil
}

// commitState is the commit status state of a run state.
func commitState(s dayops.RunState) string {
	switch s {
	case dayops.RunSucceeded:
		return "success"
	case dayops.RunFailed, dayops.RunTimedOut, dayops.RunInterrupted:
		return "failure"
	case dayops.RunCancelled, dayops.RunDenied:
		return "error"
	}
	return "pending"
}

// reportCommitStatus sets the run's commit status dayops/DEFINITION on the
// head when the run's state changed: the check run's stand-in for a token
// that may not create check runs.
func (d *Door) reportCommitStatus(ctx context.Context, rep *dayops.Report, run *dayops.Run, m bot.Message, pr map[string]string) error {
	if rep.Refs[RefStatusState] == string(run.State) {
		return nil
	}
	st := CommitStatus{Context: CheckName(run.Definition), State: commitState(run.State), Description: runDescription(run, m)}
	if m.Run != nil {
		st.TargetURL = m.Run.URL
	}
	if err := d.client.SetCommitStatus(ctx, pr["repo"], pr["head_sha"], st); err != nil {
		return err
	}
	rep.Refs[RefStatusState] = string(run.State)
	return nil
}

// previewLookback bounds the deployments ClosePreview looks through.
const previewLookback = 300

// ClosePreview marks inactive the preview deployments of a pull request
// (environments "preview…-pr-N"): the intake calls it when the pull
// request closes.
func (d *Door) ClosePreview(ctx context.Context, pr dayops.PullRequest) error {
	list, err := d.client.Deployments(ctx, pr.Repo, "", previewLookback)
	if err != nil {
		return err
	}
	suffix := "-pr-" + strconv.Itoa(pr.Number)
	var errs []error
	for _, dep := range list {
		if !strings.HasPrefix(dep.Environment, previewPrefix) || !strings.HasSuffix(dep.Environment, suffix) {
			continue
		}
		state, err := d.client.DeploymentState(ctx, pr.Repo, dep.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if state == "inactive" {
			continue
		}
		errs = append(errs, d.client.SetDeploymentStatus(ctx, pr.Repo, dep.ID, DeploymentStatus{
			State: "inactive", Description: "pull request #" + strconv.Itoa(pr.Number) + " closed",
		}))
	}
	return errors.Join(errs...)
}
