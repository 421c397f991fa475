package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	ghdoor "github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
	"github.com/dayops/dayops/commands"
)

const benchWebhookSecret = "bench-webhook-secret-0123456789"

// cleanups collects what a fake server closes, as a test's Cleanup would.
type cleanups []func()

func (c *cleanups) Cleanup(f func()) { *c = append(*c, f) }

func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
}

// commentPayload is an issue_comment delivery as GitHub sends one for a
// new comment on pull request 1 of bench/app: the fields dayops reads.
func commentPayload(id int, text string) []byte {
	b, _ := json.Marshal(map[string]any{
		"action": "created",
		"issue": map[string]any{"number": 1, "pull_request": map[string]any{
			"url": "https://api.github.com/repos/bench/app/pulls/1", "html_url": "https://github.com/bench/app/pull/1"}},
		"comment":    map[string]any{"id": id, "body": text, "user": map[string]any{"login": "bench", "type": "User"}},
		"repository": map[string]any{"full_name": "bench/app", "name": "app", "owner": map[string]any{"login": "bench"}},
		"sender":     map[string]any{"login": "bench", "type": "User"},
	})
	return b
}

// bareWebhook only reads the body and checks its X-Hub-Signature-256: the
// floor of any webhook intake.
func bareWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, ghdoor.MaxBody))
	if err != nil || !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(ghdoor.Signature(benchWebhookSecret, body))) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// postWebhook sends one signed delivery and returns the answer's status.
func postWebhook(ctx context.Context, client *http.Client, url, delivery string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", ghdoor.Signature(benchWebhookSecret, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// githubFigures: the time from a signed webhook delivery (a pull request
// comment "run quick") being sent to the first step of its run starting,
// through the real intake (stored, answered, processed from the store),
// the GitHub client against a fake GitHub over loopback, the bot and the
// executor on SQLite; next to the round trip of a bare signature check.
func githubFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	h, err := newHarness(ctx, dir, map[string]string{"quick.yaml": definition("quick", trueSteps(1))})
	if err != nil {
		return nil, err
	}
	defer h.close()
	var clean cleanups
	defer clean.run()
	fake := githubtest.New(&clean)
	fake.SetPullRequest(githubtest.PR{Repo: "bench/app", Number: 1, Author: "bench", HeadSHA: "c0ffee1234567"})
	policy := dayops.Policy{Roles: []dayops.Role{{Name: "sre", Members: []string{"github:bench"}, Allow: []string{"*"}}}}
	b, err := bot.New(bot.Options{Engine: h.exec, Store: h.store, Catalogs: botCatalogs{h.cat}, Policy: policy, Events: h.exec.Events()})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	client, err := ghdoor.NewClient(ghdoor.ClientOptions{BaseURL: fake.URL})
	if err != nil {
		return nil, err
	}
	door, err := ghdoor.NewDoor(ghdoor.DoorOptions{Client: client, BotLogin: fake.Login})
	if err != nil {
		return nil, err
	}
	b.Register(door)
	intake, err := ghdoor.NewIntake(ghdoor.IntakeOptions{Secret: benchWebhookSecret, Inbox: h.store, Pipeline: b, GitHub: client,
		Repos: map[string]string{"bench/app": "app"}})
	if err != nil {
		return nil, err
	}
	intake.Start()
	defer intake.Close()
	srv := httptest.NewServer(intake)
	defer srv.Close()
	bare := httptest.NewServer(http.HandlerFunc(bareWebhook))
	defer bare.Close()
	httpc := &http.Client{Timeout: 30 * time.Second}

	n := cfg.SlackCommands / 10 // 200 in the full run, 40 in the quick one
	text := commands.DefaultPrefix + " run quick"
	var toStep, answered, floor []float64
	for i := range n {
		body := commentPayload(10_000+i, text)
		sent := time.Now()
		code, err := postWebhook(ctx, httpc, srv.URL, fmt.Sprintf("bench-%d", i), body)
		if err != nil {
			return nil, err
		}
		if code != http.StatusAccepted {
			return nil, fmt.Errorf("delivery %d answered %d", i, code)
		}
		answered = append(answered, float64(time.Since(sent).Nanoseconds()))
		started, err := firstStepStarted(ctx, h, int64(i+1))
		if err != nil {
			return nil, err
		}
		toStep = append(toStep, float64(started.Sub(sent).Nanoseconds()))

		sent = time.Now()
		if code, err := postWebhook(ctx, httpc, bare.URL, fmt.Sprintf("bare-%d", i), body); err != nil || code != http.StatusAccepted {
			return nil, fmt.Errorf("the bare check answered %d: %v", code, err)
		}
		floor = append(floor, float64(time.Since(sent).Nanoseconds()))
	}
	if err := h.exec.Wait(ctx); err != nil {
		return nil, err
	}
	b.Wait()
	for _, s := range [][]float64{toStep, answered, floor} {
		slices.Sort(s)
	}
	p50 := Row{ID: "github-webhook-p50", Kind: kindTime,
		Figure:   fmt.Sprintf("signed PR comment webhook → first step started, p50 of %d", n),
		Value:    percentile(toStep, 50),
		Baseline: "bare signature check round trip, p50", Base: percentile(floor, 50),
		Target: "p50 < 100 ms",
		Note: fmt.Sprintf("one delivery at a time: stored, answered 202 (p50 %s, p99 %s), then processed from the store: a 👀 reaction, "+
			"the pull request read from the fake GitHub over loopback, authorised, planned and started by the executor on SQLite",
			format(kindTime, percentile(answered, 50)), format(kindTime, percentile(answered, 99))),
	}
	p50.check(p50.Value < 100e6)
	p99 := Row{ID: "github-webhook-p99", Kind: kindTime,
		Figure:   fmt.Sprintf("signed PR comment webhook → first step started, p99 of %d", n),
		Value:    percentile(toStep, 99),
		Baseline: "bare signature check round trip, p99", Base: percentile(floor, 99),
	}
	return []Row{p50, p99}, nil
}
