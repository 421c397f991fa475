package web

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// Store is what the pages read; the storage package implements it.
type Store interface {
	dayops.RunReader
	// Runs returns the runs f selects, newest first, without their steps.
	Runs(ctx context.Context, f dayops.RunFilter) ([]*dayops.Run, error)
	// LogsBefore returns the last limit lines of a run below beforeSeq (of
	// all when 0), in order.
	LogsBefore(ctx context.Context, runID, beforeSeq int64, limit int) ([]dayops.LogLine, error)
	// SearchLogs returns up to limit lines after afterSeq that contain text
	// (ignoring ASCII case; "" any) and that step printed (< 0: any), in order.
	SearchLogs(ctx context.Context, runID int64, step int, text string, afterSeq int64, limit int) ([]dayops.LogLine, error)
	// Approvals returns a run's approvals and denials (every gate for ""),
	// oldest first.
	Approvals(ctx context.Context, runID int64, gate string) ([]dayops.Approval, error)
	// Checklist returns the questions of a run's checklist steps with their
	// answers so far.
	Checklist(ctx context.Context, runID int64) ([]dayops.Answer, error)
}

// Changes tells what changed in run's definition between the last successful
// run of it in the same environment before run and run's own revision: that
// run's revision and a unified diff, both "" when there is none or nothing
// changed.
type Changes func(ctx context.Context, run *dayops.Run) (since, diff string, err error)

// Options configure a Server.
type Options struct {
	Store    Store         // required
	Events   dayops.Events // the live feed of runs; required
	Changes  Changes       // nil: run pages show no diff
	Redactor *dayops.Redactor
	// BaseURL is the public URL of the pages, for the links RunURL signs;
	// "" makes them relative ("/runs/ID?…").
	BaseURL string
	// LinkKey signs run links and login cookies (DAYOPS_WEB_LINK_KEY); nil:
	// a random key of this process, so links end when it does.
	LinkKey []byte
	LinkTTL time.Duration // lifetime of a signed link, default 168h
	// ProxyHeader names the header a reverse proxy sets to the signed-in
	// user; it is believed only from TrustedProxies.
	ProxyHeader    string
	TrustedProxies []netip.Prefix
	// Password is the shared secret of the login form (DAYOPS_WEB_PASSWORD).
	Password string
	// Loopback opens every page without a login to requests from the
	// loopback address only: `dayops demo`, whose pages nobody else reaches.
	Loopback bool
	// Heartbeat is how often an idle live log sends a comment so that
	// proxies keep the connection, default 15s.
	Heartbeat time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
}

// DefaultLinkTTL is how long a signed link opens its run by default.
const DefaultLinkTTL = 168 * time.Hour

// minKeyLength is the shortest DAYOPS_WEB_LINK_KEY accepted (config
// refuses shorter ones first).
const minKeyLength = 16

// Server serves the run pages. It is safe for concurrent use.
type Server struct {
	opts  Options
	key   []byte
	now   func() time.Time
	log   *slog.Logger
	pages *template.Template
	wrong wrongPasswords
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns a Server, or an error saying which option is wrong.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Events == nil {
		return nil, errors.New("web: Store and Events are required")
	}
	if opts.LinkTTL < 0 {
		return nil, dayops.Errorf(dayops.KindInvalid, "web.link_ttl is %s: it must be positive, e.g. 168h", opts.LinkTTL)
	}
	if opts.LinkTTL == 0 {
		opts.LinkTTL = DefaultLinkTTL
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.ProxyHeader != "" && len(opts.TrustedProxies) == 0 {
		return nil, dayops.Errorf(dayops.KindInvalid, "web.proxy_header %s is set but web.trusted_proxies is empty: list the proxy's addresses, e.g. [10.0.0.0/8]", opts.ProxyHeader)
	}
	s := &Server{opts: opts, now: opts.Now, log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	switch {
	case len(opts.LinkKey) == 0:
		s.key = make([]byte, 32)
		rand.Read(s.key)
		s.log.Warn("DAYOPS_WEB_LINK_KEY is unset: run links are signed with a random key of this process and stop opening when it ends")
	case len(opts.LinkKey) < minKeyLength:
		return nil, dayops.Errorf(dayops.KindInvalid, "DAYOPS_WEB_LINK_KEY has %d characters: use at least %d random ones, e.g. from `openssl rand -hex 32`", len(opts.LinkKey), minKeyLength)
	default:
		s.key = opts.LinkKey
	}
	if !s.loginConfigured() && !opts.Loopback {
		s.log.Warn("the run pages need a login and none is configured: only signed run links open; set DAYOPS_WEB_PASSWORD or web.proxy_header and web.trusted_proxies")
	}
	t, err := template.New("").Funcs(s.funcs()).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parsing the page templates: %w", err)
	}
	s.pages = t
	return s, nil
}

// Routes registers the pages on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /web/", http.StripPrefix("/web/", s.headers(files, "public, max-age=3600")))
	mux.Handle("GET /login", s.headers(http.HandlerFunc(s.loginForm), "no-store"))
	mux.Handle("POST /login", s.headers(http.HandlerFunc(s.login), "no-store"))
	mux.Handle("GET /runs", s.headers(s.needLogin(s.runList), "no-store"))
	mux.Handle("GET /runs/{id}", s.headers(s.needRun(s.runPage), "no-store"))
	mux.Handle("GET /runs/{id}/log", s.headers(s.needRun(s.logPage), "no-store"))
	mux.Handle("GET /runs/{id}/log.txt", s.headers(s.needRun(s.logText), "no-store"))
	mux.Handle("GET /runs/{id}/events", s.headers(s.needRun(s.liveLog), "no-store"))
	mux.Handle("GET /insights", s.headers(s.needLogin(s.insightsPage), "no-store"))
}

// headers sets what every answer of the pages carries: no signed link
// leaks through a Referer, no script but ours runs, no other site frames
// a page.
func (s *Server) headers(h http.Handler, cache string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", cache)
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.ServeHTTP(w, r)
	})
}

// redact masks secrets in s.
func (s *Server) redact(text string) string { return s.opts.Redactor.Redact(text) }

// fail answers with an error page: the Message of a dayops.Error, or
// "internal error" (logged whole).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch dayops.KindOf(err) {
	case dayops.KindNotFound:
		code = http.StatusNotFound
	case dayops.KindInvalid:
		code = http.StatusBadRequest
	case dayops.KindForbidden:
		code = http.StatusForbidden
	case dayops.KindUnavailable, dayops.KindTimeout:
		code = http.StatusServiceUnavailable
	}
	msg := s.redact(dayops.UserMessage(err, "at "+s.now().UTC().Format(time.RFC3339)))
	if code == http.StatusInternalServerError {
		s.log.Error("serving a page", "path", r.URL.Path, "err", s.redact(err.Error()))
	}
	s.problem(w, code, msg, "")
}

// problem answers code with a page that says what is wrong and what to do.
func (s *Server) problem(w http.ResponseWriter, code int, msg, hint string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	s.pages.ExecuteTemplate(w, "problem.html", map[string]any{"Title": http.StatusText(code), "Message": msg, "Hint": hint})
}
