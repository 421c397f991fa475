package executor

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestKillMarkedKillsOnlyTheRunsProcesses checks the rules of killMarked on
// real processes: marked processes die with their process group, unless the
// group's leader is not marked, and nothing of another run or owner is
// touched.
func TestKillMarkedKillsOnlyTheRunsProcesses(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc on this system")
	}
	owner := fmt.Sprintf("testhost:1:%d", time.Now().UnixNano())
	mark := func(run int) []string {
		return []string{fmt.Sprintf("DAYOPS_RUN_ID=%d", run), "DAYOPS_OWNER=" + owner}
	}
	start := func(env []string, pgid int) int {
		t.Helper()
		cmd := exec.Command("sleep", "300")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd.Process.Pid
	}
	// A group led by a process that is not the run's: only the marked member.
	foreignLeader := start(nil, 0)
	markedGuest := start(mark(7), foreignLeader)
	// The step's group: all of it, the member without the marks too.
	stepLeader := start(mark(7), 0)
	stepChild := start([]string{"DAYOPS_RUN_ID=7"}, stepLeader)
	// Another run of the same owner, and the same run of another owner.
	otherRun := start(mark(8), 0)
	otherOwner := start([]string{"DAYOPS_RUN_ID=7", "DAYOPS_OWNER=" + owner + "0"}, 0)

	killed, survived, err := killMarked(7, owner)
	if err != nil || killed != 3 || survived != 0 {
		t.Errorf("killMarked: %d killed, %d survived, %v; want 3, 0", killed, survived, err)
	}
	for _, c := range []struct {
		name string
		pid  int
		runs bool
	}{
		{"foreign group leader", foreignLeader, true},
		{"marked guest in a foreign group", markedGuest, false},
		{"step group leader", stepLeader, false},
		{"unmarked member of the step group", stepChild, false},
		{"another run", otherRun, true},
		{"another owner", otherOwner, true},
	} {
		if got := processRuns(c.pid); got != c.runs {
			t.Errorf("%s (pid %d) runs: %v, want %v", c.name, c.pid, got, c.runs)
		}
	}
	if killed, _, err := killMarked(7, owner); err != nil || killed != 0 {
		t.Errorf("second killMarked: %d killed, %v", killed, err)
	}
}

func TestHasEnv(t *testing.T) {
	environ := []byte("A=1\x00DAYOPS_RUN_ID=12\x00DAYOPS_OWNER=h:1:2\x00")
	for _, c := range []struct {
		kv   string
		want bool
	}{
		{"DAYOPS_RUN_ID=12", true},
		{"DAYOPS_RUN_ID=1", false},
		{"DAYOPS_OWNER=h:1:2", true},
		{"DAYOPS_OWNER=h:1", false},
		{"A=1", true},
		{"", false},
	} {
		if got := hasEnv(environ, []byte(c.kv)); got != c.want {
			t.Errorf("hasEnv(%q) = %v, want %v", c.kv, got, c.want)
		}
	}
}
