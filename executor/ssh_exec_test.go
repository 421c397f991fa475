package executor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"os"
	osuser "os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

// marked returns the pids of processes on this machine whose environment
// holds MARK=mark: the remote steps of a test, since its sshd is local.
func marked(mark string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 && len(st) > i+2 && st[i+2] == 'Z' {
				continue // a zombie runs nothing
			}
		}
		for _, kv := range bytes.Split(b, []byte{0}) {
			if string(kv) == "MARK="+mark {
				out = append(out, pid)
			}
		}
	}
	return out
}

// waitNoneMarked waits up to d for no process to hold mark.
func waitNoneMarked(t *testing.T, mark string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		pids := marked(mark)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
				t.Errorf("process %d (%s) of the remote step still runs after %s", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}), d)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newMark(t *testing.T) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestSSHStepOnTwoHosts: a step on a group of two sshd runs on both, two at
// a time, with each host's lines and end under the step, its secret masked
// and each host's outputs under HOST_KEY.
func TestSSHStepOnTwoHosts(t *testing.T) {
	tg, _ := sshTargets(t, "web-1", "web-2")
	tg.Groups["web"] = []string{"web-1", "web-2"}
	h := newHarness(t, map[string]string{"r.yaml": def("restart", `
secrets: [KUBE_TOKEN]
steps:
  - id: restart
    name: Restart
    on: web
    parallel: 2
    run: |
      echo "restarting as $USER in $PWD"
      echo "token $DAYOPS_SECRET_KUBE_TOKEN" >&2
      echo "pid=$$" >> "$DAYOPS_OUTPUT"
  - name: After
    env: {A: '${{ steps.restart.outputs.web_1_pid }}', B: '${{ steps.restart.outputs.web_2_pid }}'}
    run: test -n "$A" && test -n "$B" && test "$A" != "$B"
`)}, func(o *executor.Options) { o.Targets = tg })
	r := h.done(h.start(dayops.RunRequest{Definition: "restart"}).ID)
	if r.State != dayops.RunSucceeded {
		t.Fatalf("run %s: %s\n%s", r.State, r.Reason, h.logs(r.ID))
	}
	logs := h.logs(r.ID)
	home, _ := os.UserHomeDir()
	u, err := osuser.Current()
	if err != nil {
		t.Fatal(err)
	}
	user := u.Username
	for _, want := range []string{
		"0 system: on web: web-1, web-2, 2 at a time\n",
		"0 stdout: [web-1] restarting as " + user + " in " + home + "\n",
		"0 stdout: [web-2] restarting as " + user + " in " + home + "\n",
		"0 stderr: [web-1] token ***\n",
		"0 stderr: [web-2] token ***\n",
		"0 system: web-1: succeeded in ",
		"0 system: web-2: succeeded in ",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "kube-s3cr3t") {
		t.Errorf("the secret reached the logs:\n%s", logs)
	}
	if keys := strings.Join(slices.Sorted(maps.Keys(r.Steps[0].Outputs)), " "); keys != "web_1_pid web_2_pid" {
		t.Errorf("outputs %q", keys)
	}
}

// TestSSHHostFailures: without continue_on_host_error the first failure
// stops the step from starting on more hosts; with it every host runs and
// the step fails at the end, naming the hosts that failed.
func TestSSHHostFailures(t *testing.T) {
	tg, _ := sshTargets(t, "a", "b", "c")
	tg.Groups["all"] = []string{"a", "b", "c"}
	// The hosts share one machine and run one at a time: the second to run
	// (b) fails, counting turns in a file.
	script := func(cont bool) string {
		dir := t.TempDir()
		return `
steps:
  - name: Work
    on: all
    continue_on_host_error: ` + strconv.FormatBool(cont) + `
    run: |
      n=$(cat ` + dir + `/turn.$DAYOPS_RUN_ID 2>/dev/null || echo 0)
      echo $((n + 1)) > ` + dir + `/turn.$DAYOPS_RUN_ID
      echo "turn $n"
      test "$n" != 1
`
	}
	for _, tt := range []struct {
		cont   bool
		reason string
		logs   []string
	}{
		{false, "step Work failed on b (exit 1); not started on c", []string{"0 system: a: succeeded in ", "0 system: b: failed on b (exit 1)", "0 system: c: not started\n"}},
		{true, "step Work failed on b (exit 1)", []string{"0 system: a: succeeded in ", "0 system: b: failed on b (exit 1)", "0 system: c: succeeded in "}},
	} {
		h := newHarness(t, map[string]string{"w.yaml": def("work", script(tt.cont))}, func(o *executor.Options) { o.Targets = tg })
		r := h.done(h.start(dayops.RunRequest{Definition: "work"}).ID)
		if r.State != dayops.RunFailed || r.Steps[0].Error != tt.reason {
			t.Errorf("continue %v: run %s, step error %q, want %q", tt.cont, r.State, r.Steps[0].Error, tt.reason)
		}
		logs := h.logs(r.ID)
		for _, want := range tt.logs {
			if !strings.Contains(logs, want) {
				t.Errorf("continue %v: the logs lack %q:\n%s", tt.cont, want, logs)
			}
		}
	}
}

