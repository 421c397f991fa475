package githubtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Comment is an issue or pull request comment, with every body it had.
type Comment struct {
	ID        int64
	Repo      string
	Number    int
	Author    string
	Body      string   // the body now
	Edits     []string // the bodies before, oldest first
	Reactions []string // "eyes", …
}

// Deployment is a deployment with its statuses, oldest first.
type Deployment struct {
	ID          int64
	Repo        string
	Ref         string
	Task        string
	Environment string
	Description string
	Transient   bool
	Production  bool
	Statuses    []DeploymentStatus
}

// State is the deployment's latest state, "" when it has no status.
func (d Deployment) State() string {
	if len(d.Statuses) == 0 {
		return ""
	}
	return d.Statuses[len(d.Statuses)-1].State
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	ID             int64
	State          string
	Description    string
	LogURL         string `json:"log_url"`
	EnvironmentURL string `json:"environment_url"`
	AutoInactive   *bool  `json:"auto_inactive"`
}

// CheckRun is a check run as it stands, with every annotation it received.
type CheckRun struct {
	ID          int64
	Repo        string
	Name        string
	HeadSHA     string
	Status      string
	Conclusion  string
	DetailsURL  string
	ExternalID  string
	Title       string
	Summary     string
	Text        string
	Annotations []Annotation
	Calls       int // the create and update calls it took
}

// Annotation is one annotation of a check run.
type Annotation struct {
	Path            string `json:"path"`
	StartLine       int    `json:"start_line"`
	EndLine         int    `json:"end_line"`
	StartColumn     int    `json:"start_column"`
	EndColumn       int    `json:"end_column"`
	AnnotationLevel string `json:"annotation_level"`
	Title           string `json:"title"`
	Message         string `json:"message"`
}

// PR is a pull request to serve.
type PR struct {
	Repo     string // owner/name, the base repository
	Number   int
	Title    string
	Author   string
	HeadSHA  string
	HeadRef  string
	HeadRepo string // "" = Repo; another for a fork
	BaseRef  string // default "main"
	Labels   []string
	State    string // "open" (default) or "closed"
	Merged   bool
	MergeSHA string
}

