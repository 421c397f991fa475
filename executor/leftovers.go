package executor

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/dayops/dayops"
)

// Every step process carries the run it belongs to and the dayops process
// that started it in its environment, so that after a crash (kill -9, OOM)
// the next dayops on the host can find what the dead one left running.
const (
	envRunID = "DAYOPS_RUN_ID"
	envOwner = "DAYOPS_OWNER"
)

// leftoverWait is how long killMarked waits for killed processes to go.
const leftoverWait = 5 * time.Second

// killLeftovers stops what the steps of run left running when its dayops
// process died, if that process was of this host and is really gone (never
// the processes of a live one, however late its heartbeat). It logs what it
// did and returns it for the run's reason and audit row; "" when there was
// nothing to kill.
func (e *Executor) killLeftovers(run *dayops.Run) string {
	if run.Owner == e.owner || !ownerGoneHere(run.Owner) {
		return ""
	}
	killed, survived, err := e.runner.KillLeftovers(run.ID, run.Owner)
	if err != nil {
		e.logger.Error("killing the leftover processes of a run", "run_id", run.ID, "owner", run.Owner, "err", err)
		return "its leftover processes could not all be killed: check the host"
	}
	if killed == 0 {
		return ""
	}
	of := fmt.Sprintf("run %d", run.ID)
	if run.CurrentStep != "" && run.State == dayops.RunRunning {
		of = "step " + run.CurrentStep
	}
	msg := fmt.Sprintf("killed %d leftover %s of %s", killed, plural(killed, "process", "processes"), of)
	if survived > 0 {
		e.logger.Error("leftover processes of a run outlived SIGKILL", "run_id", run.ID, "killed", killed, "running", survived)
		msg += fmt.Sprintf(" (%d still %s: check the host)", survived, plural(survived, "runs", "run"))
	}
	e.logger.Warn("killed the leftover processes of an interrupted run", "run_id", run.ID, "owner", run.Owner, "processes", killed, "step", run.CurrentStep)
	return msg
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// KillLeftovers kills the processes of this host that the steps of run runID
// started under owner, a dayops process that is gone. The step watcher does
// this within seconds of owner's death; this is for when the watcher was
// killed with it (a kill of the whole process group, a reboot of a
// container's init).
func (LocalRunner) KillLeftovers(runID int64, owner string) (killed, survived int, err error) {
	return killMarked(runID, owner)
}

// procEntry is one process seen in /proc.
type procEntry struct {
	pid, pgrp int
	marked    bool // its environment names the run and the owner
}

// killMarked kills, with SIGKILL, the processes that the steps of run runID
// started under owner, a dayops process of this host that is gone: every
// process whose environment has both markers, with its process group. A group
// is killed whole only when it cannot hold anything else (its leader is gone
// or is marked too, and it is not dayops's own); otherwise only the marked
// processes in it are. It reports how many processes it killed and how many
// outlived leftoverWait. Where /proc cannot be read (not Linux) it does
// nothing; processes whose environment it may not read are not its own steps'
// and are left alone.
func killMarked(runID int64, owner string) (killed, survived int, err error) {
	procs, err := scanProcs(runID, owner)
	if err != nil {
		return 0, 0, err
	}
	byPid := map[int]procEntry{}
	for _, p := range procs {
		byPid[p.pid] = p
	}
	self, selfGroup := os.Getpid(), syscall.Getpgrp()
	targets := map[int]bool{} // pids
	groups := map[int]bool{}  // pgids killed whole
	for _, p := range procs {
		if !p.marked || p.pid == self {
			continue
		}
		g := p.pgrp
		leader, hasLeader := byPid[g]
		if g > 1 && g != selfGroup && (!hasLeader || leader.marked) {
			groups[g] = true
			continue
		}
		targets[p.pid] = true
	}
	for _, p := range procs {
		if groups[p.pgrp] && p.pid != self {
			targets[p.pid] = true
		}
	}
	for g := range groups {
		if err := syscall.Kill(-g, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return 0, 0, fmt.Errorf("killing process group %d: %w", g, err)
		}
	}
	for pid := range targets {
		if groups[byPid[pid].pgrp] {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return 0, 0, fmt.Errorf("killing process %d: %w", pid, err)
		}
	}
	deadline := time.Now().Add(leftoverWait)
	for {
		survived = 0
		for pid := range targets {
			if processRuns(pid) {
				survived++
			}
		}
		if survived == 0 || time.Now().After(deadline) {
			return len(targets), survived, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scanProcs lists the running processes of this host, each marked when its
// environment has DAYOPS_RUN_ID=runID and DAYOPS_OWNER=owner. Zombies and
// processes that vanish while it reads are left out.
func scanProcs(runID int64, owner string) ([]procEntry, error) {
	entries, err := os.ReadDir("/proc")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // not Linux: nothing to look at
	}
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	wantRun := []byte(envRunID + "=" + strconv.FormatInt(runID, 10))
	wantOwner := []byte(envOwner + "=" + owner)
	var out []procEntry
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		st, err := procStat(pid)
		if err != nil || st.state == "Z" || st.state == "X" {
			continue
		}
		p := procEntry{pid: pid, pgrp: st.pgrp}
		// Permission errors: another user's process, not a step of ours.
		if env, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil {
			p.marked = hasEnv(env, wantRun) && hasEnv(env, wantOwner)
		}
		out = append(out, p)
	}
	return out, nil
}

// hasEnv reports whether environ (NUL-separated KEY=VALUE) holds kv exactly.
func hasEnv(environ, kv []byte) bool {
	for len(environ) > 0 {
		var entry []byte
		entry, environ, _ = bytes.Cut(environ, []byte{0})
		if bytes.Equal(entry, kv) {
			return true
		}
	}
	return false
}

// processRuns reports whether pid is a process that is not a zombie.
func processRuns(pid int) bool {
	st, err := procStat(pid)
	return err == nil && st.state != "Z" && st.state != "X"
}
