package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	slackdoor "github.com/dayops/dayops/bot/slack"
	"github.com/dayops/dayops/config"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/gitsync"
	"github.com/dayops/dayops/storage"
	"github.com/dayops/dayops/web"
)

// serveStarted, when set (by tests), is called once the server is up,
// before serve waits for the end of its context. It lets a test start runs
// on the server's own executor and read its store without configuring a
// door (the Slack tests go through the door).
var serveStarted func(*server)

func runServe(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("serve")
	fs := newFlags(v.name)
	path := fs.String("config", "", "server configuration `file` (YAML); the environment overrides it (see docs/configuration.md)")
	db := fs.String("database", "", "SQLite database `path` or postgres:// URL; overrides database of the configuration and DAYOPS_DATABASE")
	if _, code, ok := parseArgs(io, v, fs, args, 0, 0); !ok {
		return code
	}
	cfg, err := config.Load(*path, io.Getenv)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops serve: %s\n", dayops.UserMessage(err, ""))
		return exitUsage
	}
	if *db != "" {
		if err := cfg.SetDatabase(*db); err != nil {
			fmt.Fprintf(io.Stderr, "dayops serve: %s\n", dayops.UserMessage(err, ""))
			return exitUsage
		}
	}
	secrets, err := stepSecrets()
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops serve: %s\n", dayops.UserMessage(err, ""))
		return exitUsage
	}
	vars := maps.Clone(cfg.Vars)
	if vars == nil {
		vars = map[string]string{}
	}
	maps.Copy(vars, envWithPrefix("DAYOPS_VAR_"))           // the environment overrides the file
	logger := slog.New(slog.NewJSONHandler(io.Stderr, nil)) // for log collectors; the terminal verbs keep text
	s, err := startServer(ctx, cfg, secrets, vars, io.Getenv("DAYOPS_METRICS_TOKEN"), logger)
	if err != nil && ctx.Err() != nil {
		// SIGTERM before the server was up: nothing ran yet.
		logger.Info("stopped before start-up finished", "err", dayops.NewRedactor().Redact(err.Error()))
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops serve: %s\n", dayops.NewRedactor().Redact(err.Error()))
		return exitFail
	}
	if serveStarted != nil {
		serveStarted(s)
	}
	<-ctx.Done()
	s.shutdown()
	return exitOK
}

// server is a running `dayops serve`.
type server struct {
	cfg    *config.Config
	log    *slog.Logger
	addr   string // the address the HTTP server listens on
	store  *storage.Store
	syncer *gitsync.Syncer
	exec   *executor.Executor
	bot    *bot.Bot
	web    *web.Server
	http   *http.Server

	stopDoors func()             // stops the doors taking new work
	stopSync  context.CancelFunc // ends the sync loop
	syncDone  chan struct{}
	serveDone chan struct{}  // the executor's periodic work ended
	draining  atomic.Bool    // SIGTERM came: no new work, /readyz says so
	up        atomic.Bool    // start-up finished: executor, bot and doors run
	closers   []func() error // what close releases, last first
}

