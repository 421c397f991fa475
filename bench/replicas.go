package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	slackdoor "github.com/dayops/dayops/bot/slack"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/internal/testkit/postgres"
)

// replicaStack is one `dayops serve` as far as slash commands go: its own
// store connection, executor, bot and Slack door on a shared database, and
// an HTTP server. Every stack has an owner of its own, as replicas do.
type replicaStack struct {
	h     *harness
	bot   *bot.Bot
	door  *slackdoor.Door
	srv   *httptest.Server
	slack *fakeSlack
}

func newReplicaStack(ctx context.Context, dir, db string, i int) (*replicaStack, error) {
	owner := fmt.Sprintf("bench-replica-%d:%d:1", i, i+1)
	h, err := newHarnessOn(ctx, dir, db, map[string]string{"quick.yaml": definition("quick", trueSteps(1))},
		func(o *executor.Options) { o.Owner = owner })
	if err != nil {
		return nil, err
	}
	r := &replicaStack{h: h, slack: newFakeSlack()}
	policy := dayops.Policy{Roles: []dayops.Role{{Name: "sre", Members: []string{"slack:W111"}, Allow: []string{"*"}}}}
	if r.bot, err = bot.New(bot.Options{Engine: h.exec, Store: h.store, Catalogs: botCatalogs{h.cat}, Policy: policy,
		Events: h.exec.Events(), Owner: owner}); err != nil {
		r.close()
		return nil, err
	}
	if r.door, err = slackdoor.New(ctx, slackdoor.Options{Bot: r.bot, BotToken: "xoxb-bench", SigningSecret: benchSigningSecret,
		APIURL: r.slack.srv.GetAPIURL(), Deliveries: h.store, ChannelInterval: -1}); err != nil {
		r.close()
		return nil, err
	}
	mux := http.NewServeMux()
	r.door.Routes(mux)
	r.srv = httptest.NewServer(mux)
	return r, nil
}

func (r *replicaStack) close() {
	if r.srv != nil {
		r.srv.Close()
	}
	if r.door != nil {
		r.door.Close(context.Background())
	}
	if r.bot != nil {
		r.bot.Close()
	}
	r.h.close()
	r.slack.srv.Stop()
}

// replicaFigure is what one set-up measured.
type replicaFigure struct {
	rate float64 // runs started per second
	p99  float64 // slash-command acknowledgement, nanoseconds
}

// measureReplicas starts n replicas on db, sends commands signed slash
// commands spread over them, 50 at a time, and returns how many runs were
// started per second (from the first command to the last run recorded) and
// the acknowledgements' p99.
func measureReplicas(ctx context.Context, dir, db string, n, commands int) (replicaFigure, error) {
	var stacks []*replicaStack
	defer func() {
		for _, s := range stacks {
			s.close()
		}
	}()
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("replica-%d", i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return replicaFigure{}, err
		}
		s, err := newReplicaStack(ctx, sub, db, i)
		if err != nil {
			return replicaFigure{}, err
		}
		stacks = append(stacks, s)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 50}, Timeout: 30 * time.Second}
	const batch = 50
	var lat []float64
	start := time.Now()
	for sent := 0; sent < commands; sent += batch {
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		for k := range min(batch, commands-sent) {
			req := signedCommand(stacks[(sent+k)%n].srv.URL+"/slack/commands", "run quick")
			wg.Go(func() {
				t0 := time.Now()
				resp, err := client.Do(req.WithContext(ctx))
				took := float64(time.Since(t0).Nanoseconds())
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("answer %d", resp.StatusCode)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				firstErr = cmpOr(firstErr, err)
				lat = append(lat, took)
			})
		}
		wg.Wait()
		if firstErr != nil {
			return replicaFigure{}, fmt.Errorf("slash commands to %d replicas: %w", n, firstErr)
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		runs, err := stacks[0].h.store.Runs(ctx, dayops.RunFilter{Limit: 1})
		if err != nil {
			return replicaFigure{}, err
		}
		if len(runs) > 0 && runs[0].ID >= int64(commands) {
			break
		}
		if time.Now().After(deadline) {
			return replicaFigure{}, fmt.Errorf("%d runs not started within 3 minutes on %d replicas", commands, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	for _, s := range stacks {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := s.h.exec.Wait(wctx)
		cancel()
		if err != nil {
			return replicaFigure{}, fmt.Errorf("the runs did not end: %w", err)
		}
	}
	return replicaFigure{rate: float64(commands) / elapsed.Seconds(), p99: percentile(lat, 99)}, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// replicaFigures: runs started per second and the slash-command
// acknowledgement p99 with one replica on SQLite, one on PostgreSQL and two
// on PostgreSQL, in the same run. Without PostgreSQL (and outside CI) the
// PostgreSQL rows say so and measure nothing.
func replicaFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	commands := cfg.SlackCommands / 4
	lite, err := measureReplicas(ctx, filepath.Join(dir, "sqlite"), filepath.Join(dir, "sqlite", "dayops.db"), 1, commands)
	if err != nil {
		return nil, fmt.Errorf("one replica on SQLite: %w", err)
	}
	rows := []Row{
		{ID: "replicas-rate-sqlite", Figure: fmt.Sprintf("runs started/s, 1 replica on SQLite (%d slash commands)", commands), Kind: kindRate,
			Value: lite.rate, Baseline: "the reference of the rows below"},
		{ID: "replicas-ack-sqlite", Figure: "slash-command ack p99, 1 replica on SQLite", Kind: kindTime,
			Value: lite.p99, Baseline: "the reference of the rows below"},
	}
	pgRows := []Row{
		{ID: "replicas-rate-pg1", Figure: "runs started/s, 1 replica on PostgreSQL", Kind: kindRate, Baseline: "1 replica on SQLite", Base: lite.rate},
		{ID: "replicas-ack-pg1", Figure: "slash-command ack p99, 1 replica on PostgreSQL", Kind: kindTime, Baseline: "1 replica on SQLite", Base: lite.p99},
		{ID: "replicas-rate-pg2", Figure: "runs started/s, 2 replicas on PostgreSQL", Kind: kindRate, Baseline: "1 replica on SQLite", Base: lite.rate},
		{ID: "replicas-ack-pg2", Figure: "slash-command ack p99, 2 replicas on PostgreSQL", Kind: kindTime, Baseline: "1 replica on SQLite", Base: lite.p99},
	}
	if _, err := postgres.Bin(); err != nil {
		if os.Getenv("CI") == "true" {
			return nil, fmt.Errorf("PostgreSQL is needed in CI: %w", err)
		}
		for i := range pgRows {
			pgRows[i].Note = "skipped: PostgreSQL is not installed (apt-get install postgresql)"
		}
		return append(rows, pgRows...), nil
	}
	cluster, err := postgres.Launch()
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer cluster.Stop()
	for i, n := range []int{1, 2} {
		db, err := cluster.NewDatabase(fmt.Sprintf("bench_replicas_%d", n))
		if err != nil {
			return nil, err
		}
		f, err := measureReplicas(ctx, filepath.Join(dir, fmt.Sprintf("pg-%d", n)), db, n, commands)
		if err != nil {
			return nil, fmt.Errorf("%d replicas on PostgreSQL: %w", n, err)
		}
		pgRows[2*i].Value, pgRows[2*i+1].Value = f.rate, f.p99
	}
	return append(rows, pgRows...), nil
}
