package githubtest

import (
	"net/http"
	"slices"
)

func (s *Server) getPR(w http.ResponseWriter, r *http.Request) {
	n, ok := pathInt(w, r, "number")
	if !ok {
		return
	}
	s.mu.Lock()
	pr := s.prs[prKey(repoOf(r), int(n))]
	s.mu.Unlock()
	if pr == nil {
		writeError(w, http.StatusNotFound, "Not Found", "")
		return
	}
	writeJSON(w, http.StatusOK, pr)
}

func (s *Server) listReviews(w http.ResponseWriter, r *http.Request) {
	n, ok := pathInt(w, r, "number")
	if !ok {
		return
	}
	s.mu.Lock()
	list := slices.Clone(s.reviews[prKey(repoOf(r), int(n))])
	s.mu.Unlock()
	page(w, r, list, nil)
}

func (s *Server) requiredChecks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks, ok := s.protection[repoOf(r)+"@"+r.PathValue("branch")]
	s.mu.Unlock()
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "Branch not protected", "https://docs.github.com/rest/branches/branch-protection#get-status-checks-protection")
	case checks == nil:
		writeError(w, http.StatusNotFound, "Required status checks not enabled", "https://docs.github.com/rest/branches/branch-protection#get-status-checks-protection")
	default:
		list := []map[string]any{}
		for _, c := range checks {
			list = append(list, map[string]any{"context": c, "app_id": nil})
		}
		writeJSON(w, http.StatusOK, map[string]any{"strict": true, "contexts": checks, "checks": list})
	}
}

func checkRunJSON(cr *CheckRun) map[string]any {
	out := map[string]any{
		"id": cr.ID, "name": cr.Name, "head_sha": cr.HeadSHA, "status": cr.Status,
		"external_id": cr.ExternalID, "details_url": cr.DetailsURL,
		"output": map[string]any{"title": cr.Title, "summary": cr.Summary, "annotations_count": len(cr.Annotations)},
	}
	if cr.Conclusion != "" {
		out["conclusion"] = cr.Conclusion
	}
	return out
}

func (s *Server) listCheckRuns(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var list []map[string]any
	for _, cr := range s.checkRuns {
		if cr.Repo == repoOf(r) && cr.HeadSHA == r.PathValue("sha") {
			list = append(list, checkRunJSON(cr))
		}
	}
	s.mu.Unlock()
	total := len(list)
	page(w, r, list, func(p []map[string]any) any {
		return map[string]any{"total_count": total, "check_runs": p}
	})
}

func (s *Server) combinedStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	list := slices.Clone(s.statuses[repoOf(r)+"@"+r.PathValue("sha")])
	s.mu.Unlock()
	state := "success"
	for _, st := range list {
		switch st["state"] {
		case "failure", "error":
			state = "failure"
		case "pending":
			if state == "success" {
				state = "pending"
			}
		}
	}
	if len(list) == 0 {
		state = "pending"
	}
	page(w, r, list, func(p []map[string]any) any {
		return map[string]any{"state": state, "sha": r.PathValue("sha"), "total_count": len(list), "statuses": p}
	})
}

// checkRunIn is a check run create or update body.
type checkRunIn struct {
	Name       *string `json:"name"`
	HeadSHA    string  `json:"head_sha"`
	Status     *string `json:"status"`
	Conclusion *string `json:"conclusion"`
	DetailsURL *string `json:"details_url"`
	ExternalID *string `json:"external_id"`
	Output     *struct {
		Title       string       `json:"title"`
		Summary     string       `json:"summary"`
		Text        string       `json:"text"`
		Annotations []Annotation `json:"annotations"`
	} `json:"output"`
}

// apply checks in as GitHub does and applies it to cr; it answers the
// error and returns false when GitHub would refuse it.
func (in *checkRunIn) apply(w http.ResponseWriter, cr *CheckRun) bool {
	if in.Output != nil {
		if len(in.Output.Annotations) > 50 {
			writeError(w, http.StatusUnprocessableEntity, "Validation Failed: at most 50 annotations per request", "")
			return false
		}
		if in.Output.Summary == "" || in.Output.Title == "" || len(in.Output.Summary) > 65535 || len(in.Output.Text) > 65535 {
			writeError(w, http.StatusUnprocessableEntity, "Validation Failed: output needs a title and a summary of at most 65535 characters", "")
			return false
		}
		for _, a := range in.Output.Annotations {
			if a.Path == "" || a.StartLine < 1 || a.EndLine < a.StartLine || a.Message == "" {
				writeError(w, http.StatusUnprocessableEntity, "Validation Failed: an annotation needs a path, start_line ≥ 1, end_line and a message", "")
				return false
			}
		}
	}
	if in.Status != nil && *in.Status == "completed" && in.Conclusion == nil {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: conclusion is required when status is completed", "")
		return false
	}
	if in.Name != nil {
		cr.Name = *in.Name
	}
	if in.Status != nil {
		cr.Status = *in.Status
	}
	if in.Conclusion != nil {
		cr.Conclusion, cr.Status = *in.Conclusion, "completed"
	}
	if in.DetailsURL != nil {
		cr.DetailsURL = *in.DetailsURL
	}
	if in.ExternalID != nil {
		cr.ExternalID = *in.ExternalID
	}
	if in.Output != nil {
		cr.Title, cr.Summary, cr.Text = in.Output.Title, in.Output.Summary, in.Output.Text
		cr.Annotations = append(cr.Annotations, in.Output.Annotations...)
	}
	cr.Calls++
	return true
}