// startServer opens the database, serves HTTP, syncs the ops repo once,
// recovers the runs a previous process left, and starts the executor, the
// bot and the sync loop. On error everything started is released.
func startServer(ctx context.Context, cfg *config.Config, secrets, vars map[string]string, metricsToken string, logger *slog.Logger) (_ *server, err error) {
	s := &server{cfg: cfg, log: logger, syncDone: make(chan struct{}), serveDone: make(chan struct{})}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	logger.Info("starting", "config", cfg.String())
	if s.store, err = storage.Open(ctx, cfg.DatabaseURL(), storage.Options{Logger: logger}); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.store.Close)
	// What this process claimed in the inbox and the outbox and did not
	// finish goes to another replica at once, not when the claims expire.
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return s.store.ReleaseClaims(ctx, executor.ProcessOwner())
	})

	// The git cache lives beside a SQLite file. On PostgreSQL there is no
	// file: each process (each replica) keeps its own cache in a temporary
	// directory, removed when it stops.
	cacheParent := filepath.Dir(cfg.Database)
	if storage.IsPostgres(cfg.Database) {
		if cacheParent, err = os.MkdirTemp("", "dayops-serve-"); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, func() error { return os.RemoveAll(cacheParent) })
	}
	dbDir, err := filepath.Abs(cacheParent)
	if err != nil {
		return nil, err
	}
	notices := &syncNotices{} // slack.notify_channel hears of stalled syncs (notices.go)
	s.syncer, err = gitsync.New(gitsync.Options{
		URL: cfg.Repo.URL, Branch: cfg.Repo.Branch, Path: cfg.Repo.Path,
		CacheDir: filepath.Join(dbDir, "dayops-cache"), Interval: cfg.Repo.Interval,
		Token: cfg.Repo.Token.Value(), SSHKeyPath: cfg.Repo.SSHKeyPath, KnownHostsPath: cfg.KnownHosts,
		History: s.store, Events: notices, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.syncer.Close)
	// The HTTP server starts once everything its handlers read is set, and
	// before the first sync, so that /readyz can say why it is not ready.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	s.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	metrics := web.NewMetrics(s.store, logger)
	mux.Handle("GET /metrics", metrics.Handler(metricsToken))
	s.http = &http.Server{Handler: metrics.Instrument(mux), ReadHeaderTimeout: 5 * time.Second}
	go s.http.Serve(ln)
	s.closers = append(s.closers, s.http.Close)
	logger.Info("listening", "addr", s.addr)

	// One sync before recovering: a run waiting for an approval is taken
	// over at its revision, which needs the clone. A failure is not fatal:
	// /readyz says why, and the loop keeps trying.
	if rec, err := s.syncer.Sync(ctx); err != nil || s.syncer.Catalog() == nil {
		logger.Warn("first sync found no valid catalog", "outcome", rec.Outcome, "revision", rec.Revision, "errors", len(rec.Errors), "err", err)
	}

	// The executor's events go to this process's bot (events.Local: each
	// run is reported by the replica that drives it) and, on PostgreSQL,
	// to the other replicas, whose run pages follow any replica's runs.
	events := s.store.Events(ctx, nil)
	s.closers = append(s.closers, events.Close)
	followCtx, stopFollow := context.WithCancel(context.WithoutCancel(ctx))
	followDone := make(chan struct{})
	go func() { defer close(followDone); metrics.Follow(followCtx, events) }()
	s.closers = append(s.closers, func() error { stopFollow(); <-followDone; return nil })
	s.exec, err = executor.New(executor.Options{
		Store: s.store, Catalogs: s.syncer, Workspace: s.syncer, Events: events, Policy: cfg.Policy,
		Secrets: secrets, Vars: vars, RunAs: cfg.RunAs, Logger: logger, Targets: executorTargets(cfg),
	})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.exec.Close)
	held := serverSecrets(cfg, secrets)
	if metricsToken != "" {
		held = append(held, metricsToken)
	}
	redactor := dayops.NewRedactor(held...)
	if s.web, err = startWeb(cfg, s.store, s.syncer, events, redactor, mux, logger); err != nil {
		return nil, err
	}
	var runURL func(int64) string
	if cfg.BaseURL != "" {
		runURL = s.web.RunURL // chat and GitHub carry signed links
	}
	var notify dayops.Thread // where pull-request-triggered runs are announced too
	if ch := cfg.Slack.NotifyChannel; ch != "" && cfg.Slack.Enabled() {
		notify = dayops.Thread{Door: slackdoor.DoorName, Channel: ch, Name: strings.TrimPrefix(ch, "#")}
	}
	s.bot, err = bot.New(bot.Options{
		Engine: s.exec, Store: s.store, Catalogs: s.syncer, Policy: cfg.Policy, Events: events.Local(),
		Redactor: redactor, BaseURL: cfg.BaseURL, RunURL: runURL, Prefix: cfg.Slack.Command, Logger: logger,
		NotifyThread: notify, AllowForks: cfg.GitHub.AllowForks, PRRequirements: prRequirements(cfg), Automation: s.store, Owner: s.exec.Owner(),
	})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.bot.Close)
	if ch := cfg.Slack.NotifyChannel; ch != "" && cfg.Slack.Enabled() {
		n := s.bot.Notices(dayops.Thread{Door: slackdoor.DoorName, Channel: ch, Name: strings.TrimPrefix(ch, "#")}, events.Local())
		s.closers = append(s.closers, n.Close)
		notices.bind(n)
	} else {
		notices.bind(nil)
	}
	interrupted, err := s.exec.Recover(ctx)
	if err != nil {
		return nil, fmt.Errorf("recovering unfinished runs: %w", err)
	}
	for _, r := range interrupted {
		logger.Warn("run interrupted by the end of its process", "run_id", r.ID, "definition", r.Definition, "environment", r.Environment, "thread", r.Thread.String())
	}
	bg, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	s.closers = append(s.closers, func() error { stopServe(); <-s.serveDone; return nil })
	go func() { defer close(s.serveDone); s.exec.Serve(bg) }()
	retentionDone := make(chan struct{})
	go func() { defer close(retentionDone); newRetention(s.store, cfg.LogRetention, logger).run(bg) }()
	s.closers = append(s.closers, func() error { stopServe(); <-retentionDone; return nil })
	// With several replicas on one database, the runs of one that dies are
	// interrupted, reported and their places freed by another: every
	// replica looks for them every heartbeat interval.
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		s.exec.WatchOwners(bg, func(runs []*dayops.Run) {
			for _, r := range runs {
				logger.Warn("run interrupted: the dayops process running it is gone", "run_id", r.ID, "definition", r.Definition,
					"environment", r.Environment, "thread", r.Thread.String(), "reason", r.Reason)
			}
		})
	}()
	s.closers = append(s.closers, func() error { stopServe(); <-watchDone; return nil })
	releaseGoneClaims(ctx, s.store, s.exec.Owner(), logger)
	claimsDone := make(chan struct{})
	go func() {
		defer close(claimsDone)
		watchGoneClaims(bg, s.store, s.exec.Owner(), executor.DefaultHeartbeatInterval, logger)
	}()
	s.closers = append(s.closers, func() error { stopServe(); <-claimsDone; return nil })
	syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
	s.stopSync = stopSync
	go func() { defer close(s.syncDone); s.syncer.Run(syncCtx) }()
	s.closers = append(s.closers, func() error { stopSync(); <-s.syncDone; return nil })

	deps := doorDeps{cfg: cfg, owner: s.exec.Owner(), bot: s.bot, store: s.store, syncer: s.syncer, mux: mux, redactor: redactor, log: logger, apiClient: metrics.Client}
	if s.stopDoors, err = registerDoors(ctx, deps); err != nil {
		return nil, err
	}
	stopAlerts, err := registerAlertmanager(deps)
	if err != nil {
		return nil, err
	}
	stopSchedule, err := startScheduler(ctx, deps)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() error { stopSchedule(); return nil })
	stopDoors := s.stopDoors
	s.stopDoors = func() { stopSchedule(); stopAlerts(); stopDoors() }
	if len(cfg.Policy.Roles) == 0 {
		logger.Warn("no roles are configured: nobody may do anything until roles grant it (see docs/configuration.md)")
	}
	s.up.Store(true)
	logger.Info("started", "revision", revisionOf(s.syncer.Catalog()), "roles", len(cfg.Policy.Roles), "shutdown_grace", cfg.ShutdownGrace)
	return s, nil
}

