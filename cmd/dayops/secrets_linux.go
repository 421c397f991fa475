package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// prSetDumpable is PR_SET_DUMPABLE of prctl(2).
const prSetDumpable = 4

// protectProcess makes this process non-dumpable: its /proc/PID/environ,
// mem, maps and fd are then readable, and the process traceable, only by a
// process with CAP_SYS_PTRACE — not by a step running as the same user. The
// children it starts (steps) are dumpable again after their exec.
func protectProcess() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0)
}

// wipeStartEnvironment overwrites, in the environment block the kernel gave
// this process at exec (Go works on a copy of it), the values of the
// variables names, so that /proc/PID/environ no longer shows them even to a
// reader that may read it (root). The block is at the top of the main
// thread's stack. Best effort: where /proc/self/mem cannot be used,
// non-dumpable is the protection.
func wipeStartEnvironment(names []string) {
	if len(names) == 0 {
		return
	}
	lo, hi, ok := stackRange()
	if !ok {
		return
	}
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer mem.Close()
	// The strings of argv and the environment, and the auxiliary vector,
	// lie in the last pages of the stack.
	size := min(hi-lo, 1<<20)
	top := make([]byte, size)
	if _, err := mem.ReadAt(top, hi-size); err != nil {
		return
	}
	for _, name := range names {
		key := []byte("\x00" + name + "=")
		for from := 0; ; {
			i := bytes.Index(top[from:], key)
			if i < 0 {
				break
			}
			v := from + i + len(key)
			end := bytes.IndexByte(top[v:], 0)
			if end < 0 {
				break
			}
			// Keep "NAME=" and the length, so the block stays well formed.
			_, _ = mem.WriteAt(bytes.Repeat([]byte{'*'}, end), hi-size+int64(v))
			from = v + end
		}
	}
}

// stackRange is the address range of the main thread's stack, from
// /proc/self/maps.
func stackRange() (lo, hi int64, ok bool) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(maps), "\n") {
		if !strings.HasSuffix(line, "[stack]") {
			continue
		}
		a, b, _ := strings.Cut(strings.Fields(line)[0], "-")
		lo, err1 := strconv.ParseUint(a, 16, 64)
		hi, err2 := strconv.ParseUint(b, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo || hi > 1<<62 {
			return 0, 0, false
		}
		return int64(lo), int64(hi), true
	}
	return 0, 0, false
}
