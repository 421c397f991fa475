package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// pageSize is how many runs the list shows; tailLines how many log lines
// a run page opens with.
const (
	pageSize  = 50
	tailLines = 500
)

var runStates = []dayops.RunState{dayops.RunPending, dayops.RunAwaitingApproval, dayops.RunQueued, dayops.RunRunning,
	dayops.RunSucceeded, dayops.RunFailed, dayops.RunCancelled, dayops.RunTimedOut, dayops.RunDenied, dayops.RunInterrupted}

var triggers = []dayops.Trigger{dayops.TriggerChat, dayops.TriggerButton, dayops.TriggerPRComment, dayops.TriggerCLI,
	dayops.TriggerPullRequest, dayops.TriggerSchedule, dayops.TriggerAlert, dayops.TriggerIncident}

// funcs are the templates' helpers; redact is bound per server.
func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"redact": s.redact,
		"short":  dayops.ShortRevision,
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"duration": func(r *dayops.Run) string {
			if r.StartedAt.IsZero() {
				return ""
			}
			return r.Duration(s.now()).Round(time.Second / 10).String()
		},
		"stepDuration": func(st dayops.StepRun) string {
			switch {
			case st.StartedAt.IsZero():
				return ""
			case st.EndedAt.IsZero():
				return s.now().Sub(st.StartedAt).Round(time.Second).String() + "…"
			}
			return st.EndedAt.Sub(st.StartedAt).Round(time.Millisecond).String()
		},
		"lineOf": func(steps map[int]string, l dayops.LogLine) lineView { return s.lineView(steps, l) },
	}
}

// page is what every page template reads.
type page struct {
	Title  string
	User   string
	Viewer viewer
}

// LinkQuery is the signed link's query for URLs of the same run, after sep.
func (p page) LinkQuery(sep string) template.URL { return template.URL(p.Viewer.linkQuery(sep)) }

// render executes one template into w.
func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := s.pages.ExecuteTemplate(w, name, data); err != nil {
		s.log.Error("rendering a page", "template", name, "err", err)
	}
}

// runsPage is the run list.
type runsPage struct {
	page
	Filter   dayops.RunFilter
	State    dayops.RunState
	Trigger  dayops.Trigger
	Filtered bool
	States   []dayops.RunState
	Triggers []dayops.Trigger
	Runs     []*dayops.Run
	Older    template.URL
	query    url.Values
}

// Query is the list's URL with key set to value (removed when ""), from
// the newest run on.
func (p runsPage) Query(key, value string) template.URL {
	q := url.Values{}
	for k, v := range p.query {
		if k != "before" {
			q[k] = v
		}
	}
	q.Del(key)
	if value != "" {
		q.Set(key, value)
	}
	if len(q) == 0 {
		return "/runs"
	}
	return template.URL("/runs?" + q.Encode())
}

// runList serves /runs.
func (s *Server) runList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := runsPage{page: page{Title: "Runs", User: viewerOf(r.Context()).User}, States: runStates, Triggers: triggers, query: url.Values{}}
	for _, k := range []string{"definition", "environment", "state", "person", "trigger"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			p.query.Set(k, v)
			p.Filtered = true
		}
	}
	p.Filter = dayops.RunFilter{Definition: p.query.Get("definition"), Environment: p.query.Get("environment"),
		Actor: p.query.Get("person"), Limit: pageSize + 1}
	if st := dayops.RunState(p.query.Get("state")); st != "" {
		if !slices.Contains(runStates, st) {
			s.problem(w, http.StatusBadRequest, fmt.Sprintf("state %q is not a run state: use one of %s", st, joinOf(runStates)), "")
			return
		}
		p.State, p.Filter.States = st, []dayops.RunState{st}
	}
	if tr := dayops.Trigger(p.query.Get("trigger")); tr != "" {
		if !slices.Contains(triggers, tr) {
			s.problem(w, http.StatusBadRequest, fmt.Sprintf("trigger %q is not a trigger: use one of %s", tr, joinOf(triggers)), "")
			return
		}
		p.Trigger, p.Filter.Trigger = tr, tr
	}
	if b := q.Get("before"); b != "" {
		id, err := strconv.ParseInt(b, 10, 64)
		if err != nil || id <= 0 {
			s.problem(w, http.StatusBadRequest, fmt.Sprintf("before %q is not a run ID: it is the run the page starts below, e.g. before=120", b), "")
			return
		}
		p.Filter.BeforeID = id
	}
	runs, err := s.opts.Store.Runs(r.Context(), p.Filter)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(runs) > pageSize {
		runs = runs[:pageSize]
		q := url.Values{}
		for k, v := range p.query {
			q[k] = v
		}
		q.Set("before", strconv.FormatInt(runs[pageSize-1].ID, 10))
		p.Older = template.URL("/runs?" + q.Encode())
	}
	p.Runs = runs
	s.render(w, http.StatusOK, "runs.html", p)
}

