package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary, as a user or an attacker with a definition
// would: in a process of its own, killed, paused, read through /proc.

// binDir holds the binary built for these tests; TestMain (process_test.go)
// removes it.
var binDir string

var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "dayops-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "dayops")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// binary returns the path of dayops built from this package.
func binary(t *testing.T) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// openDir is a temporary folder that every user may use (the tests run
// dayops as nobody), removed at the end of the test.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dayops-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// writeOpen writes files under dir, readable by every user.
func writeOpen(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// nobody is the credential of user nobody; the tests that need it run as
// root (as CI does) and are skipped otherwise.
func nobody(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run dayops as another user")
	}
	return &syscall.Credential{Uid: 65534, Gid: 65534}
}

// dayopsCmd is the binary with args, its environment only env (and PATH).
func dayopsCmd(t *testing.T, cred *syscall.Credential, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=/tmp", "LANG=C.UTF-8"}, env...)
	cmd.Dir = "/"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	return cmd, &out
}

func reverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}

// readAll is the content of the files that exist among paths.
func readAll(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		b.Write(data)
	}
	return b.String()
}

// snoopDef declares no secret and tries every way a step has to read the
// secrets of the dayops process that started it.
const snoopDef = `apiVersion: dayops/v1
phase: day2
name: snoop
steps:
  - name: Snoop
    run: |
      echo "uid $(id -u)"
      tr '\0' '\n' </proc/$PPID/environ | rev || echo "environ: unreadable"
      tr '\0' '\n' </proc/$PPID/cmdline | rev || echo "cmdline: unreadable"
      head -c 65536 /proc/$PPID/mem >/dev/null 2>&1 && echo "mem: readable" || echo "mem: unreadable"
      cat /proc/$PPID/maps >/dev/null 2>&1 && echo "maps: readable" || echo "maps: unreadable"
      env | rev
      ls -la "$TMPDIR" "$DAYOPS_OUTPUT" | rev
      echo "out=written" >> "$DAYOPS_OUTPUT"
      touch "$MARKERS/ready"
      for i in $(seq 100); do [ -e "$MARKERS/go" ] && break; sleep 0.1; done
      echo snooped
`

