package executor_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/gitsync"
	"github.com/dayops/dayops/storage"
)

const longRun = `
concurrency: the-key
steps:
  - name: Long step
    run: |
      echo $$ > long.pid
      sleep 300
`

// crashRun is the long run of the crash test: besides its step's shell and a
// sleep in the step's process group, it leaves a sleep in a process group of
// its own (set -m), as a daemonised process would.
const crashRun = `
concurrency: the-key
steps:
  - name: Long step
    run: |
      echo $$ > long.pid
      sleep 300 &
      echo $! > long-sleep.pid
      set -m
      sleep 301 &
      echo $! > long-away.pid
      wait
`

// TestHelperProcess is not a test: crash tests run it as a separate process
// (the test binary again) that starts runs and is then killed with SIGKILL.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("DAYOPS_EXECUTOR_HELPER") != "1" {
		t.Skip("helper process for the crash recovery tests")
	}
	ctx := context.Background()
	st, err := storage.Open(ctx, os.Getenv("DAYOPS_HELPER_DB"), storage.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	dir := os.Getenv("DAYOPS_HELPER_DIR")
	cat, problems, err := gitsync.LoadDir(dir)
	if err != nil || len(problems) > 0 {
		fmt.Fprintln(os.Stderr, err, problems)
		os.Exit(2)
	}
	cats := &catalogs{}
	cats.set(cat)
	e, err := executor.New(executor.Options{Store: st, Catalogs: cats, Workspace: workspace{dir}, Policy: testPolicy,
		// Beats far enough apart that a loaded machine cannot make it look dead.
		Secrets: map[string]string{"KUBE_TOKEN": "kube-s3cr3t-token-value"}, HeartbeatInterval: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, req := range []dayops.RunRequest{
		{Definition: "long", Actor: actor("alice"), Thread: thread},
		{Definition: "deploy-web", Environment: "production", Params: map[string]string{"version": "v1.2.0"}, Actor: actor("alice"), Thread: thread},
	} {
		if _, err := e.Start(ctx, req); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	select {} // until killed
}

func TestRecoverAfterKill9(t *testing.T) {
	h := newHarness(t, map[string]string{"long.yaml": def("long", crashRun), "deploy.yaml": deployWeb}, nil)
	ctx := context.Background()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "DAYOPS_EXECUTOR_HELPER=1", "DAYOPS_HELPER_DB="+h.db, "DAYOPS_HELPER_DIR="+h.dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var leftovers []int // the step's shell, its sleep, the sleep that left its group
	for _, name := range []string{"long.pid", "long-sleep.pid", "long-away.pid"} {
		leftovers = append(leftovers, readPid(t, filepath.Join(h.dir, name)))
	}
	long := h.wait(1, dayops.RunRunning)
	h.wait(2, dayops.RunAwaitingApproval)
	if long.Owner == h.exec.Owner() || !strings.Contains(long.Owner, fmt.Sprintf(":%d:", cmd.Process.Pid)) {
		t.Fatalf("owner of the helper's run: %q", long.Owner)
	}
	// Look-alikes that are not the dead run's: another run of the same
	// owner, and the same run ID under a live owner.
	decoys := []int{
		startDecoy(t, "DAYOPS_RUN_ID=99", "DAYOPS_OWNER="+long.Owner),
		startDecoy(t, "DAYOPS_RUN_ID=1", "DAYOPS_OWNER="+h.exec.Owner()),
	}
	// While the helper lives, nothing is interrupted or killed.
	if runs, err := h.exec.Recover(ctx); err != nil || len(runs) != 0 {
		t.Fatalf("recover beside a live process: %v %v", runs, err)
	}
	for _, pid := range leftovers {
		if gone(pid) {
			t.Fatalf("process %d of the live helper's step was killed", pid)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The step watcher kills the step's process group within seconds of its
	// owner's death; the sleep that left the group outlives it.
	for _, pid := range leftovers[:2] {
		waitGone(t, pid, 5*time.Second)
	}
	if gone(leftovers[2]) {
		t.Fatalf("process %d, which left the step's group, died with the helper", leftovers[2])
	}

	// A restart: a new executor recovers.
	h.close()
	h.exec = h.newExecutor(h.opts)
	h.closed = false
	runs, err := h.exec.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != 1 || runs[0].State != dayops.RunInterrupted ||
		!strings.Contains(runs[0].Reason, "stopped during step Long step; killed 1 leftover process of step Long step;") {
		t.Fatalf("recovered: %+v", runs)
	}
	// Recover returns once the leftovers are gone, and only them.
	for _, pid := range leftovers {
		if !gone(pid) {
			t.Errorf("leftover process %d of the interrupted step still runs", pid)
		}
	}
	for _, pid := range decoys {
		if gone(pid) {
			t.Errorf("process %d of another run or owner was killed", pid)
		}
	}
	evs, err := h.store.AuditEvents(ctx, dayops.AuditFilter{RunID: 1})
	if err != nil {
		t.Fatal(err)
	}
	audited := false
	for _, ev := range evs {
		audited = audited || (ev.Action == "run.state" && strings.Contains(ev.Reason, "interrupted: owner "+long.Owner+" is gone; killed 1 leftover process of step Long step"))
	}
	if !audited {
		t.Errorf("the kill is not in the audit log: %+v", evs)
	}
	isInterrupted := func(ev dayops.RunEvent) bool { return ev.Kind == dayops.EventInterrupted && ev.Run.ID == 1 }
	if !slices.ContainsFunc(h.waitNotes(func(evs []dayops.RunEvent) bool { return slices.ContainsFunc(evs, isInterrupted) }), isInterrupted) {
		t.Error("no EventInterrupted")
	}
	// Its concurrency key is free.
	for _, name := range []string{"long.pid", "long-sleep.pid", "long-away.pid"} {
		os.Remove(filepath.Join(h.dir, name))
	}
	next := h.start(dayops.RunRequest{Definition: "long"})
	h.wait(next.ID, dayops.RunRunning)
	away := readPid(t, filepath.Join(h.dir, "long-away.pid")) // outlives a cancel: it left the group
	if err := h.exec.Cancel(ctx, next.ID, actor("alice"), thread); err != nil {
		t.Fatal(err)
	}
	h.done(next.ID)
	syscall.Kill(away, syscall.SIGKILL)

	// The run that waited for an approval survived and was taken over.
	r := h.wait(2, dayops.RunAwaitingApproval)
	if r.Owner != h.exec.Owner() {
		t.Errorf("owner after recovery %q, want %q", r.Owner, h.exec.Owner())
	}
	if _, err := h.exec.Approve(ctx, 2, actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	if got := h.done(2); got.State != dayops.RunSucceeded {
		t.Errorf("taken-over run: %s %q", got.State, got.Reason)
	}
}

// startDecoy starts a sleep in a process group of its own with env, and
// returns its pid.
func startDecoy(t *testing.T, env ...string) int {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

func TestTwoLiveExecutorsShareADatabase(t *testing.T) {
	// Beats far enough apart that a loaded machine does not miss three.
	h := newHarness(t, map[string]string{"long.yaml": def("long", strings.Replace(longRun, "concurrency: the-key\n", "", 1))},
		func(o *executor.Options) { o.HeartbeatInterval = 500 * time.Millisecond })
	ctx := context.Background()
	opts := h.opts
	opts.Owner = "cli-host:4242:1"
	opts.Events = nil
	other := h.newExecutor(opts)
	defer other.Close()

	a := h.start(dayops.RunRequest{Definition: "long"})
	b, err := other.Start(ctx, dayops.RunRequest{Definition: "long", Actor: actor("bob")})
	if err != nil {
		t.Fatal(err)
	}
	h.wait(a.ID, dayops.RunRunning)
	h.wait(b.ID, dayops.RunRunning)
	for i := 0; i < 4; i++ {
		time.Sleep(h.opts.HeartbeatInterval) // several intervals: heartbeats keep both alive
		for _, e := range []*executor.Executor{h.exec, other} {
			if runs, err := e.Recover(ctx); err != nil || len(runs) != 0 {
				t.Fatalf("recover by %s interrupted %v (%v)", e.Owner(), runs, err)
			}
		}
	}
	// Each cancels the other's run: the cancel is handed on to the
	// process that drives it.
	for _, c := range []struct {
		e  *executor.Executor
		id int64
	}{{other, a.ID}, {h.exec, b.ID}} {
		if err := c.e.Cancel(ctx, c.id, actor("bob"), thread); err != nil {
			t.Fatal(err)
		}
		if got := h.done(c.id); got.State != dayops.RunCancelled {
			t.Errorf("run %d: %s", c.id, got.State)
		}
	}
}