func (s *Server) createCheckRun(w http.ResponseWriter, r *http.Request) {
	var in checkRunIn
	if !decode(w, r, &in) {
		return
	}
	if in.Name == nil || *in.Name == "" || in.HeadSHA == "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: name and head_sha are required", "")
		return
	}
	cr := &CheckRun{Repo: repoOf(r), HeadSHA: in.HeadSHA, Status: "queued"}
	if !in.apply(w, cr) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cr.ID = s.id()
	s.checkRuns = append(s.checkRuns, cr)
	writeJSON(w, http.StatusCreated, checkRunJSON(cr))
}

func (s *Server) updateCheckRun(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(w, r, "id")
	var in checkRunIn
	if !ok || !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.checkRuns, func(cr *CheckRun) bool { return cr.ID == id && cr.Repo == repoOf(r) })
	if i < 0 {
		writeError(w, http.StatusNotFound, "Not Found", "")
		return
	}
	if in.apply(w, s.checkRuns[i]) {
		writeJSON(w, http.StatusOK, checkRunJSON(s.checkRuns[i]))
	}
}

func deploymentJSON(d *Deployment) map[string]any {
	return map[string]any{
		"id": d.ID, "ref": d.Ref, "sha": d.Ref, "task": d.Task, "environment": d.Environment,
		"description": d.Description, "transient_environment": d.Transient, "production_environment": d.Production,
	}
}

func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Ref                   string    `json:"ref"`
		Task                  string    `json:"task"`
		Environment           string    `json:"environment"`
		Description           string    `json:"description"`
		RequiredContexts      *[]string `json:"required_contexts"`
		TransientEnvironment  bool      `json:"transient_environment"`
		ProductionEnvironment bool      `json:"production_environment"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Ref == "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: ref is required", "")
		return
	}
	if in.Environment == "" {
		in.Environment = "production" // GitHub's default
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &Deployment{ID: s.id(), Repo: repoOf(r), Ref: in.Ref, Task: in.Task, Environment: in.Environment,
		Description: in.Description, Transient: in.TransientEnvironment, Production: in.ProductionEnvironment}
	s.deployments = append(s.deployments, d)
	writeJSON(w, http.StatusCreated, deploymentJSON(d))
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	env := r.URL.Query().Get("environment")
	s.mu.Lock()
	var list []map[string]any
	for i := len(s.deployments) - 1; i >= 0; i-- { // newest first, as GitHub lists them
		d := s.deployments[i]
		if d.Repo == repoOf(r) && (env == "" || d.Environment == env) {
			list = append(list, deploymentJSON(d))
		}
	}
	s.mu.Unlock()
	page(w, r, list, nil)
}

func (s *Server) deploymentLocked(r *http.Request, w http.ResponseWriter) *Deployment {
	id, ok := pathInt(w, r, "id")
	if !ok {
		return nil
	}
	for _, d := range s.deployments {
		if d.ID == id && d.Repo == repoOf(r) {
			return d
		}
	}
	writeError(w, http.StatusNotFound, "Not Found", "")
	return nil
}

var deploymentStates = []string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}

func (s *Server) createDeploymentStatus(w http.ResponseWriter, r *http.Request) {
	var in DeploymentStatus
	if !decode(w, r, &in) {
		return
	}
	if !slices.Contains(deploymentStates, in.State) {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: state is not a deployment state", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deploymentLocked(r, w)
	if d == nil {
		return
	}
	in.ID = s.id()
	d.Statuses = append(d.Statuses, in)
	writeJSON(w, http.StatusCreated, map[string]any{"id": in.ID, "state": in.State, "log_url": in.LogURL, "environment_url": in.EnvironmentURL})
}

func (s *Server) listDeploymentStatuses(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d := s.deploymentLocked(r, w)
	var list []map[string]any
	if d != nil {
		for i := len(d.Statuses) - 1; i >= 0; i-- { // newest first
			st := d.Statuses[i]
			list = append(list, map[string]any{"id": st.ID, "state": st.State, "description": st.Description})
		}
	}
	s.mu.Unlock()
	if d != nil {
		page(w, r, list, nil)
	}
}

func (s *Server) membership(w http.ResponseWriter, r *http.Request) {
	team := r.PathValue("org") + "/" + r.PathValue("slug")
	s.mu.Lock()
	state := s.teams[team][r.PathValue("user")]
	s.mu.Unlock()
	if state == "" {
		writeError(w, http.StatusNotFound, "Not Found", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"state": state, "role": "member", "url": "/orgs/" + team + "/memberships/" + r.PathValue("user")})
}
