package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
	"github.com/dayops/dayops/storage"
)

// lockedBuffer is a bytes.Buffer the server's logger writes to while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveDefinitions are an ops repo: a run of `sleep 2`, and one of
// `sleep 30` whose rollback leaves a mark.
func serveDefinitions(marks string) map[string]string {
	return map[string]string{
		"ops/nap.yaml": `apiVersion: dayops/v1
phase: day2
name: nap
description: A short step
steps:
  - name: Nap
    run: sleep 2
`,
		"ops/sleep.yaml": `apiVersion: dayops/v1
phase: day2
name: sleep
description: A long step with a rollback
steps:
  - name: Sleep
    run: sleep 30
rollback:
  - name: Undo
    run: touch ` + filepath.Join(marks, "rolled-back") + `
`,
	}
}

var listening = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

// servedDayops is a `dayops serve` started in this process through Main.
type servedDayops struct {
	srv    *server
	url    string
	logs   *lockedBuffer
	stop   context.CancelFunc // what main does on SIGTERM or SIGINT
	exited chan int
}

// startServe runs Main serve --config with file in this process, with env
// (name, value pairs) as its environment. The test
// cancels Main's context to stop it: that is exactly what main does on
// SIGTERM (signal.NotifyContext), and TestServeProcess sends a real SIGTERM
// to a real process. In process, the serveStarted hook hands the test the
// server's own executor, to start runs without configuring a door (the
// Slack tests go through one): a second executor on the same database would
// run them outside the server, proving nothing about its shutdown.
func startServe(t *testing.T, file string, env ...string) *servedDayops {
	t.Helper()
	vars := map[string]string{}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	path := filepath.Join(t.TempDir(), "dayops.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	started := make(chan *server, 1)
	serveStarted = func(s *server) { started <- s }
	t.Cleanup(func() { serveStarted = nil })
	ctx, cancel := context.WithCancel(context.Background())
	d := &servedDayops{logs: &lockedBuffer{}, stop: cancel, exited: make(chan int, 1)}
	go func() {
		d.exited <- Main(ctx, []string{"serve", "--config", path}, IO{Stdout: io.Discard, Stderr: d.logs, Getenv: func(k string) string { return vars[k] }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.exited:
		case <-time.After(time.Minute):
			t.Error("serve did not stop within a minute")
		}
	})
	select {
	case d.srv = <-started:
	case code := <-d.exited:
		d.exited <- code // for the cleanup
		t.Fatalf("serve exited %d:\n%s", code, d.logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("serve did not start within a minute:\n%s", d.logs.String())
	}
	m := listening.FindStringSubmatch(d.logs.String())
	if m == nil {
		t.Fatalf("no \"listening\" line in the log:\n%s", d.logs.String())
	}
	d.url = "http://" + m[1]
	return d
}

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond every 50ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func serveConfig(t *testing.T, repo, grace string) string {
	db := filepath.Join(t.TempDir(), "dayops.db")
	return fmt.Sprintf("listen: 127.0.0.1:0\ndatabase: %s\nrepo: {url: %q, interval: 200ms}\nshutdown_grace: %s\n", db, repo, grace)
}

// startRun starts definition on the server's executor and waits for its
// step to be running.
func startRun(t *testing.T, d *servedDayops, definition string) int64 {
	t.Helper()
	ctx := context.Background()
	run, err := d.srv.exec.Start(ctx, dayops.RunRequest{Definition: definition, Trigger: dayops.TriggerCLI,
		Actor: dayops.Actor{ID: "console:alice"}, Thread: dayops.Thread{Door: "test", Channel: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the step runs", func() bool {
		r, err := d.srv.store.Run(ctx, run.ID)
		return err == nil && r.State == dayops.RunRunning && len(r.Steps) > 0 && r.Steps[0].State == dayops.StepRunning
	})
	return run.ID
}

// exitCode waits for Main to return.
func (d *servedDayops) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case code := <-d.exited:
		d.exited <- code // for the cleanup
		return code
	case <-time.After(within):
		t.Fatalf("serve did not exit within %s:\n%s", within, d.logs.String())
		return -1
	}
}

func storedRun(t *testing.T, db string, id int64) *dayops.Run {
	t.Helper()
	st, err := storage.Open(context.Background(), db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestServeReadinessAndGracefulShutdown: /healthz answers while the process
// runs; /readyz is 503 with the reason until a valid catalog is loaded, 200
// after; SIGTERM lets a running step finish within the grace period and
// the process exits 0.
func TestServeReadinessAndGracefulShutdown(t *testing.T) {
	gs := gitserver.New(t)
	gs.Commit("broken", map[string]string{"ops/nap.yaml": "apiVersion: dayops/v1\nphase: day2\nname: nap\nsteps: [{name: Nap, run: sleep 2}]\nsurprise: 1\n"})
	file := serveConfig(t, gs.URL(), "1m")
	d := startServe(t, file)

	if code, body := get(t, d.url+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %q, want 200", code, body)
	}
	code, body := get(t, d.url+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no valid catalog loaded yet: the last sync") || !strings.Contains(body, "surprise") {
		t.Errorf("/readyz before a valid catalog = %d %q, want 503 with the reason", code, body)
	}

	gs.Commit("valid", serveDefinitions(t.TempDir()))
	eventually(t, 30*time.Second, "/readyz 200 after a valid sync", func() bool {
		code, _ := get(t, d.url+"/readyz")
		return code == http.StatusOK
	})

	id := startRun(t, d, "nap")
	d.stop() // SIGTERM
	eventually(t, 10*time.Second, "/readyz says it is shutting down", func() bool {
		code, body := get(t, d.url+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "shutting down")
	})
	if code, _ := get(t, d.url+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while shutting down = %d, want 200 while the process runs", code)
	}
	if code := d.exitCode(t, time.Minute); code != exitOK {
		t.Errorf("exit %d, want 0:\n%s", code, d.logs.String())
	}
	db := regexp.MustCompile(`database: (\S+)`).FindStringSubmatch(file)[1]
	if r := storedRun(t, db, id); r.State != dayops.RunSucceeded {
		t.Errorf("run %d ended %s (%s), want succeeded: SIGTERM must let a running step finish within shutdown_grace\n%s", id, r.State, r.Reason, d.logs.String())
	}
	if strings.Contains(d.logs.String(), "cancelling run") {
		t.Errorf("a run was cancelled although it finished within the grace period:\n%s", d.logs.String())
	}
}

// TestServeCancelsWhatOutlivesTheGrace: with shutdown_grace 1s, a step of
// 30 s is cancelled, its rollback runs, the log says which run was left and
// where, and the process exits 0.
func TestServeCancelsWhatOutlivesTheGrace(t *testing.T) {
	gs := gitserver.New(t)
	marks := t.TempDir()
	gs.Commit("valid", serveDefinitions(marks))
	file := serveConfig(t, gs.URL(), "1s")
	d := startServe(t, file)
	eventually(t, 30*time.Second, "/readyz 200", func() bool {
		code, _ := get(t, d.url+"/readyz")
		return code == http.StatusOK
	})
	id := startRun(t, d, "sleep")
	start := time.Now()
	d.stop() // SIGTERM
	if code := d.exitCode(t, time.Minute); code != exitOK {
		t.Errorf("exit %d, want 0:\n%s", code, d.logs.String())
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("shutdown took %s: the 30 s step should have been cancelled after the 1 s grace", took)
	}
	db := regexp.MustCompile(`database: (\S+)`).FindStringSubmatch(file)[1]
	r := storedRun(t, db, id)
	if r.State != dayops.RunCancelled || r.Rollback != dayops.RolledBack {
		t.Errorf("run %d ended %s, rollback %q (%s); want cancelled and rolled back", id, r.State, r.Rollback, r.Reason)
	}
	if _, err := os.Stat(filepath.Join(marks, "rolled-back")); err != nil {
		t.Errorf("the rollback step did not run: %v", err)
	}
	logs := d.logs.String()
	want := fmt.Sprintf(`"msg":"cancelling run left at the end of the grace period","run_id":%d,"definition":"sleep"`, id)
	if !strings.Contains(logs, want) || !strings.Contains(logs, `"thread":"test`) {
		t.Errorf("the log does not say which run was left and where (want %q):\n%s", want, logs)
	}
}

// TestServeBadConfiguration: a bad configuration exits 2 with every problem.
func TestServeBadConfiguration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dayops.yaml")
	if err := os.WriteFile(path, []byte("listen: nowhere\nslack: {mode: sokcet, bot_token: xoxb-123}\nrepo: {interval: \"5\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := cli(t, "", "serve", "--config", path)
	if code != exitUsage || out != "" {
		t.Errorf("exit %d, stdout %q; want 2 and nothing on stdout", code, out)
	}
	for _, want := range []string{
		"has 5 problems",
		`line 1: listen: "nowhere" is not host:port`,
		`line 2: slack.mode: "sokcet" is not one of socket, http`,
		"line 2: slack.bot_token: is a secret, and secrets are never read from the file: remove it and set DAYOPS_SLACK_BOT_TOKEN in the environment",
		`line 3: repo.interval: "5" is not a duration, e.g. 1m`,
		"repo.url: is missing",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "xoxb-123") {
		t.Errorf("stderr shows the token written in the file:\n%s", stderr)
	}
}

// TestServeProcess: the real process, a real SIGTERM: it serves /healthz
// and /readyz and exits 0.
func TestServeProcess(t *testing.T) {
	gs := gitserver.New(t)
	gs.Commit("valid", serveDefinitions(t.TempDir()))
	path := filepath.Join(t.TempDir(), "dayops.yaml")
	file := serveConfig(t, gs.URL(), "5s")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "flag.db") // --database overrides the file's
	cmd := exec.Command(os.Args[0], "serve", "--config", path, "--database", db)
	cmd.Env = append(os.Environ(), asDayops+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var url string
	var log strings.Builder
	for url == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve ended before listening:\n%s", log.String())
			}
			log.WriteString(line + "\n")
			if m := listening.FindStringSubmatch(line); m != nil {
				url = "http://" + m[1]
			}
		case <-time.After(time.Minute):
			t.Fatalf("no \"listening\" line within a minute:\n%s", log.String())
		}
	}
	if code, body := get(t, url+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %q", code, body)
	}
	eventually(t, 30*time.Second, "/readyz 200", func() bool {
		code, _ := get(t, url+"/readyz")
		return code == http.StatusOK
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		log.WriteString(line + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v, want exit 0\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), `"msg":"stopped"`) {
		t.Errorf("no \"stopped\" line:\n%s", log.String())
	}
	// The server logs JSON, one object a line, for log collectors.
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var entry struct {
			Time       time.Time
			Level, Msg string
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil || entry.Time.IsZero() || entry.Level == "" || entry.Msg == "" {
			t.Errorf("a log line that is not a JSON entry with time, level and msg (%v): %s", err, line)
		}
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("--database %s: %v", db, err)
	}
	if fileDB := regexp.MustCompile(`database: (\S+)`).FindStringSubmatch(file)[1]; fileExists(fileDB) {
		t.Errorf("the configuration's database %s was created although --database was given", fileDB)
	}
}

// TestServeNotReadyDuringTheFirstSync: while the first fetch of the ops
// repo hangs (a git host that accepts and never answers), /healthz is 200
// and /readyz 503 saying the first sync has not finished; SIGTERM then
// still ends the process cleanly.
func TestServeNotReadyDuringTheFirstSync(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	path := filepath.Join(t.TempDir(), "dayops.yaml")
	if err := os.WriteFile(path, []byte(serveConfig(t, "http://"+ln.Addr().String()+"/ops.git", "1s")), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- Main(ctx, []string{"serve", "--config", path}, IO{Stdout: io.Discard, Stderr: logs, Getenv: func(string) string { return "" }})
	}()
	var url string
	eventually(t, time.Minute, "the listening line", func() bool {
		if m := listening.FindStringSubmatch(logs.String()); m != nil {
			url = "http://" + m[1]
		}
		return url != ""
	})
	if code, body := get(t, url+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body := get(t, url+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "the first sync of the ops repo has not finished") {
		t.Errorf("/readyz during the first sync = %d %q, want 503 saying so", code, body)
	}
	cancel() // SIGTERM
	select {
	case code := <-exited:
		if code != exitOK {
			t.Errorf("exit %d, want 0:\n%s", code, logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("serve did not stop within a minute:\n%s", logs.String())
	}
}

// TestServeCannotListen: an address in use fails the start with exit 1 and
// says which address.
func TestServeCannotListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gs := gitserver.New(t)
	gs.Commit("valid", serveDefinitions(t.TempDir()))
	path := filepath.Join(t.TempDir(), "dayops.yaml")
	file := strings.Replace(serveConfig(t, gs.URL(), "1s"), "127.0.0.1:0", ln.Addr().String(), 1)
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "", "serve", "--config", path)
	if want := "dayops serve: listening on " + ln.Addr().String(); code != exitFail || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}