// TestSSHInjectionCorpus: the executor's hostile values reach a step on a
// target verbatim, through parameters, env templates, step env and outputs
// of a remote step, and nothing in them is executed there.
func TestSSHInjectionCorpus(t *testing.T) {
	tg, _ := sshTargets(t, "web-1")
	marks, out := t.TempDir(), t.TempDir()
	accepted, _ := injectionCorpus(func(n string) string { return filepath.Join(marks, n) })
	h := newHarness(t, map[string]string{"i.yaml": def("inject", `
params:
  x: {type: string, required: true}
  y: {type: string, default: SHOULD-NOT-APPEAR}
env:
  DEF_X: pre-${{ params.x }}-post
on: web-1
steps:
  - id: echo
    env:
      STEP_X: ${{ params.x }}
    run: |
      o=`+out+`/$DAYOPS_RUN_ID
      printf '%s\n' "$DAYOPS_PARAM_X" > "$o.param"
      printf '%s\n' "$DEF_X" > "$o.def"
      printf '%s\n' "$STEP_X" > "$o.step"
      printf 'x=%s\n' "$DAYOPS_PARAM_X" >> "$DAYOPS_OUTPUT"
  - env:
      OUT_X: ${{ steps.echo.outputs.x }}
    run: |
      o=`+out+`/$DAYOPS_RUN_ID
      printf '%s\n' "$OUT_X" > "$o.output"
      printf '%s\n' "$DAYOPS_STEP_ECHO_X" > "$o.stepvar"
`)}, func(o *executor.Options) { o.Targets = tg })
	ids := make([]int64, len(accepted))
	for i, v := range accepted {
		ids[i] = h.start(dayops.RunRequest{Definition: "inject", Params: map[string]string{"x": v}}).ID
	}
	for i, v := range accepted {
		r := h.done(ids[i])
		if r.State != dayops.RunSucceeded {
			t.Errorf("value %q: %s %q", dayops.Truncate(v, 30), r.State, r.Reason)
			continue
		}
		got := map[string]string{}
		for _, ext := range []string{"param", "def", "step", "output", "stepvar"} {
			b, err := os.ReadFile(filepath.Join(out, strconv.FormatInt(r.ID, 10)+"."+ext))
			if err != nil {
				t.Fatal(err)
			}
			got[ext] = strings.TrimSuffix(string(b), "\n")
		}
		want := map[string]string{"param": v, "def": "pre-" + v + "-post", "step": v, "output": v, "stepvar": v}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("value %q (-want +got):\n%s", dayops.Truncate(v, 30), diff)
		}
	}
	entries, err := os.ReadDir(marks)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("marker %s was created: a value was executed on the target", e.Name())
	}
}

// TestSSHCancelAndTimeout: cancelling a run, or a step timing out, while a
// remote step waits for two background sleeps leaves no process of it on
// the target; nor does a step that ends and leaves them running.
func TestSSHCancelAndTimeout(t *testing.T) {
	tg, _ := sshTargets(t, "web-1")
	for _, how := range []string{"cancel", "timeout", "ends"} {
		t.Run(how, func(t *testing.T) {
			mark, started := newMark(t), filepath.Join(t.TempDir(), "started")
			timeout, wait := "", "wait"
			switch how {
			case "timeout":
				timeout = "\n    timeout: 1s"
			case "ends":
				wait = "sleep 0.5"
			}
			h := newHarness(t, map[string]string{"s.yaml": def("sleepy", `
steps:
  - name: Sleep
    on: web-1`+timeout+`
    env: {MARK: '`+mark+`'}
    run: |
      sleep 300 & sleep 301 &
      echo up > `+started+`
      `+wait+`
`)}, func(o *executor.Options) { o.Targets = tg })
			r := h.start(dayops.RunRequest{Definition: "sleepy"})
			waitFile(t, started)
			if n := len(marked(mark)); n < 3 {
				t.Fatalf("%d processes of the remote step found, want bash and two sleeps: the check would prove nothing", n)
			}
			if how == "cancel" {
				if err := h.exec.Cancel(context.Background(), r.ID, actor("alice"), thread); err != nil {
					t.Fatal(err)
				}
			}
			got := h.done(r.ID)
			want := map[string]dayops.RunState{"cancel": dayops.RunCancelled, "timeout": dayops.RunTimedOut, "ends": dayops.RunSucceeded}[how]
			if got.State != want {
				t.Errorf("run %s (%s), want %s", got.State, got.Reason, want)
			}
			waitNoneMarked(t, mark, 3*time.Second)
		})
	}
}

