package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot/github/githubtest"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/internal/testkit/fixtures"
	"github.com/dayops/dayops/internal/testkit/gitserver"
	"github.com/dayops/dayops/internal/testkit/postgres"
	"github.com/dayops/dayops/storage"
)

// napDef holds its concurrency key for a minute; talkDef prints 40 lines
// over four seconds.
const (
	napDef = `apiVersion: dayops/v1
phase: day2
name: nap
concurrency: nap
steps:
  - name: Nap
    run: echo napping; sleep 60
`
	talkDef = `apiVersion: dayops/v1
phase: day2
name: talk
steps:
  - name: Talk
    run: for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done
`
	replicaPassword = "replicas share a password"
)

// replica is one `dayops serve` process of a replicas test.
type replica struct {
	name string
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs strings.Builder
}

func (r *replica) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String()
}

// startReplica starts `dayops serve --config path` as a process of its own
// (the test binary as dayops) and waits for it to be ready.
func startReplica(t *testing.T, name, path string, env []string) *replica {
	t.Helper()
	r := &replica{name: name, cmd: exec.Command(os.Args[0], "serve", "--config", path)}
	r.cmd.Env = append(os.Environ(), asDayops+"=1")
	for i := 0; i+1 < len(env); i += 2 {
		r.cmd.Env = append(r.cmd.Env, env[i]+"="+env[i+1])
	}
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { r.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			r.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("replica %s's log:\n%s", r.name, dayops.Truncate(r.output(), 20000))
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r.mu.Lock()
			r.logs.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- "http://" + m[1]:
				default:
				}
			}
		}
	}()
	select {
	case r.url = <-addr:
	case <-time.After(time.Minute):
		t.Fatalf("replica %s: no listening line within a minute:\n%s", name, r.output())
	}
	eventually(t, 60*time.Second, "replica "+name+" ready", func() bool { code, _ := get(t, r.url+"/readyz"); return code == http.StatusOK })
	return r
}

// pid is the replica's process ID as run owners record it.
func (r *replica) owns(run *dayops.Run) bool {
	return strings.Contains(run.Owner, ":"+strconv.Itoa(r.cmd.Process.Pid)+":")
}

