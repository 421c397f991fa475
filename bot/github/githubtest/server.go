// Package githubtest is a fake GitHub REST API for tests: an httptest
// server, reached through a client's base URL (github.api_url), that keeps
// state (pull requests, reviews, branch protection, statuses, check runs,
// comments with their edits, reactions, deployments and their statuses,
// team memberships), records every call, and fails on demand (5xx, 403 with
// a secondary rate limit, 429, or the primary limit spent).
//
//	gh := githubtest.New(t)
//	gh.SetPullRequest(githubtest.PR{Repo: "o/r", Number: 12, Author: "alice", HeadSHA: "abc"})
//	gh.FailNext("POST /repos/o/r/deployments", 502, 1)
//	... client with BaseURL gh.URL ...
//	gh.Deployments("o/r")
package githubtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Call is one request the server received.
type Call struct {
	Method string
	Path   string // without the query
	Query  string
	Body   string
	Status int // what the server answered
}

// String is "METHOD /path".
func (c Call) String() string { return c.Method + " " + c.Path }

// failure is an answer the server gives instead of the real one.
type failure struct {
	method, prefix string
	status, n      int
	retryAfter     int       // seconds; -1: no Retry-After
	ownRetry       bool      // retryAfter given, else Server.RetryAfter
	message        string    // a plain refusal (RefuseNext) with this message
	reset          time.Time // primary limit spent until then
}

// Server is the fake GitHub. All its methods are safe for concurrent use.
type Server struct {
	// URL is the API's base URL: give it as ClientOptions.BaseURL.
	URL string
	// RetryAfter is the Retry-After (seconds) of 403 and 429 failures;
	// default 1.
	RetryAfter int
	// Login writes the comments made through the API; default "dayops[bot]".
	Login string

	srv *httptest.Server
	mux *http.ServeMux

	mu          sync.Mutex
	token       string
	calls       []Call
	failures    []*failure
	nextID      int64
	comments    []*Comment
	deployments []*Deployment
	checkRuns   []*CheckRun
	prs         map[string]map[string]any // "owner/name#12" → the pull request's JSON
	reviews     map[string][]map[string]any
	protection  map[string][]string // "owner/name@branch" → required checks
	statuses    map[string][]map[string]any
	teams       map[string]map[string]string // "org/slug" → login → state
}

// Cleaner is what New needs of its caller: a testing.TB, or a program
// (the bench) that closes the server itself.
type Cleaner interface {
	Cleanup(func())
}

// New starts a fake GitHub, closed when the test ends.
func New(t Cleaner) *Server {
	s := &Server{
		RetryAfter: 1,
		Login:      "dayops[bot]",
		nextID:     1000,
		prs:        map[string]map[string]any{},
		reviews:    map[string][]map[string]any{},
		protection: map[string][]string{},
		statuses:   map[string][]map[string]any{},
		teams:      map[string]map[string]string{},
	}
	s.mux = http.NewServeMux()
	s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/"
	t.Cleanup(s.srv.Close)
	return s
}

// RequireToken makes every call without "Authorization: Bearer TOKEN"
// (or "token TOKEN") answer 401.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// FailNext makes the next n calls whose "METHOD /path" or "/path" starts
// with prefix (a path alone matches every method) answer status instead:
// 5xx as a server fault, 403 as a secondary rate limit and 429 as too many
// requests, both with Retry-After (Server.RetryAfter).
func (s *Server) FailNext(prefix string, status, n int) {
	s.addFailure(prefix, &failure{status: status, n: n, retryAfter: -1})
}

// LimitNext is FailNext for a 403 or 429 rate limit with the given
// Retry-After in seconds; negative: none.
func (s *Server) LimitNext(prefix string, status, n, retryAfter int) {
	s.addFailure(prefix, &failure{status: status, n: n, retryAfter: retryAfter, ownRetry: true})
}

// RefuseNext makes the next n matching calls answer status with message as
// a plain refusal, no rate limit about it: a token without the permission
// (403 "Resource not accessible by integration"), a locked conversation.
func (s *Server) RefuseNext(prefix string, status, n int, message string) {
	s.addFailure(prefix, &failure{status: status, n: n, retryAfter: -1, ownRetry: true, message: message})
}