func joinOf[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

// runView is the run page.
type runView struct {
	page
	Run        *dayops.Run
	Approvals  []dayops.Approval
	Review     []dayops.Answer // checklist questions and answers
	HasChanges bool
	Since      string
	Diff       string
	ChangesErr string
	Steps      map[int]string
	Lines      []dayops.LogLine
	Earlier    int64 // the first line shown, when there are lines before it
	Last       int64 // the last line shown
	Live       bool
	LogErr     string
}

// diffLine is one line of the changes, classed for colour.
type diffLine struct{ Class, Text string }

// DiffLines splits the diff for the template.
func (v runView) DiffLines() []diffLine {
	var out []diffLine
	for _, l := range strings.Split(strings.TrimSuffix(v.Diff, "\n"), "\n") {
		c := ""
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			c = "file"
		case strings.HasPrefix(l, "@@"):
			c = "hunk"
		case strings.HasPrefix(l, "+"):
			c = "add"
		case strings.HasPrefix(l, "-"):
			c = "del"
		}
		out = append(out, diffLine{c, l})
	}
	return out
}

// runPage serves /runs/{id}. Its parts are sent as they are ready, the
// summary first, so that the page starts at once whatever the log's size.
func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vw := viewerOf(ctx)
	run, err := s.opts.Store.Run(ctx, vw.RunID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	approvals, err := s.opts.Store.Approvals(ctx, run.ID, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	review, err := s.opts.Store.Checklist(ctx, run.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := runView{page: page{Title: fmt.Sprintf("Run #%d %s %s", run.ID, run.Definition, run.Environment), User: vw.User, Viewer: vw},
		Run: run, Approvals: approvals, Review: review, Steps: stepNames(run), Live: !run.State.Final()}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rc := http.NewResponseController(w)
	for _, part := range []string{"run-top", "run-changes", "run-steps", "run-log"} {
		switch part {
		case "run-changes":
			s.changes(r, &v)
		case "run-log":
			lines, err := s.opts.Store.LogsBefore(ctx, run.ID, 0, tailLines)
			if err != nil {
				s.log.Error("reading the end of a log", "run_id", run.ID, "err", err)
				v.LogErr = "the log cannot be read now; reload the page to try again"
			}
			v.Lines = lines
			if len(lines) > 0 {
				v.Last = lines[len(lines)-1].Seq
				if len(lines) == tailLines {
					v.Earlier = lines[0].Seq
				}
			}
		}
		if err := s.pages.ExecuteTemplate(w, part, v); err != nil {
			s.log.Error("rendering a run page", "run_id", run.ID, "part", part, "err", err)
			return
		}
		rc.Flush()
	}
}

// changes fills the definition's diff since its last success.
func (s *Server) changes(r *http.Request, v *runView) {
	if s.opts.Changes == nil {
		return
	}
	v.HasChanges = true
	since, diff, err := s.opts.Changes(r.Context(), v.Run)
	if err != nil {
		s.log.Warn("reading a run's changes", "run_id", v.Run.ID, "err", s.redact(err.Error()))
		v.ChangesErr = "the changes since the last successful run cannot be shown: " + s.redact(dayops.UserMessage(err, "see the server log"))
		return
	}
	v.Since, v.Diff = since, s.redact(diff)
}

func stepNames(r *dayops.Run) map[int]string {
	out := make(map[int]string, len(r.Steps))
	for _, st := range r.Steps {
		out[st.Index] = st.Name
	}
	return out
}

// Filter is the query of a log page's search and step, for its links.
func (v logView) Filter() template.URL {
	q := url.Values{}
	if v.Search != "" {
		q.Set("q", v.Search)
	}
	if v.Step >= 0 {
		q.Set("step", strconv.Itoa(v.Step))
	}
	if len(q) == 0 {
		return ""
	}
	return template.URL(q.Encode() + "&")
}

// lineView is one log line as a page shows it, redacted.
type lineView struct {
	Seq    int64
	Step   string
	Stream dayops.Stream
	Text   string
}

func (s *Server) lineView(steps map[int]string, l dayops.LogLine) lineView {
	name, ok := steps[l.Step]
	if !ok {
		name = "step " + strconv.Itoa(l.Step)
	}
	return lineView{Seq: l.Seq, Step: s.redact(name), Stream: l.Stream, Text: s.redact(l.Text)}
}
