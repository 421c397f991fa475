package executor_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

// gone reports whether process pid no longer runs (a zombie that nobody has
// reaped yet runs nothing and counts as gone).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[0] == "Z" || f[0] == "X"
}

// waitGone waits up to d for pid to be gone.
func waitGone(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !gone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d is still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	pid, err := strconv.Atoi(waitFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// runProcess starts script with the local runner and collects its output.
func runProcess(t *testing.T, ctx context.Context, script string, env []string, grace time.Duration) (stdout, stderr string, code int) {
	t.Helper()
	p, err := executor.LocalRunner{}.Start(ctx, executor.ProcessSpec{Script: script, Dir: t.TempDir(), Env: env, KillGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(&out, p.Stdout()) }()
	go func() { defer wg.Done(); io.Copy(&errb, p.Stderr()) }()
	code, err = p.Wait()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestLocalRunner(t *testing.T) {
	tests := []struct {
		name, script   string
		stdout, stderr string
		code           int
	}{
		{"success", "echo hello; echo oops >&2", "hello\n", "oops\n", 0},
		{"exit code", "echo before; exit 3; echo after", "before\n", "", 3},
		{"errexit", "false\necho not reached", "", "", 1},
		{"pipefail", "false | true\necho not reached", "", "", 1},
		{"killed by a signal", "kill -9 $$", "", "", 128 + 9},
		{"minimal environment", `echo "${SERVER_SECRET:-unset} $PATH"`, "unset /bin\n", "", 0},
	}
	t.Setenv("SERVER_SECRET", "must-not-leak")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runProcess(t, context.Background(), tt.script, []string{"PATH=/bin"}, time.Second)
			if out != tt.stdout || errs != tt.stderr || code != tt.code {
				t.Errorf("got stdout %q stderr %q code %d, want %q %q %d", out, errs, code, tt.stdout, tt.stderr, tt.code)
			}
		})
	}
}

func TestLocalRunnerKillsWhatAStepLeavesBehind(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	_, _, code := runProcess(t, context.Background(), "sleep 300 & echo $! > "+pidFile+"\nexit 0", []string{"PATH=/bin:/usr/bin"}, time.Second)
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waiting took %s: the background child held the step", d)
	}
	waitGone(t, readPid(t, pidFile), 2*time.Second)
}

func TestLocalRunnerDoesNotWaitForAProcessThatLeftTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	// set -m puts the sleep in a group of its own, out of the step's reach,
	// with the step's stdout and stderr still open.
	out, _, code := runProcess(t, context.Background(), "set -m\nsleep 300 & echo $! > "+pidFile+"\necho done", []string{"PATH=/bin:/usr/bin"}, 200*time.Millisecond)
	readPid(t, pidFile) // killed at cleanup
	if code != 0 || out != "done\n" {
		t.Errorf("stdout %q, exit code %d", out, code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waiting took %s: the process that left the group held the step", d)
	}
}

func TestLocalRunnerCancelTerminatesTheGroup(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, script string
		minWait      time.Duration // a child that ignores SIGTERM is killed after the grace
	}{
		{"sleep", "sleep 300 & echo $! > %s\nwait", 0},
		{"ignores SIGTERM", "bash -c 'trap \"\" TERM; echo $$ > %s; exec sleep 300' &\nwait", 150 * time.Millisecond},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, strconv.Itoa(i))
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				waitFile(t, pidFile)
				cancel()
			}()
			start := time.Now()
			_, _, code := runProcess(t, ctx, strings.ReplaceAll(tt.script, "%s", pidFile), []string{"PATH=/bin:/usr/bin"}, 200*time.Millisecond)
			pid := readPid(t, pidFile)
			waitGone(t, pid, 2*time.Second)
			if code == 0 {
				t.Errorf("exit code 0 after cancel")
			}
			if d := time.Since(start); d < tt.minWait || d > 5*time.Second {
				t.Errorf("cancel took %s", d)
			}
		})
	}
}

// slowLogs is a store that takes its time to write output lines, as a busy
// disk or a loaded machine does.
type slowLogs struct {
	executor.Store
	delay time.Duration
}

func (s slowLogs) AppendLogs(ctx context.Context, lines []dayops.LogLine) error {
	time.Sleep(s.delay)
	return s.Store.AppendLogs(ctx, lines)
}

func TestNoOutputLostWhenTheStoreIsSlow(t *testing.T) {
	h := newHarness(t, map[string]string{"p.yaml": def("printer", `
steps:
  - name: Print
    run: seq -f 'line %06g of the deployment output' 1 5000
`)}, func(o *executor.Options) { o.Store = slowLogs{Store: o.Store, delay: 150 * time.Millisecond} })
	r := h.start(dayops.RunRequest{Definition: "printer"})
	if got := h.done(r.ID); got.State != dayops.RunSucceeded {
		t.Fatalf("%s %q", got.State, got.Reason)
	}
	lines, err := h.store.Logs(context.Background(), r.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lines); n != 5000 || lines[n-1].Text != "line 005000 of the deployment output" {
		t.Fatalf("%d lines stored, the last %q; want 5000", n, lines[max(n-1, 0)].Text)
	}
}

// TestLocalRunnerOutputs: the runner hands the step a private $DAYOPS_OUTPUT
// file, returns what the step wrote through the process, and leaves no file.
func TestLocalRunnerOutputs(t *testing.T) {
	dir := t.TempDir()
	script := `stat -c %a "$DAYOPS_OUTPUT"; echo "$DAYOPS_OUTPUT"; echo "a=1" >> "$DAYOPS_OUTPUT"; printf 'b=%s' "$(head -c 70000 /dev/zero | tr '\0' x)" >> "$DAYOPS_OUTPUT"`
	p, err := executor.LocalRunner{}.Start(context.Background(), executor.ProcessSpec{Script: script, Dir: dir, TempDir: dir,
		Env: []string{"PATH=" + os.Getenv("PATH"), "DAYOPS_OUTPUT=/etc/passwd"}, KillGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, p.Stdout()); close(done) }()
	go io.Copy(io.Discard, p.Stderr())
	if code, err := p.Wait(); code != 0 || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	<-done
	mode, path, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	if mode != "600" || filepath.Dir(path) != dir {
		t.Errorf("$DAYOPS_OUTPUT %s with mode %s, want a 600 file in %s", path, mode, dir)
	}
	b, more, err := p.Outputs(10)
	if string(b) != "a=1\nb=xxxx" || !more || err != nil {
		t.Errorf("Outputs(10) = %q, %v, %v", b, more, err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s is left behind", path)
	}
}
