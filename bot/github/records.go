package github

import (
	"context"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/dayops/dayops"
)

// MaxAnnotations is how many annotations GitHub takes in one check run call.
const MaxAnnotations = 50

// Deployment is a deployment to create.
type Deployment struct {
	Ref         string // the commit SHA (or branch) deployed
	Environment string
	Description string
	Transient   bool // an environment that goes away (a preview)
	Production  bool
}

// CreateDeployment creates a deployment and returns its ID. It asks GitHub
// not to check the ref's statuses and not to merge the default branch into
// it: dayops decides what may deploy, and deploys what it was asked to.
func (c *Client) CreateDeployment(ctx context.Context, repo string, d Deployment) (int64, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	none := []string{}
	req := &gh.DeploymentRequest{
		Ref:                   gh.String(d.Ref),
		Task:                  gh.String("deploy"),
		AutoMerge:             gh.Bool(false),
		RequiredContexts:      &none,
		Environment:           gh.String(d.Environment),
		Description:           gh.String(dayops.Truncate(d.Description, 140)),
		TransientEnvironment:  gh.Bool(d.Transient),
		ProductionEnvironment: gh.Bool(d.Production),
	}
	dep, _, err := c.api.Repositories.CreateDeployment(ctx, owner, name, req)
	if err != nil {
		return 0, c.callError("create deployment", err)
	}
	return dep.GetID(), nil
}

// DeploymentStatus is a deployment's new state: queued, in_progress,
// success, failure, error or inactive.
type DeploymentStatus struct {
	State          string
	Description    string
	LogURL         string // the run page
	EnvironmentURL string // where the deployed environment is reached
}

// SetDeploymentStatus adds a status to deployment id. GitHub's automatic
// marking of older deployments as inactive is off: the door does it itself
// for the deployment a successful one replaces.
func (c *Client) SetDeploymentStatus(ctx context.Context, repo string, id int64, s DeploymentStatus) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	req := &gh.DeploymentStatusRequest{
		State:        gh.String(s.State),
		Description:  gh.String(dayops.Truncate(s.Description, 140)),
		AutoInactive: gh.Bool(false),
	}
	if s.LogURL != "" {
		req.LogURL = gh.String(s.LogURL)
	}
	if s.EnvironmentURL != "" {
		req.EnvironmentURL = gh.String(s.EnvironmentURL)
	}
	_, _, err = c.api.Repositories.CreateDeploymentStatus(ctx, owner, name, id, req)
	return c.callError("set deployment status", err)
}

// DeploymentInfo is a deployment as listed.
type DeploymentInfo struct {
	ID          int64
	Environment string
	Ref         string
}