// TestAStepCannotReadTheServersSecrets: a definition that declares no secret
// reads its parent's /proc entries. Run as the same user (nobody) and as
// root with steps run as nobody, the secrets of dayops are nowhere in the
// output, the database or its WAL, and the environment dayops was started
// with no longer shows them even to root.
func TestAStepCannotReadTheServersSecrets(t *testing.T) {
	cred := nobody(t)
	const secret = "s3cr3t-in-the-server-env"
	const token = "xoxb-token-of-the-server"
	tests := []struct {
		name  string
		cred  *syscall.Credential // of dayops
		env   []string
		wants []string
	}{
		{"dayops and the step as nobody", cred, nil, []string{"uid 65534", "environ: unreadable", "mem: unreadable"}},
		{"dayops as root, steps run as nobody", nil, []string{"DAYOPS_STEPS_RUN_AS=nobody"}, []string{"uid 65534", "environ: unreadable", "mem: unreadable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := openDir(t)
			markers := openDir(t)
			writeOpen(t, dir, map[string]string{"defs/snoop.yaml": strings.ReplaceAll(snoopDef, "$MARKERS", markers)})
			db := filepath.Join(dir, "d.db")
			env := append([]string{"DAYOPS_SECRET_X=" + secret, "DAYOPS_SLACK_BOT_TOKEN=" + token, "DAYOPS_VAR_UNUSED=1"}, tt.env...)
			cmd, out := dayopsCmd(t, tt.cred, env, "run", "snoop", "--dir", filepath.Join(dir, "defs"), "--database", db)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			deadline := time.Now().Add(30 * time.Second)
			for _, err := os.Stat(filepath.Join(markers, "ready")); err != nil; _, err = os.Stat(filepath.Join(markers, "ready")) {
				if time.Now().After(deadline) {
					t.Fatalf("the step did not start:\n%s", out)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// What root sees of the running dayops process.
			pid := cmd.Process.Pid
			seen := readAll(fmt.Sprintf("/proc/%d/environ", pid), fmt.Sprintf("/proc/%d/cmdline", pid))
			os.WriteFile(filepath.Join(markers, "go"), nil, 0o644)
			err := cmd.Wait()
			text := out.String()
			if err != nil || !strings.Contains(text, "snooped") {
				t.Fatalf("dayops run: %v\n%s", err, text)
			}
			for _, w := range tt.wants {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			stored := readAll(db, db+"-wal", db+"-shm")
			for _, s := range []string{secret, reverse(secret), token, reverse(token)} {
				for where, in := range map[string]string{"output": text, "database": stored, "/proc/PID/environ seen by root": seen} {
					if strings.Contains(in, s) {
						t.Errorf("%q is in the %s", s, where)
					}
				}
			}
			if !strings.Contains(seen, "DAYOPS_VAR_UNUSED=1") {
				t.Errorf("/proc/PID/environ of dayops, read by root, lacks what it does not hide: %q", seen)
			}
		})
	}
}

// TestShortSecretsAreRefused: a secret shorter than dayops can mask is
// refused before anything runs, naming the variable.
func TestShortSecretsAreRefused(t *testing.T) {
	dir := openDir(t)
	writeOpen(t, dir, map[string]string{"defs/hi.yaml": "apiVersion: dayops/v1\nphase: day2\nname: hi\nsteps:\n  - run: touch " + dir + "/ran\n"})
	cmd, out := dayopsCmd(t, nil, []string{"DAYOPS_SECRET_PIN=12\n"}, "run", "hi", "--dir", filepath.Join(dir, "defs"), "--database", filepath.Join(dir, "d.db"))
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitFail || !strings.Contains(out.String(), "DAYOPS_SECRET_PIN is 2 characters long: a secret needs at least 4") {
		t.Errorf("exit %d (%v):\n%s", code, err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the step ran")
	}
}

// TestAStepDiesWithItsDayops: kill -9 of `dayops run` takes the step's
// processes with it within seconds, and history tells that the run's owner
// is gone instead of showing it running.
func TestAStepDiesWithItsDayops(t *testing.T) {
	dir := openDir(t)
	writeOpen(t, dir, map[string]string{"defs/long.yaml": `apiVersion: dayops/v1
phase: day2
name: long
steps:
  - name: Sleep
    run: |
      sleep 300 &
      echo $! > ` + dir + `/sleep.pid
      wait
`})
	db := filepath.Join(dir, "d.db")
	cmd, out := dayopsCmd(t, nil, nil, "run", "long", "--dir", filepath.Join(dir, "defs"), "--database", db)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var sleepPid int
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "sleep.pid"))
		if _, err := fmt.Sscan(string(b), &sleepPid); err == nil && strings.HasSuffix(string(b), "\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the step did not start:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer syscall.Kill(sleepPid, syscall.SIGKILL)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	killed := time.Now()
	for processRuns(sleepPid) {
		// The watcher terms the group at once and kills it within 2 s; the
		// rest is slack for a loaded machine (it took over 5 s once, with
		// five test runs sharing two cores).
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("the step's sleep (pid %d) still runs 10 s after dayops was killed", sleepPid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the step's sleep was gone %s after kill -9 of dayops", time.Since(killed).Round(time.Millisecond))

	code, hist, stderr := cli(t, "", "history", "--database", db)
	if code != exitOK || !strings.Contains(hist, "running") || !strings.Contains(hist, "owner gone since") {
		t.Errorf("history: exit %d\n%s%s", code, hist, stderr)
	}
	if code, logs, stderr := cli(t, "", "logs", "1", "--database", db); code != exitOK || !strings.Contains(logs, "owner gone since") {
		t.Errorf("logs: exit %d\n%s%s", code, logs, stderr)
	}
}

// processRuns reports whether pid runs (a zombie does not).
func processRuns(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// TestAPausedRunKeepsItsKey: `dayops run` holding a concurrency key is
// paused (kill -STOP, as Ctrl-Z does) for 20 s, four times as long as it
// takes its heartbeat to look dead. A second `dayops run` on the same key and
// database waits all the same: the first process is alive on this host. The
// steps' recorded intervals do not overlap.
func TestAPausedRunKeepsItsKey(t *testing.T) {
	if testing.Short() {
		t.Skip("pauses a process for 20 s")
	}
	dir := openDir(t)
	times := filepath.Join(dir, "times")
	writeOpen(t, dir, map[string]string{"defs/hold.yaml": `apiVersion: dayops/v1
phase: day2
name: hold
concurrency: the-key
params:
  secs: {type: int, required: true}
steps:
  - name: Hold
    run: |
      echo "start $(date +%s.%N)" >> ` + times + `
      sleep "$DAYOPS_PARAM_SECS"
      echo "end $(date +%s.%N)" >> ` + times + `
`})
	db := filepath.Join(dir, "d.db")
	args := func(secs string) []string {
		return []string{"run", "hold", "secs=" + secs, "--dir", filepath.Join(dir, "defs"), "--database", db}
	}
	first, firstOut := dayopsCmd(t, nil, nil, args("24")...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for b, _ := os.ReadFile(times); !strings.Contains(string(b), "start"); b, _ = os.ReadFile(times) {
		if time.Now().After(deadline) {
			t.Fatalf("the first run did not start:\n%s", firstOut)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	second, secondOut := dayopsCmd(t, nil, nil, args("1")...)
	if err := second.Start(); err != nil {
		first.Process.Signal(syscall.SIGCONT)
		t.Fatal(err)
	}
	defer second.Process.Kill()
	time.Sleep(20 * time.Second)
	first.Process.Signal(syscall.SIGCONT)
	errFirst, errSecond := first.Wait(), second.Wait()
	if errFirst != nil || errSecond != nil {
		t.Fatalf("first: %v\n%s\nsecond: %v\n%s", errFirst, firstOut, errSecond, secondOut)
	}
	b, _ := os.ReadFile(times)
	var intervals [][2]float64
	var open float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var what string
		var at float64
		if _, err := fmt.Sscan(line, &what, &at); err != nil {
			t.Fatalf("times: %q: %v", line, err)
		}
		switch {
		case what == "start" && open == 0:
			open = at
		case what == "end" && open != 0:
			intervals = append(intervals, [2]float64{open, at})
			open = 0
		default:
			t.Fatalf("steps overlap: %q in\n%s", line, b)
		}
	}
	if len(intervals) != 2 {
		t.Fatalf("want two runs of the step one after the other, got\n%s", b)
	}
	t.Logf("first step %.1fs, second began %.1fs after the first ended", intervals[0][1]-intervals[0][0], intervals[1][0]-intervals[0][1])
}