// SetPullRequest serves pr (GET /repos/OWNER/NAME/pulls/N).
func (s *Server) SetPullRequest(pr PR) {
	if pr.BaseRef == "" {
		pr.BaseRef = "main"
	}
	if pr.HeadRepo == "" {
		pr.HeadRepo = pr.Repo
	}
	if pr.State == "" {
		pr.State = "open"
	}
	labels := []map[string]any{}
	for _, l := range pr.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	obj := map[string]any{
		"number": pr.Number, "title": pr.Title, "state": pr.State, "merged": pr.Merged,
		"html_url": "https://github.com/" + pr.Repo + "/pull/" + strconv.Itoa(pr.Number),
		"user":     map[string]any{"login": pr.Author},
		"head":     map[string]any{"sha": pr.HeadSHA, "ref": pr.HeadRef, "repo": map[string]any{"full_name": pr.HeadRepo}},
		"base":     map[string]any{"ref": pr.BaseRef, "repo": map[string]any{"full_name": pr.Repo}},
		"labels":   labels,
	}
	if pr.Merged {
		obj["merged_at"] = "2026-01-01T00:00:00Z"
		obj["merge_commit_sha"] = pr.MergeSHA
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prs[prKey(pr.Repo, pr.Number)] = obj
}

// SetPullRequestJSON serves a pull request object as GitHub sends it: the
// "pull_request" of a webhook fixture. Its repository is base.repo.full_name.
func (s *Server) SetPullRequestJSON(raw []byte) error {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	var ref struct {
		Number int `json:"number"`
		Base   struct {
			Repo struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"base"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prs[prKey(ref.Base.Repo.FullName, ref.Number)] = obj
	return nil
}

// AddReview adds a review of pull request number: state APPROVED,
// CHANGES_REQUESTED, COMMENTED or DISMISSED, of commit.
func (s *Server) AddReview(repo string, number int, login, state, commit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := prKey(repo, number)
	s.reviews[k] = append(s.reviews[k], map[string]any{
		"id": s.id(), "user": map[string]any{"login": login}, "state": state, "commit_id": commit,
	})
}

// SetRequiredChecks protects branch, requiring checks (none is protection
// without required checks). Branches never set answer 404 "Branch not
// protected".
func (s *Server) SetRequiredChecks(repo, branch string, checks ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.protection[repo+"@"+branch] = append([]string{}, checks...)
}

// SetStatus sets commit status context on sha: success, failure, error or
// pending.
func (s *Server) SetStatus(repo, sha, context, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := repo + "@" + sha
	s.statuses[k] = slices.DeleteFunc(s.statuses[k], func(m map[string]any) bool { return m["context"] == context })
	s.statuses[k] = append(s.statuses[k], map[string]any{"context": context, "state": state})
}

// Status is a commit status as it stands (the latest of its context).
type Status struct {
	Context     string
	State       string
	Description string
	TargetURL   string
}

// Statuses are the commit statuses of sha, the latest of each context.
func (s *Server) Statuses(repo, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, m := range s.statuses[repo+"@"+sha] {
		st := Status{}
		st.Context, _ = m["context"].(string)
		st.State, _ = m["state"].(string)
		st.Description, _ = m["description"].(string)
		st.TargetURL, _ = m["target_url"].(string)
		out = append(out, st)
	}
	return out
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State       string `json:"state"`
		Context     string `json:"context"`
		Description string `json:"description"`
		TargetURL   string `json:"target_url"`
	}
	if !decode(w, r, &in) {
		return
	}
	if !slices.Contains([]string{"error", "failure", "pending", "success"}, in.State) {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: state is not one of error, failure, pending, success", "")
		return
	}
	if in.Context == "" {
		in.Context = "default" // GitHub's default
	}
	s.SetStatus(repoOf(r), r.PathValue("sha"), in.Context, in.State)
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.statuses[repoOf(r)+"@"+r.PathValue("sha")]
	last := list[len(list)-1]
	last["description"], last["target_url"] = in.Description, in.TargetURL
	writeJSON(w, http.StatusCreated, map[string]any{"id": s.id(), "state": in.State, "context": in.Context})
}

// AddCheckRun adds a check run someone else made on sha.
func (s *Server) AddCheckRun(repo, sha, name, status, conclusion string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	cr := &CheckRun{ID: s.id(), Repo: repo, Name: name, HeadSHA: sha, Status: status, Conclusion: conclusion}
	s.checkRuns = append(s.checkRuns, cr)
	return cr.ID
}

// SetTeam makes login a member of org/slug in state "active" or "pending";
// "" removes it.
func (s *Server) SetTeam(team, login, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.teams[team] == nil {
		s.teams[team] = map[string]string{}
	}
	if state == "" {
		delete(s.teams[team], login)
		return
	}
	s.teams[team][login] = state
}

// AddComment adds a comment someone wrote and returns its ID.
func (s *Server) AddComment(repo string, number int, author, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &Comment{ID: s.id(), Repo: repo, Number: number, Author: author, Body: body}
	s.comments = append(s.comments, c)
	return c.ID
}

// Comments are the comments on repo's issue or pull request number.
func (s *Server) Comments(repo string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Repo == repo && c.Number == number {
			out = append(out, cloneComment(c))
		}
	}
	return out
}

// Comment is comment id.
func (s *Server) Comment(id int64) (Comment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.comments {
		if c.ID == id {
			return cloneComment(c), true
		}
	}
	return Comment{}, false
}

func cloneComment(c *Comment) Comment {
	out := *c
	out.Edits = slices.Clone(c.Edits)
	out.Reactions = slices.Clone(c.Reactions)
	return out
}

// Deployments are repo's deployments, oldest first.
func (s *Server) Deployments(repo string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Deployment
	for _, d := range s.deployments {
		if d.Repo == repo {
			c := *d
			c.Statuses = slices.Clone(d.Statuses)
			out = append(out, c)
		}
	}
	return out
}

// CheckRuns are repo's check runs, oldest first.
func (s *Server) CheckRuns(repo string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, cr := range s.checkRuns {
		if cr.Repo == repo {
			c := *cr
			c.Annotations = slices.Clone(cr.Annotations)
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("POST /repos/{owner}/{repo}/issues/comments/{id}/reactions", s.react)
	m.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", s.createComment)
	m.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}/comments", s.listComments)
	m.HandleFunc("PATCH /repos/{owner}/{repo}/issues/comments/{id}", s.editComment)
	m.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}", s.getPR)
	m.HandleFunc("GET /repos/{owner}/{repo}/pulls/{number}/reviews", s.listReviews)
	m.HandleFunc("GET /repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks", s.requiredChecks)
	m.HandleFunc("GET /repos/{owner}/{repo}/commits/{sha}/check-runs", s.listCheckRuns)
	m.HandleFunc("GET /repos/{owner}/{repo}/commits/{sha}/status", s.combinedStatus)
	m.HandleFunc("POST /repos/{owner}/{repo}/check-runs", s.createCheckRun)
	m.HandleFunc("PATCH /repos/{owner}/{repo}/check-runs/{id}", s.updateCheckRun)
	m.HandleFunc("POST /repos/{owner}/{repo}/deployments", s.createDeployment)
	m.HandleFunc("GET /repos/{owner}/{repo}/deployments", s.listDeployments)
	m.HandleFunc("POST /repos/{owner}/{repo}/deployments/{id}/statuses", s.createDeploymentStatus)
	m.HandleFunc("GET /repos/{owner}/{repo}/deployments/{id}/statuses", s.listDeploymentStatuses)
	m.HandleFunc("GET /orgs/{org}/teams/{slug}/memberships/{user}", s.membership)
	m.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", s.createStatus)
	m.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"login": s.Login, "type": "Bot"})
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found", "")
	})
}

