package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/console"
	"github.com/dayops/dayops/commands"
	"github.com/dayops/dayops/examples"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/gitsync"
	"github.com/dayops/dayops/storage"
	"github.com/dayops/dayops/web"
)

// demoPolicy is the demo's roles: alice and bob are SREs (either may
// approve the other's production deploy), carol is a developer who may deploy
// to staging, diagnose, and freeze staging (and lift her own freeze, not an
// SRE's).
func demoPolicy() dayops.Policy {
	return dayops.Policy{
		Roles: []dayops.Role{
			{Name: "sre", Members: []string{"console:alice", "console:bob"}, Allow: []string{"*"}},
			{Name: "dev", Members: []string{"console:carol"}, Allow: []string{"day1:*:staging", "day2:diagnose-*", "read", "lock:staging"}},
		},
		Channels: []dayops.ChannelRule{{Pattern: regexp.MustCompile(`^inc-`), Allow: []string{"day2:*"}}},
	}
}

func runDemo(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("demo")
	fs := newFlags(v.name)
	data := fs.String("data", "", "folder for everything the demo keeps (default: a new temporary folder)")
	listen := fs.String("listen", "127.0.0.1:0", "address of the demo's HTTP endpoint")
	verbose := fs.Bool("verbose", false, "log dayops's own diagnostics to stderr")
	if _, code, ok := parseArgs(io, v, fs, args, 0, 0); !ok {
		return code
	}
	start := time.Now()
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(io.Stderr, nil))
	}
	if *data == "" {
		dir, err := os.MkdirTemp("", "dayops-demo-")
		if err != nil {
			fmt.Fprintf(io.Stderr, "dayops demo: %v\n", err)
			return exitFail
		}
		*data = dir
	}
	if abs, err := filepath.Abs(*data); err == nil {
		*data = abs // scripts are handed absolute paths
	}
	d, err := startDemo(ctx, io, *data, *listen, logger)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops demo: %s\n", dayops.NewRedactor().Redact(err.Error()))
		return exitFail
	}
	defer d.close()
	fmt.Fprintf(io.Stdout, "dayops demo — data in %s\n", *data)
	fmt.Fprintf(io.Stdout, "ops repo %s at %s, %d definitions; demo endpoint %s; ready in %s\n",
		d.repoDir, dayops.ShortRevision(d.syncer.Catalog().Revision()), d.syncer.Catalog().Len(), d.url, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(io.Stdout, "run pages: %s/runs (open on this machine; each run below links its page)\n", d.url)
	if d.provisioned != "" {
		fmt.Fprintf(io.Stdout, "first start: ran provision-env for the example environments (%s)\n", d.provisioned)
	}
	p := d.bot.Prefix()
	fmt.Fprintf(io.Stdout, "You are alice (sre). Try: %s list · %s deploy web staging version=v1.2.0 · %s help · /as bob · /quit\n", p, p, p)

	con := console.New(console.Options{In: io.Stdin, Out: io.Stdout, Bot: d.bot, User: "alice", Interactive: io.Interactive})
	err = con.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(io.Stderr, "dayops demo: %v\n", err)
		return exitFail
	}
	// End of input: let running work finish (runs waiting for an approval
	// stay recorded as waiting), then flush the last updates.
	if err := d.exec.Wait(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(io.Stderr, "dayops demo: %v\n", err)
	}
	d.bot.Wait()
	return exitOK
}

type demo struct {
	repoDir     string
	provisioned string // the first start's provisioning runs, for the banner
	url         string
	store       *storage.Store
	syncer      *gitsync.Syncer
	exec        *executor.Executor
	bot         *bot.Bot
	web         *web.Server
	server      *http.Server
	cancel      context.CancelFunc
}

