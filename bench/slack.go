package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	slackdoor "github.com/dayops/dayops/bot/slack"
	"github.com/dayops/dayops/commands"
)

const benchSigningSecret = "bench-signing-secret-0123456789"

// fakeSlack is slacktest's Web API answering chat.* and counting updates.
type fakeSlack struct {
	srv     *slacktest.Server
	seq     atomic.Int64
	mu      sync.Mutex
	updates map[string][]time.Time // chat.update calls by message ts
}

func newFakeSlack() *fakeSlack {
	f := &fakeSlack{updates: map[string][]time.Time{}}
	answer := func(method string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			ts := form.Get("ts")
			if method == "chat.update" {
				f.mu.Lock()
				f.updates[ts] = append(f.updates[ts], time.Now())
				f.mu.Unlock()
			} else {
				ts = fmt.Sprintf("1700000000.%06d", f.seq.Add(1))
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": form.Get("channel"), "ts": ts})
		}
	}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		for _, m := range []string{"chat.postMessage", "chat.postEphemeral", "chat.update"} {
			c.Handle("/"+m, answer(m))
		}
		c.Handle("/auth.test", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"ok":true,"user":"dayops","user_id":"UDAYOPS","team_id":"T1","bot_id":"B1"}`)
		})
		c.Handle("/conversations.info", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			fmt.Fprintf(w, `{"ok":true,"channel":{"id":%q,"name":"bench"}}`, r.Form.Get("channel"))
		})
	})
	f.srv.Start()
	return f
}

// botCatalogs is the bench harness's catalog as the bot reads it.
type botCatalogs struct{ cat *dayops.Catalog }

func (c botCatalogs) Catalog() *dayops.Catalog { return c.cat }
func (c botCatalogs) Sync(context.Context) (dayops.SyncRecord, error) {
	return dayops.SyncRecord{}, dayops.Errorf(dayops.KindUnavailable, "the bench does not sync")
}

// slackWorld is the real pipeline behind the Slack door: executor, SQLite,
// bot, door, and a fake Slack Web API.
type slackWorld struct {
	h     *harness
	slack *fakeSlack
	bot   *bot.Bot
	door  *slackdoor.Door
	mux   *http.ServeMux
}

func newSlackWorld(ctx context.Context, dir string, files map[string]string) (*slackWorld, error) {
	h, err := newHarness(ctx, dir, files)
	if err != nil {
		return nil, err
	}
	w := &slackWorld{h: h, slack: newFakeSlack(), mux: http.NewServeMux()}
	policy := dayops.Policy{Roles: []dayops.Role{{Name: "sre", Members: []string{"slack:W111"}, Allow: []string{"*"}}}}
	if w.bot, err = bot.New(bot.Options{Engine: h.exec, Store: h.store, Catalogs: botCatalogs{h.cat}, Policy: policy, Events: h.exec.Events()}); err != nil {
		w.close()
		return nil, err
	}
	w.door, err = slackdoor.New(ctx, slackdoor.Options{Bot: w.bot, BotToken: "xoxb-bench", SigningSecret: benchSigningSecret,
		APIURL: w.slack.srv.GetAPIURL(), Deliveries: h.store,
		ChannelInterval: -1}) // the fake has no rate limit: hundreds of runs in one channel would take that many seconds at Slack's pace
	if err != nil {
		w.close()
		return nil, err
	}
	w.door.Routes(w.mux)
	return w, nil
}

func (w *slackWorld) close() {
	if w.door != nil {
		w.door.Close(context.Background())
	}
	if w.bot != nil {
		w.bot.Close()
	}
	w.h.close()
	w.slack.srv.Stop()
}

// commandSeq numbers the commands: Slack gives each a trigger ID of its own,
// which the door de-duplicates on.
var commandSeq atomic.Int64

// signedCommand is a slash command request, signed now.
func signedCommand(target, text string) *http.Request {
	n := commandSeq.Add(1)
	form := url.Values{"team_id": {"T1"}, "channel_id": {"C1"}, "channel_name": {"bench"}, "user_id": {"W111"},
		"user_name": {"bench"}, "command": {commands.DefaultPrefix}, "text": {text}, "trigger_id": {fmt.Sprintf("t.%d", n)},
		"response_url": {"https://hooks.slack.com/commands/T1/1/x"}}
	body := form.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(sign(ts, body)))
	return req
}

func sign(ts, body string) []byte {
	mac := hmac.New(sha256.New, []byte(benchSigningSecret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	return mac.Sum(nil)
}

// bareAck only reads the body and checks the signature: the floor of any
// Slack intake, measured once the door's runs have ended (idle); bareThenDoor
// is the same floor under the load of those runs.
func bareAck(w http.ResponseWriter, r *http.Request) {
	if _, ok := readSigned(w, r); ok {
		w.WriteHeader(http.StatusOK)
	}
}

// readSigned reads r's body and checks its signature, answering 401 when it
// is bad.
func readSigned(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	got, herr := hex.DecodeString(strings.TrimPrefix(r.Header.Get("X-Slack-Signature"), "v0="))
	if err != nil || herr != nil || !hmac.Equal(got, sign(r.Header.Get("X-Slack-Request-Timestamp"), string(body))) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// bareThenDoor answers like bareAck, and only then hands the request to
// the door: the same runs started, and the same work done, as through the
// door itself, but none of it before the answer. The door measured beside
// it shows what the door does before answering, under the same load. wait
// returns once every request is handed on, with the first the door refused.
func bareThenDoor(door http.Handler) (h http.HandlerFunc, wait func() error) {
	var handed sync.WaitGroup
	var mu sync.Mutex
	var refused error
	h = func(w http.ResponseWriter, r *http.Request) {
		body, ok := readSigned(w, r)
		if !ok {
			return
		}
		w.WriteHeader(http.StatusOK)
		header := r.Header.Clone()
		handed.Go(func() {
			req := httptest.NewRequest(http.MethodPost, "/slack/commands", bytes.NewReader(body))
			req.Header = header
			rec := httptest.NewRecorder()
			door.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				mu.Lock()
				refused = cmp.Or(refused, fmt.Errorf("the door refused a command handed on after the answer: %d %s", rec.Code, rec.Body))
				mu.Unlock()
			}
		})
	}
	return h, func() error {
		handed.Wait()
		mu.Lock()
		defer mu.Unlock()
		return refused
	}
}

// waitRuns waits until the store holds run n: the door starts runs on its
// own work queue, after the answers.
func waitRuns(ctx context.Context, w *slackWorld, n int64) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		runs, err := w.h.store.Runs(ctx, dayops.RunFilter{Limit: 1})
		if err != nil {
			return err
		}
		if len(runs) > 0 && runs[0].ID >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("run %d not started within 2 minutes", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// acker sends signed slash commands to one handler over real HTTP, a batch
// at a time, on connections kept between batches.
type acker struct {
	srv    *httptest.Server
	client *http.Client
}

func newAcker(h http.Handler, batch int) *acker {
	return &acker{srv: httptest.NewServer(h),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: batch}, Timeout: 30 * time.Second}}
}

func (a *acker) close() { a.srv.Close() }

// send sends n commands at once and returns each acknowledgement's latency.
func (a *acker) send(ctx context.Context, n int, text string) ([]float64, error) {
	var mu sync.Mutex
	var lat []float64
	var firstErr error
	var wg sync.WaitGroup
	for range n {
		req := signedCommand(a.srv.URL+"/slack/commands", text)
		wg.Go(func() {
			start := time.Now()
			resp, err := a.client.Do(req.WithContext(ctx))
			took := float64(time.Since(start).Nanoseconds())
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("answer %d", resp.StatusCode)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			lat = append(lat, took)
		})
	}
	wg.Wait()
	return lat, firstErr
}

// ackLatencies sends n signed slash commands, batch at a time, and returns
// each acknowledgement's latency, sorted.
func ackLatencies(ctx context.Context, h http.Handler, n, batch int, text string) ([]float64, error) {
	a := newAcker(h, batch)
	defer a.close()
	var lat []float64
	for sent := 0; sent < n; sent += batch {
		l, err := a.send(ctx, min(batch, n-sent), text)
		lat = append(lat, l...)
		if err != nil {
			return lat, err
		}
	}
	slices.Sort(lat)
	return lat, nil
}

func percentile(sorted []float64, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

// slackFigures: the acknowledgement latency of signed slash commands that
// start runs, beside a bare signature-checking handler under the same load,
// and how often one run's message is updated while its step prints a lot.
func slackFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	w, err := newSlackWorld(ctx, dir, map[string]string{
		"quick.yaml": definition("quick", trueSteps(1)),
		"chatty.yaml": definition("chatty", fmt.Sprintf(`steps:
  - name: Print
    run: seq -f 'line %%06g of a chatty step' 1 %d
`, cfg.ChattyLines)),
	})
	if err != nil {
		return nil, err
	}
	defer w.close()
	n, batch := cfg.SlackCommands, 200
	// The door, and the bare check with the door's work handed on after
	// each answer, take turns batch by batch: both are measured under the
	// load of the runs they and the other started, neither only cold.
	handOn, handed := bareThenDoor(w.mux)
	toDoor, toBare := newAcker(w.mux, batch), newAcker(handOn, batch)
	defer toDoor.close()
	defer toBare.close()
	var door, loaded []float64
	for sent := 0; sent < n; sent += batch {
		lat, err := toDoor.send(ctx, min(batch, n-sent), "run quick")
		if err != nil {
			return nil, fmt.Errorf("slash commands to the door: %w", err)
		}
		door = append(door, lat...)
		if lat, err = toBare.send(ctx, min(batch, n-sent), "run quick"); err != nil {
			return nil, fmt.Errorf("slash commands to the bare handler with the door's work after it: %w", err)
		}
		loaded = append(loaded, lat...)
	}
	slices.Sort(door)
	slices.Sort(loaded)
	err = handed()
	if err == nil {
		err = waitRuns(ctx, w, int64(2*n))
	}
	if err == nil {
		err = w.h.exec.Wait(ctx)
	}
	if err != nil {
		return nil, err
	}
	w.bot.Wait()
	bare, err := ackLatencies(ctx, http.HandlerFunc(bareAck), n, batch, "run quick")
	if err != nil {
		return nil, fmt.Errorf("slash commands to the bare handler: %w", err)
	}
	p99 := Row{ID: "slack-ack-p99", Kind: kindTime,
		Figure:   fmt.Sprintf("Slack slash command acknowledged, p99 of %d sent %d at a time", n, batch),
		Value:    percentile(door, 99),
		Baseline: "bare signature check, p99", Base: percentile(bare, 99),
		Target: "p99 < 50 ms and <= 2x bare",
		Note: fmt.Sprintf("p50 %s (bare %s); each command starts a run of a `true` step, the runs go on while the rest arrive; "+
			"the bare check under the same load (the door's work, runs included, handed on after each answer): p99 %s, p50 %s",
			format(kindTime, percentile(door, 50)), format(kindTime, percentile(bare, 50)),
			format(kindTime, percentile(loaded, 99)), format(kindTime, percentile(loaded, 50))),
	}
	p99.check(p99.Value < 50e6 && p99.Ratio() <= 2)

	// One chatty run, started from Slack: count its message's updates.
	before := w.slack.seq.Load()
	start := time.Now()
	if _, err := ackLatencies(ctx, w.mux, 1, 1, "run chatty"); err != nil {
		return nil, err
	}
	// The door starts the run after its answer: Wait waits for started runs.
	if err := waitRuns(ctx, w, int64(2*n+1)); err != nil {
		return nil, err
	}
	if err := w.h.exec.Wait(ctx); err != nil {
		return nil, err
	}
	w.bot.Wait()
	took := time.Since(start)
	w.slack.mu.Lock()
	most := 0
	for ts, ups := range w.slack.updates {
		if seq, _ := strconv.ParseInt(strings.TrimPrefix(ts, "1700000000."), 10, 64); seq > before {
			most = max(most, len(ups))
		}
	}
	w.slack.mu.Unlock()
	perSec := float64(most) / took.Seconds()
	pace := Row{ID: "slack-updates", Kind: kindRate,
		Figure:   fmt.Sprintf("updates of one run's message while its step prints %s lines", thousands(float64(cfg.ChattyLines))),
		Value:    perSec,
		Baseline: "the door's pace: 1/s",
		Target:   "about one a second",
		Note:     fmt.Sprintf("%d chat.update calls in %s from the command to the end", most, took.Round(time.Millisecond)),
	}
	pace.check(perSec <= 1.5)
	return []Row{p99, pace}, nil
}