func pathInt(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		writeError(w, http.StatusNotFound, "Not Found", "")
		return 0, false
	}
	return n, true
}

func commentJSON(c *Comment) map[string]any {
	return map[string]any{
		"id": c.ID, "body": c.Body, "user": map[string]any{"login": c.Author},
		"html_url": "https://github.com/" + c.Repo + "/pull/" + strconv.Itoa(c.Number) + "#issuecomment-" + strconv.FormatInt(c.ID, 10),
	}
}

func (s *Server) commentLocked(repo string, id int64) *Comment {
	for _, c := range s.comments {
		if c.ID == id && c.Repo == repo {
			return c
		}
	}
	return nil
}

func (s *Server) react(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(w, r, "id")
	var in struct{ Content string }
	if !ok || !decode(w, r, &in) {
		return
	}
	valid := []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
	if !slices.Contains(valid, in.Content) {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: content is not one of "+strings.Join(valid, ", "), "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commentLocked(repoOf(r), id)
	if c == nil {
		writeError(w, http.StatusNotFound, "Not Found", "")
		return
	}
	c.Reactions = append(c.Reactions, in.Content)
	writeJSON(w, http.StatusCreated, map[string]any{"id": s.id(), "content": in.Content})
}

// maxCommentBody is GitHub's limit on a comment body.
const maxCommentBody = 65536

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	n, ok := pathInt(w, r, "number")
	var in struct{ Body string }
	if !ok || !decode(w, r, &in) {
		return
	}
	if len([]rune(in.Body)) > maxCommentBody || in.Body == "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: body is empty or too long (maximum is 65536 characters)", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &Comment{ID: s.id(), Repo: repoOf(r), Number: int(n), Author: s.Login, Body: in.Body}
	s.comments = append(s.comments, c)
	writeJSON(w, http.StatusCreated, commentJSON(c))
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(w, r, "id")
	var in struct{ Body string }
	if !ok || !decode(w, r, &in) {
		return
	}
	if len([]rune(in.Body)) > maxCommentBody || in.Body == "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: body is empty or too long (maximum is 65536 characters)", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commentLocked(repoOf(r), id)
	if c == nil {
		writeError(w, http.StatusNotFound, "Not Found", "")
		return
	}
	c.Edits = append(c.Edits, c.Body)
	c.Body = in.Body
	writeJSON(w, http.StatusOK, commentJSON(c))
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	n, ok := pathInt(w, r, "number")
	if !ok {
		return
	}
	s.mu.Lock()
	var list []map[string]any
	for _, c := range s.comments {
		if c.Repo == repoOf(r) && c.Number == int(n) {
			list = append(list, commentJSON(c))
		}
	}
	s.mu.Unlock()
	page(w, r, list, nil)
}