// doorDeps is what a door is wired with.
type doorDeps struct {
	cfg      *config.Config
	owner    string // this process on the rows it claims (executor.ProcessOwner)
	bot      *bot.Bot
	store    *storage.Store
	syncer   *gitsync.Syncer
	mux      *http.ServeMux
	redactor *dayops.Redactor
	log      *slog.Logger
	// apiClient is the HTTP client of a door's API calls ("slack",
	// "github"), counted for /metrics.
	apiClient func(api string) *http.Client
}

// registerDoors registers the doors the configuration enables — the ways
// requests come in and answers go out — with the bot and on mux, and returns
// a function that makes them stop taking new work (the bot goes on updating
// run messages through them until it closes). It is the one place a new
// door is wired.
func registerDoors(ctx context.Context, d doorDeps) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if d.cfg.GitHub.Enabled() {
		ghStop, err := registerGitHub(ctx, d)
		if err != nil {
			return stop, err
		}
		stops = append(stops, ghStop)
	}
	if !d.cfg.Slack.Enabled() {
		if !d.cfg.GitHub.Enabled() {
			d.log.Info("no door is configured: set the Slack tokens to talk to dayops from Slack, the GitHub token and webhook secret for pull requests")
		}
		return stop, nil
	}
	apiURL := d.cfg.Slack.APIURL
	if apiURL != "" && !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	door, err := slackdoor.New(ctx, slackdoor.Options{
		Bot: d.bot, BotToken: d.cfg.Slack.BotToken.Value(), SigningSecret: d.cfg.Slack.SigningSecret.Value(),
		APIURL: apiURL, Deliveries: d.store, Redactor: d.redactor, Logger: d.log, IncidentChannels: d.cfg.Slack.IncidentChannels,
		HTTPClient: d.apiClient("slack"),
	})
	if err != nil {
		return stop, fmt.Errorf("starting the Slack door: %w", err)
	}
	switch d.cfg.Slack.Mode {
	case config.SlackHTTP:
		door.Routes(d.mux)
		d.log.Info("slack door: HTTP", "paths", "/slack/commands /slack/events /slack/interactions")
	default:
		socketCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := door.RunSocketMode(socketCtx, d.cfg.Slack.AppToken.Value()); err != nil && socketCtx.Err() == nil {
				d.log.Error("slack socket mode stopped", "err", err)
			}
		}()
		stops = append(stops, func() { cancel(); <-done })
		d.log.Info("slack door: Socket Mode")
	}
	stops = append(stops, func() {
		if err := door.Close(context.Background()); err != nil {
			d.log.Warn("closing the Slack door", "err", err)
		}
	})
	return stop, nil
}