// TestSSHHostKeys: a host whose key is not in known_hosts, or differs from
// it, is refused with the fingerprint seen; trust_on_first_use accepts an
// unknown key once and writes it down, and refuses a different one after.
func TestSSHHostKeys(t *testing.T) {
	tg, servers := sshTargets(t, "web-1")
	s := servers["web-1"]
	script := def("hello", "steps:\n  - on: web-1\n    run: echo hello\n")
	run := func(knownHosts string, tofu bool) *dayops.Run {
		t.Helper()
		if err := os.WriteFile(tg.KnownHosts, []byte(knownHosts), 0o600); err != nil {
			t.Fatal(err)
		}
		tgt := tg.Hosts["web-1"]
		tgt.TrustOnFirstUse = tofu
		tg.Hosts["web-1"] = tgt
		h := newHarness(t, map[string]string{"h.yaml": script}, func(o *executor.Options) { o.Targets = tg })
		return h.done(h.start(dayops.RunRequest{Definition: "hello"}).ID)
	}
	addr := s.Addr()
	other := s.OtherKnownHostsLine() + "\n"
	for _, tt := range []struct {
		name, knownHosts string
		tofu             bool
		state            dayops.RunState
		reason           string
	}{
		{"unknown host", "", false, dayops.RunFailed, "step run 1 could not start on web-1: refused web-1 (" + addr + "): its host key ssh-ed25519 " + s.Fingerprint + " is not in ssh.known_hosts " + tg.KnownHosts + ", and trust_on_first_use is off"},
		{"different key", other, false, dayops.RunFailed, "step run 1 could not start on web-1: refused web-1 (" + addr + "): its host key ssh-ed25519 " + s.Fingerprint + " does not match ssh.known_hosts " + tg.KnownHosts},
		{"different key, trust on first use", other, true, dayops.RunFailed, "its host key ssh-ed25519 " + s.Fingerprint + " does not match"},
		{"unknown host, trust on first use", "", true, dayops.RunSucceeded, ""},
		{"known", s.KnownHostsLine + "\n", false, dayops.RunSucceeded, ""},
	} {
		r := run(tt.knownHosts, tt.tofu)
		if r.State != tt.state || !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("%s: run %s %q, want %s with %q", tt.name, r.State, r.Reason, tt.state, tt.reason)
		}
	}
	// The unknown host trusted on first use is now on file.
	b, err := os.ReadFile(tg.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), strings.TrimPrefix(s.KnownHostsLine, "[127.0.0.1]:"+strconv.Itoa(s.Port)+" ")) {
		t.Errorf("known_hosts after trust on first use: %q", b)
	}
}

// TestSSHConnectionLost: a target that goes silent mid-step (its sshd
// stopped, like a firewall dropping packets) or dies fails the step within
// the keepalive time, and the target stops the step by itself.
func TestSSHConnectionLost(t *testing.T) {
	for name, sig := range map[string]syscall.Signal{"stopped": syscall.SIGSTOP, "killed": syscall.SIGKILL} {
		t.Run(name, func(t *testing.T) {
			tg, servers := sshTargets(t, "web-1")
			mark, started := newMark(t), filepath.Join(t.TempDir(), "started")
			h := newHarness(t, map[string]string{"s.yaml": def("sleepy", `
steps:
  - name: Sleep
    on: web-1
    env: {MARK: '`+mark+`'}
    run: |
      sleep 300 & sleep 301 &
      echo up > `+started+`
      wait
`)}, func(o *executor.Options) { o.Targets = tg })
			r := h.start(dayops.RunRequest{Definition: "sleepy"})
			waitFile(t, started)
			servers["web-1"].Signal(sig)
			at := time.Now()
			got := h.done(r.ID)
			took := time.Since(at)
			// Keepalive every 500ms, 3 misses: about 2s; allow for a
			// loaded machine.
			if limit := 5 * time.Second; took > limit {
				t.Errorf("the step took %s to fail, more than %s", took, limit)
			}
			t.Logf("%s after %s", got.Reason, took)
			if got.State != dayops.RunFailed || !strings.Contains(got.Reason, "connection to web-1 ("+servers["web-1"].Addr()+") lost") {
				t.Errorf("run %s %q, want failed: connection lost", got.State, got.Reason)
			}
			// The wrapper hears nothing for 2s, then stops the step.
			waitNoneMarked(t, mark, 6*time.Second)
			servers["web-1"].Signal(syscall.SIGCONT)
		})
	}
}