func startDemo(ctx context.Context, io IO, data, listen string, logger *slog.Logger) (*demo, error) {
	d := &demo{repoDir: filepath.Join(data, "ops-repo")}
	envs := filepath.Join(data, "envs")
	for _, dir := range []string{data, envs} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	ops, err := fs.Sub(examples.Ops, "ops")
	if err != nil {
		return nil, err
	}
	reused, err := gitsync.InitRepo(d.repoDir, "main", ops, "Example ops repo from dayops demo", time.Now())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", listen, err)
	}
	d.url = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /envs/", demoEndpoint(envs))
	d.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go d.server.Serve(ln)

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	if d.store, err = storage.Open(ctx, filepath.Join(data, "dayops.db"), storage.Options{Logger: logger}); err != nil {
		d.close()
		return nil, err
	}
	d.syncer, err = gitsync.New(gitsync.Options{
		URL: d.repoDir, Branch: "main", Path: ".", CacheDir: filepath.Join(data, "cache"),
		Interval: time.Minute, History: d.store, Logger: logger,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	rec, err := d.syncer.Sync(ctx)
	if err != nil {
		d.close()
		return nil, err
	}
	if d.syncer.Catalog() == nil {
		d.close()
		return nil, fmt.Errorf("the example ops repo is invalid: %s", strings.Join(rec.Errors, "; "))
	}
	go d.syncer.Run(bg)

	policy := demoPolicy()
	events := dayops.NewBus()
	d.exec, err = executor.New(executor.Options{
		Store: d.store, Catalogs: d.syncer, Workspace: d.syncer, Events: events, Policy: policy,
		Vars:   map[string]string{"ENVS_DIR": envs, "DEMO_URL": d.url},
		Logger: logger,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	// The run pages open to this machine only (the loopback address); the
	// links the chat shows are signed all the same, as in Slack.
	d.web, err = web.New(web.Options{Store: d.store, Events: events, Changes: runChanges(d.store, d.syncer),
		Redactor: dayops.NewRedactor(), BaseURL: d.url, Loopback: true, Logger: logger})
	if err != nil {
		d.close()
		return nil, err
	}
	d.web.Routes(mux)
	d.bot, err = bot.New(bot.Options{Engine: d.exec, Store: d.store, Catalogs: d.syncer, Policy: policy, Events: events,
		RunURL: d.web.RunURL, Prefix: commands.DefaultPrefix, Logger: logger, Automation: d.store})
	if err != nil {
		d.close()
		return nil, err
	}
	if _, err := d.exec.Recover(ctx); err != nil {
		d.close()
		return nil, err
	}
	go d.exec.Serve(bg)
	if !reused {
		if err := d.provision(ctx, io); err != nil {
			d.close()
			return nil, err
		}
	}
	return d, nil
}

// provision runs the Day-0 provision-env definition for every example
// environment on the demo's first start, as any team would before its first
// deploy, so the tour can start with Day-1. The runs are recorded like any other.
func (d *demo) provision(ctx context.Context, io IO) error {
	def, ok := d.syncer.Catalog().Lookup("provision-env")
	if !ok {
		return nil
	}
	var ids []string
	for _, env := range def.EnvironmentNames() {
		run, err := d.exec.Start(ctx, dayops.RunRequest{
			Definition: def.Name, Environment: env, Trigger: dayops.TriggerCLI,
			Actor:  dayops.Actor{ID: "system:demo", Name: "dayops demo"},
			Thread: dayops.Thread{Door: "demo-setup"},
		})
		if err != nil {
			return fmt.Errorf("provisioning %s: %w", env, err)
		}
		ids = append(ids, fmt.Sprintf("#%d %s", run.ID, env))
	}
	if err := d.exec.Wait(ctx); err != nil {
		return err
	}
	d.provisioned = strings.Join(ids, ", ")
	return nil
}

func (d *demo) close() {
	if d.exec != nil {
		d.exec.Close()
	}
	if d.cancel != nil {
		d.cancel()
	}
	if d.syncer != nil {
		d.syncer.Close()
	}
	if d.server != nil {
		d.server.Close()
	}
	if d.store != nil {
		d.store.Close()
	}
}

// demoEndpoint serves the health of the example environments: 200
// "ok version=V" when ENVS/ENV/current/VERSION exists and no BROKEN marker
// does. The example deploy verifies against it, so nothing outlives the demo.
func demoEndpoint(envs string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /envs/{env}/healthz", func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		if !dayops.EnvironmentPattern.MatchString(env) {
			http.Error(w, "bad environment name", http.StatusBadRequest)
			return
		}
		current := filepath.Join(envs, env, "current")
		version, err := os.ReadFile(filepath.Join(current, "VERSION"))
		if err != nil {
			http.Error(w, "unavailable: nothing is installed in "+env, http.StatusServiceUnavailable)
			return
		}
		if _, err := os.Stat(filepath.Join(current, "BROKEN")); err == nil {
			http.Error(w, "unhealthy: release "+strings.TrimSpace(string(version))+" is failing its health check", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok version=%s\n", strings.TrimSpace(string(version)))
	})
	return mux
}