// SpendRateLimit makes the next n matching calls answer 403 with
// X-RateLimit-Remaining: 0 and X-RateLimit-Reset: reset, GitHub's primary
// rate limit.
func (s *Server) SpendRateLimit(prefix string, n int, reset time.Time) {
	s.addFailure(prefix, &failure{status: http.StatusForbidden, n: n, retryAfter: -1, reset: reset})
}

// ClearFailures drops every failure still due: GitHub is back.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}

func (s *Server) addFailure(prefix string, f *failure) {
	if m, p, ok := strings.Cut(prefix, " "); ok {
		f.method, f.prefix = m, p
	} else {
		f.prefix = prefix
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, f)
}

// Calls are the requests received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo are the calls whose "METHOD /path" or "/path" starts with prefix.
func (s *Server) CallsTo(prefix string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if strings.HasPrefix(c.String(), prefix) || strings.HasPrefix(c.Path, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// serve records the call, answers a failure when one is due, else routes it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.mu.Lock()
		s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Status: rec.status})
		s.mu.Unlock()
	}()
	s.mu.Lock()
	token := s.token
	f := s.dueFailureLocked(r)
	retry := s.RetryAfter
	s.mu.Unlock()
	if token != "" {
		auth := r.Header.Get("Authorization")
		if auth != "Bearer "+token && auth != "token "+token {
			writeError(rec, http.StatusUnauthorized, "Bad credentials", "")
			return
		}
	}
	if f != nil {
		if f.ownRetry {
			retry = f.retryAfter
		}
		if retry >= 0 && f.message == "" && (f.status == http.StatusForbidden || f.status == http.StatusTooManyRequests) && f.reset.IsZero() {
			rec.Header().Set("Retry-After", strconv.Itoa(retry))
		}
		switch {
		case f.message != "":
			writeError(rec, f.status, f.message, "")
		case !f.reset.IsZero():
			rec.Header().Set("X-RateLimit-Limit", "5000")
			rec.Header().Set("X-RateLimit-Remaining", "0")
			rec.Header().Set("X-RateLimit-Reset", strconv.FormatInt(f.reset.Unix(), 10))
			writeError(rec, f.status, "API rate limit exceeded for installation.", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
		case f.status == http.StatusForbidden:
			writeError(rec, f.status, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
		case f.status == http.StatusTooManyRequests:
			writeError(rec, f.status, "Too many requests", "")
		default:
			writeError(rec, f.status, http.StatusText(f.status), "")
		}
		return
	}
	s.mux.ServeHTTP(rec, r)
}

func (s *Server) dueFailureLocked(r *http.Request) *failure {
	for i, f := range s.failures {
		if (f.method == "" || f.method == r.Method) && strings.HasPrefix(r.URL.Path, f.prefix) {
			f.n--
			if f.n <= 0 {
				s.failures = append(s.failures[:i], s.failures[i+1:]...)
			}
			return f
		}
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// writeError answers GitHub's way: {"message", "documentation_url"}.
func writeError(w http.ResponseWriter, status int, msg, doc string) {
	if doc == "" {
		doc = "https://docs.github.com/rest"
	}
	writeJSON(w, status, map[string]any{"message": msg, "documentation_url": doc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// page answers one page of items (per_page, page) with GitHub's Link header.
func page[T any](w http.ResponseWriter, r *http.Request, items []T, wrap func([]T) any) {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > 100 {
		per = 30
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	n = max(n, 1)
	from := min((n-1)*per, len(items))
	to := min(from+per, len(items))
	if to < len(items) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n+1))
		q.Set("per_page", strconv.Itoa(per))
		w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?%s>; rel="next"`, r.Host, r.URL.Path, q.Encode()))
	}
	out := append([]T{}, items[from:to]...)
	if wrap != nil {
		writeJSON(w, http.StatusOK, wrap(out))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// decode reads the request body into v, answering 400 when it is not JSON.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", "")
		return false
	}
	return true
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

func repoOf(r *http.Request) string { return r.PathValue("owner") + "/" + r.PathValue("repo") }

func prKey(repo string, n int) string { return repo + "#" + strconv.Itoa(n) }