// serverSecrets are every secret value the server holds, for the redactor.
func serverSecrets(cfg *config.Config, steps map[string]string) []string {
	var out []string
	for _, s := range []config.Secret{cfg.Repo.Token, cfg.Slack.BotToken, cfg.Slack.AppToken, cfg.Slack.SigningSecret,
		cfg.GitHub.Token, cfg.GitHub.WebhookSecret, cfg.Web.Password, cfg.Web.LinkKey, cfg.AlertmanagerToken} {
		if s.IsSet() {
			out = append(out, s.Value())
		}
	}
	for _, t := range cfg.Targets {
		if t.Key.IsSet() {
			out = append(out, t.Key.Value())
		}
	}
	return append(out, slices.Collect(maps.Values(steps))...)
}

func revisionOf(c *dayops.Catalog) string {
	if c == nil {
		return "(none)"
	}
	return dayops.ShortRevision(c.Revision())
}

// healthz answers 200 while the process runs.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 only while the database answers and a valid catalog
// is loaded, and not once shutting down; 503 with the reason otherwise.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	reason := ""
	switch {
	case s.draining.Load():
		reason = "shutting down: no new work is taken"
	case s.store.Ping(ctx) != nil:
		reason = "the database does not answer"
	case s.syncer.Catalog() == nil:
		reason = "no valid catalog loaded yet" + s.lastSync(ctx)
	case !s.up.Load():
		reason = "starting: recovering runs and starting the executor, the bot and the doors"
	}
	if reason != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, reason)
		return
	}
	c := s.syncer.Catalog()
	fmt.Fprintf(w, "ready: revision %s, %d definitions\n", dayops.ShortRevision(c.Revision()), c.Len())
}

// lastSync says how the last sync ended, for /readyz.
func (s *server) lastSync(ctx context.Context) string {
	recs, err := s.store.Syncs(ctx, 1)
	if err != nil || len(recs) == 0 {
		return ": the first sync of the ops repo has not finished"
	}
	rec := recs[0]
	out := fmt.Sprintf(": the last sync (%s) ended %s", rec.Time.UTC().Format(time.RFC3339), rec.Outcome)
	if len(rec.Errors) > 0 {
		out += ": " + dayops.NewRedactor().Redact(rec.Errors[0])
		if n := len(rec.Errors) - 1; n > 0 {
			out += fmt.Sprintf(" (and %d more)", n)
		}
	}
	return out
}

// shutdown stops taking new work, lets running steps finish for up to
// shutdown_grace, cancels what is left (their rollbacks run), logs what was
// left and where, and releases everything.
func (s *server) shutdown() {
	grace := s.cfg.ShutdownGrace
	s.log.Info("shutting down: no new work; running steps may finish", "shutdown_grace", grace)
	s.draining.Store(true)
	s.stopDoors()
	s.stopSync()
	<-s.syncDone

	ctx, cancel := context.WithTimeout(context.Background(), grace)
	err := s.exec.Wait(ctx)
	cancel()
	left := s.unfinished()
	if err != nil {
		for _, r := range left {
			if r.State != dayops.RunAwaitingApproval {
				s.log.Warn("cancelling run left at the end of the grace period", "run_id", r.ID, "definition", r.Definition,
					"environment", r.Environment, "state", r.State, "step", r.CurrentStep, "thread", r.Thread.String())
			}
		}
	}
	for _, r := range left {
		if r.State == dayops.RunAwaitingApproval {
			s.log.Info("run left waiting for approval: the next start takes it over", "run_id", r.ID, "definition", r.Definition,
				"environment", r.Environment, "thread", r.Thread.String())
		}
	}
	s.exec.Close() // cancels what is still running; rollbacks run
	for _, r := range left {
		if r.State == dayops.RunAwaitingApproval {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if end, err := s.store.Run(ctx, r.ID); err == nil {
			s.log.Warn("run ended by the shutdown", "run_id", end.ID, "state", end.State, "rollback", end.Rollback, "thread", end.Thread.String())
		}
		cancel()
	}
	s.close()
	s.log.Info("stopped")
}

// unfinished are the runs of this process that have not ended.
func (s *server) unfinished() []*dayops.Run {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	runs, err := s.store.Runs(ctx, dayops.RunFilter{States: []dayops.RunState{
		dayops.RunPending, dayops.RunQueued, dayops.RunRunning, dayops.RunAwaitingApproval}, Limit: 1000})
	if err != nil {
		s.log.Error("listing unfinished runs", "err", err)
		return nil
	}
	var out []*dayops.Run
	for _, r := range runs {
		if r.Owner == s.exec.Owner() {
			out = append(out, r)
		}
	}
	return out
}

// close releases what startServer acquired, last first.
func (s *server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("closing", "err", err)
		}
	}
	s.closers = nil
}