// TestServeReplicasOnPostgres: two `dayops serve` processes on one
// PostgreSQL database with a fake GitHub.
//   - 1,000 webhook requests (20 comments, each delivered 50 times, spread
//     over both replicas) start each comment's run once and react to each
//     comment once: one replica processed each delivery;
//   - kill -9 of the replica running a run that holds a concurrency key:
//     the other marks it interrupted within executor.TakeoverTime, reports
//     it in the pull request, and a new run of the key runs;
//   - a run page's live log (/runs/{id}/events) on one replica shows the
//     lines of a run executing on the other as they come.
func TestServeReplicasOnPostgres(t *testing.T) {
	postgres.Need(t)
	if testing.Short() {
		t.Skip("starts two dayops serve processes")
	}
	db := postgres.Database(t)
	gs := gitserver.New(t)
	gs.Commit("defs", map[string]string{"ops/deploy-web.yaml": deployWebFromPRs, "ops/nap.yaml": napDef, "ops/talk.yaml": talkDef})
	fake := githubtest.New(t)
	file := fmt.Sprintf("listen: 127.0.0.1:0\ndatabase: %s\nrepo: {url: %q, interval: 200ms}\nshutdown_grace: 5s\n", db, gs.URL()) +
		"base_url: https://dayops.example.com\n" +
		"github: {repos: {runatlantis/atlantis-tests: {service: web}}}\nroles:\n" +
		"  devs: {members: [\"github:runatlantis\"], allow: [\"*\"]}\n"
	path := filepath.Join(t.TempDir(), "dayops.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"DAYOPS_GITHUB_TOKEN", "ghp_test_token", "DAYOPS_GITHUB_WEBHOOK_SECRET", testWebhookSecret,
		"DAYOPS_GITHUB_API_URL", fake.URL, "DAYOPS_WEB_PASSWORD", replicaPassword, "DAYOPS_WEB_LINK_KEY", strings.Repeat("r", 40)}
	fake.SetPullRequest(githubtest.PR{Repo: "runatlantis/atlantis-tests", Number: 1, Author: "octocat", HeadSHA: "c0ffee1234567"})
	replicas := []*replica{startReplica(t, "a", path, env), startReplica(t, "b", path, env)}
	ctx := context.Background()
	st, err := storage.Open(ctx, db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	runsOfDef := func(def string) []*dayops.Run {
		t.Helper()
		runs, err := st.Runs(ctx, dayops.RunFilter{Definition: def, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return runs
	}
	comment := func(body string) map[string]any {
		m := fixtures.JSON(t, "github", "issue_comment_created_on_pr.json")
		fixtures.Set(m, "comment.body", body)
		fixtures.Set(m, "comment.id", fake.AddComment("runatlantis/atlantis-tests", 1, "runatlantis", body))
		return m
	}

	t.Run("redelivered events start each run once", func(t *testing.T) {
		const comments, deliveries = 20, 50
		bodies := make([]map[string]any, comments)
		for i := range bodies {
			bodies[i] = comment(fmt.Sprintf("/ops deploy staging\nround %d", i))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := w; k < comments*deliveries; k += 8 {
					i := k % comments
					code := webhook(t, replicas[k%2].url, "issue_comment", fmt.Sprintf("replicas-%d", i), bodies[i])
					mu.Lock()
					codes[code]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if codes[http.StatusAccepted]+codes[http.StatusOK] != comments*deliveries {
			t.Errorf("answers to the %d requests: %v", comments*deliveries, codes)
		}
		eventually(t, 3*time.Minute, "every comment's run ended", func() bool {
			runs := runsOfDef("deploy-web")
			for _, r := range runs {
				if !r.State.Final() {
					return false
				}
			}
			return len(runs) >= comments
		})
		time.Sleep(2 * time.Second) // a second processing of a delivery would start a run now
		runs := runsOfDef("deploy-web")
		if len(runs) != comments {
			t.Errorf("%d runs, want %d (one per comment)", len(runs), comments)
		}
		by := map[string]int{}
		for _, r := range runs {
			if r.State != dayops.RunSucceeded {
				t.Errorf("run %d ended %s: %s", r.ID, r.State, r.Reason)
			}
			for _, rep := range replicas {
				if rep.owns(r) {
					by[rep.name]++
				}
			}
		}
		t.Logf("runs by replica: %v", by)
		for _, c := range fake.Comments("runatlantis/atlantis-tests", 1) {
			if strings.HasPrefix(c.Body, "/ops deploy staging") && len(c.Reactions) != 1 {
				t.Errorf("comment %d has reactions %v, want one (one replica processed it)", c.ID, c.Reactions)
			}
		}
	})

	t.Run("kill -9 of the replica running a run", func(t *testing.T) {
		if code := webhook(t, replicas[0].url, "issue_comment", "replicas-nap-1", comment("/ops run nap")); code != http.StatusAccepted {
			t.Fatalf("comment: %d", code)
		}
		var nap *dayops.Run
		eventually(t, time.Minute, "the nap runs", func() bool {
			runs := runsOfDef("nap")
			if len(runs) == 1 && runs[0].State == dayops.RunRunning {
				nap = runs[0]
			}
			return nap != nil
		})
		var dead, live *replica
		for i, rep := range replicas {
			if rep.owns(nap) {
				dead, live = rep, replicas[1-i]
			}
		}
		if dead == nil {
			t.Fatalf("run %d is owned by %q, neither replica", nap.ID, nap.Owner)
		}
		before := len(fake.Comments("runatlantis/atlantis-tests", 1))
		if err := dead.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		limit := executor.TakeoverTime(executor.DefaultHeartbeatInterval)
		eventually(t, limit+10*time.Second, "the run interrupted", func() bool {
			r, err := st.Run(ctx, nap.ID)
			return err == nil && r.State == dayops.RunInterrupted
		})
		took := time.Since(killed)
		t.Logf("replica %s killed; run %d interrupted by replica %s %s later (stated: within %s)", dead.name, nap.ID, live.name, took.Round(time.Millisecond), limit)
		if took > limit {
			t.Errorf("interrupted %s after the kill, more than the stated %s", took, limit)
		}
		var told []string
		eventually(t, time.Minute, "the interruption told in the pull request", func() bool {
			told = nil
			for _, c := range fake.Comments("runatlantis/atlantis-tests", 1)[before:] {
				if strings.Contains(c.Body, "interrupted") {
					told = append(told, c.Body)
				}
			}
			return len(told) > 0
		})
		t.Logf("told in the pull request: %q", told)
		// The run's own comment, edited in place, shows the end too.
		eventually(t, time.Minute, "the run's comment edited to interrupted", func() bool {
			for _, c := range fake.Comments("runatlantis/atlantis-tests", 1) {
				if len(c.Edits) > 0 && strings.Contains(c.Body, "nap") && strings.Contains(c.Body, "interrupted") {
					return true
				}
			}
			return false
		})
		// The key is free: the next nap runs on the live replica.
		if code := webhook(t, live.url, "issue_comment", "replicas-nap-2", comment("/ops run nap")); code != http.StatusAccepted {
			t.Fatalf("comment: %d", code)
		}
		eventually(t, time.Minute, "the next nap runs", func() bool {
			for _, r := range runsOfDef("nap") {
				if r.ID != nap.ID && r.State == dayops.RunRunning {
					return true
				}
			}
			return false
		})
		replicas = []*replica{live}
	})

	t.Run("a run page on one replica follows a run on another", func(t *testing.T) {
		if len(replicas) != 1 {
			t.Skip("the kill left no single survivor")
		}
		// A third replica joins; talk runs on one of the two, its page is
		// read on the other.
		replicas = append(replicas, startReplica(t, "c", path, env))
		if code := webhook(t, replicas[0].url, "issue_comment", "replicas-talk-1", comment("/ops run talk")); code != http.StatusAccepted {
			t.Fatalf("comment: %d", code)
		}
		var talk *dayops.Run
		eventually(t, time.Minute, "talk runs", func() bool {
			runs := runsOfDef("talk")
			if len(runs) == 1 && runs[0].State == dayops.RunRunning {
				talk = runs[0]
			}
			return talk != nil
		})
		viewer := replicas[0]
		if viewer.owns(talk) {
			viewer = replicas[1]
		}
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		res, err := client.PostForm(viewer.url+"/login", url.Values{"password": {replicaPassword}, "next": {"/runs"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		res, err = client.Get(fmt.Sprintf("%s/runs/%d/events", viewer.url, talk.ID))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("the live log on replica %s: %d %s", viewer.name, res.StatusCode, res.Header.Get("Content-Type"))
		}
		var lines []string
		liveLines := 0
		sc := bufio.NewScanner(res.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				event = v
				continue
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			if event == "log" {
				var l struct{ Text string }
				if err := json.Unmarshal([]byte(data), &l); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, l.Text)
				if r, err := st.Run(ctx, talk.ID); err == nil && !r.State.Final() {
					liveLines++
				}
			}
			if event == "end" {
				break
			}
		}
		var want []string
		for i := 1; i <= 40; i++ {
			want = append(want, fmt.Sprintf("line %d", i))
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("replica %s showed the lines of a run on another:\n%q\nwant\n%q", viewer.name, lines, want)
		}
		if liveLines < 10 {
			t.Errorf("only %d lines came while the run ran: the page did not follow it live", liveLines)
		}
		t.Logf("replica %s showed %d lines of run %d on another replica, %d of them while it ran", viewer.name, len(lines), talk.ID, liveLines)
	})
}