// Deployments lists repo's deployments, newest first, at most limit: of
// environment only, unless it is "".
func (c *Client) Deployments(ctx context.Context, repo, environment string, limit int) ([]DeploymentInfo, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	var out []DeploymentInfo
	opts := &gh.DeploymentsListOptions{Environment: environment, ListOptions: gh.ListOptions{PerPage: 100}}
	for range maxPages {
		list, resp, err := c.api.Repositories.ListDeployments(ctx, owner, name, opts)
		if err != nil {
			return nil, c.callError("list deployments", err)
		}
		for _, d := range list {
			if len(out) >= limit {
				return out, nil
			}
			out = append(out, DeploymentInfo{ID: d.GetID(), Environment: d.GetEnvironment(), Ref: d.GetRef()})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// DeploymentState is the latest state of deployment id; "" when it has no
// status yet.
func (c *Client) DeploymentState(ctx context.Context, repo string, id int64) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	st, _, err := c.api.Repositories.ListDeploymentStatuses(ctx, owner, name, id, &gh.ListOptions{PerPage: 1})
	if err != nil {
		return "", c.callError("list deployment statuses", err)
	}
	if len(st) == 0 {
		return "", nil
	}
	return st[0].GetState(), nil
}

// CommitStatus is a commit status: what a token that may not create check
// runs (a personal access token) can still say on a commit.
type CommitStatus struct {
	Context     string // "dayops/deploy-web"
	State       string // pending, success, failure or error
	Description string
	TargetURL   string // the run page
}

// SetCommitStatus sets status s.Context on commit sha; a later one of the
// same context replaces it.
func (c *Client) SetCommitStatus(ctx context.Context, repo, sha string, s CommitStatus) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	st := &gh.RepoStatus{State: gh.String(s.State), Context: gh.String(s.Context), Description: gh.String(dayops.Truncate(s.Description, 140))}
	if strings.HasPrefix(s.TargetURL, "http") {
		st.TargetURL = gh.String(s.TargetURL)
	}
	_, _, err = c.api.Repositories.CreateStatus(ctx, owner, name, sha, st)
	return c.callError("set commit status", err)
}

// Annotation marks one line of a file in a check run.
type Annotation struct {
	Path    string
	Line    int    // 1-based; 0 is taken as 1
	Col     int    // 1-based; 0: the whole line
	Level   string // notice, warning or failure (the default)
	Title   string
	Message string
}

// CheckRun is a check run's content: its state and output.
type CheckRun struct {
	Name       string // "dayops/validate"
	HeadSHA    string
	Status     string // queued, in_progress or completed
	Conclusion string // with completed: success, failure, neutral, cancelled, timed_out, action_required
	DetailsURL string
	ExternalID string
	Title      string
	Summary    string // Markdown, at most 65,535 characters
	Text       string
	// Annotations are sent MaxAnnotations a call: the first with the call
	// that creates or updates the run, the rest with as many updates more.
	Annotations []Annotation
}

// maxCheckText is the most GitHub takes in a check run's summary and text.
const maxCheckText = 65535

// CreateCheckRun creates check run cr and returns its ID.
func (c *Client) CreateCheckRun(ctx context.Context, repo string, cr CheckRun) (int64, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	first, rest := splitAnnotations(cr.Annotations)
	opts := gh.CreateCheckRunOptions{
		Name:       cr.Name,
		HeadSHA:    cr.HeadSHA,
		DetailsURL: optional(cr.DetailsURL),
		ExternalID: optional(cr.ExternalID),
		Status:     optional(cr.Status),
		Conclusion: optional(cr.Conclusion),
		Output:     output(cr, first),
	}
	now := &gh.Timestamp{Time: c.now()}
	if cr.Status != "queued" {
		opts.StartedAt = now
	}
	if cr.Status == "completed" {
		opts.CompletedAt = now
	}
	run, _, err := c.api.Checks.CreateCheckRun(ctx, owner, name, opts)
	if err != nil {
		return 0, c.callError("create check run", err)
	}
	id := run.GetID()
	return id, c.addAnnotations(ctx, owner, name, id, cr, rest)
}

// UpdateCheckRun changes check run id to cr.
func (c *Client) UpdateCheckRun(ctx context.Context, repo string, id int64, cr CheckRun) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	first, rest := splitAnnotations(cr.Annotations)
	if err := c.updateCheckRun(ctx, owner, name, id, cr, first, true); err != nil {
		return err
	}
	return c.addAnnotations(ctx, owner, name, id, cr, rest)
}

// addAnnotations sends the annotations left after the first call, 50 a call.
func (c *Client) addAnnotations(ctx context.Context, owner, name string, id int64, cr CheckRun, rest []Annotation) error {
	for len(rest) > 0 {
		n := min(len(rest), MaxAnnotations)
		if err := c.updateCheckRun(ctx, owner, name, id, cr, rest[:n], false); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

func (c *Client) updateCheckRun(ctx context.Context, owner, name string, id int64, cr CheckRun, anns []Annotation, state bool) error {
	opts := gh.UpdateCheckRunOptions{Name: cr.Name, Output: output(cr, anns)}
	if state {
		opts.DetailsURL, opts.ExternalID = optional(cr.DetailsURL), optional(cr.ExternalID)
		opts.Status, opts.Conclusion = optional(cr.Status), optional(cr.Conclusion)
		if cr.Status == "completed" {
			opts.CompletedAt = &gh.Timestamp{Time: c.now()}
		}
	}
	_, _, err := c.api.Checks.UpdateCheckRun(ctx, owner, name, id, opts)
	return c.callError("update check run", err)
}

func splitAnnotations(a []Annotation) (first, rest []Annotation) {
	n := min(len(a), MaxAnnotations)
	return a[:n], a[n:]
}

func output(cr CheckRun, anns []Annotation) *gh.CheckRunOutput {
	title := cr.Title
	if title == "" {
		title = cr.Name
	}
	summary := cr.Summary
	if summary == "" {
		summary = title // GitHub refuses an output without a summary
	}
	out := &gh.CheckRunOutput{
		Title:   gh.String(dayops.Truncate(title, 250)),
		Summary: gh.String(fit(summary, maxCheckText)),
	}
	if cr.Text != "" {
		out.Text = gh.String(fit(cr.Text, maxCheckText))
	}
	for _, a := range anns {
		line := max(a.Line, 1)
		level := a.Level
		if level == "" {
			level = "failure"
		}
		ann := &gh.CheckRunAnnotation{
			Path:            gh.String(a.Path),
			StartLine:       gh.Int(line),
			EndLine:         gh.Int(line),
			AnnotationLevel: gh.String(level),
			Message:         gh.String(fit(a.Message, 64*1024)),
		}
		if a.Title != "" {
			ann.Title = gh.String(dayops.Truncate(a.Title, 250))
		}
		if a.Col > 0 {
			ann.StartColumn, ann.EndColumn = gh.Int(a.Col), gh.Int(a.Col)
		}
		out.Annotations = append(out.Annotations, ann)
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
