package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// gitPeakRSS runs the git CLI like git and returns the sum, over git and
// every process it started (git-remote-http, index-pack …), of each one's
// peak resident set size (VmHWM), sampled from /proc every millisecond.
//
// The wait4 rusage of the child is no use here: Go starts processes with
// vfork semantics (CLONE_VM), and Linux folds the parent's own peak RSS into
// the child's ru_maxrss at exec, so it would report this process's memory.
func gitPeakRSS(ctx context.Context, dir string, args ...string) (float64, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	peaks := map[int]uint64{}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		sampleTree(cmd.Process.Pid, peaks)
		select {
		case err := <-done:
			if err != nil {
				return 0, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out.String())
			}
			var sum uint64
			for _, kb := range peaks {
				sum += kb
			}
			if sum == 0 {
				return 0, fmt.Errorf("no memory readings of git from /proc")
			}
			return float64(sum) * 1024, nil
		case <-t.C:
		}
	}
}

// sampleTree records the VmHWM (kB) of pid and of its descendants in peaks.
func sampleTree(pid int, peaks map[int]uint64) {
	if kb, ok := vmHWM(pid); ok {
		peaks[pid] = max(peaks[pid], kb)
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, c := range strings.Fields(string(b)) {
			if child, err := strconv.Atoi(c); err == nil {
				sampleTree(child, peaks)
			}
		}
	}
}

// vmHWM reads the peak resident set size of pid in kB.
func vmHWM(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
