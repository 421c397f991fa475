//go:build unix

package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dayops/dayops"
)

// A database file is in use while a process has a Store open on it, but
// SQLite's own locks are held only during transactions: an idle server holds
// none. So every Store holds a shared advisory lock (flock) on a file beside
// the database, PATH-lock, from Open to Close, and a process that replaces
// the database (restore) takes it exclusively, which it cannot while any
// Store is open. flock locks belong to the open file, not to a byte range of
// the database, so they never meet SQLite's POSIX locks, and the kernel drops
// them when the process ends, however it ends (kill -9 included).

// lockSuffix names the lock file beside a database.
const lockSuffix = "-lock"

// holdWait is how long Open waits for a restore to finish.
const holdWait = 30 * time.Second

// holdShared holds path's database as in use until release is called. It
// waits while a restore holds the database.
func holdShared(ctx context.Context, path string) (release func() error, err error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(holdWait)
	for {
		err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return f.Close, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s%s: %w", path, lockSuffix, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, dayops.Errorf(dayops.KindUnavailable, "the database %s is being restored by another process (%s); try again when it is done", path, holders(f))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Exclusive holds the database at path for a process that replaces it, such
// as a restore: no Store may open it until release is called, and it fails
// with KindConflict, naming the processes, while any Store has it open (a
// server, the demo, a `dayops run` still going).
func Exclusive(path string) (release func() error, err error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, dayops.Errorf(dayops.KindConflict, "the database %s is in use by %s: stop it (or let the run finish) and try again", path, holders(f))
		}
		return nil, fmt.Errorf("locking %s%s: %w", path, lockSuffix, err)
	}
	return f.Close, nil
}

func openLockFile(path string) (*os.File, error) {
	// Read-only is enough for flock, and lets a user who may only read the
	// database (history, logs) hold it too.
	f, err := os.OpenFile(path+lockSuffix, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file of database %s: %w", path, err)
	}
	return f, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// holders names the processes that hold a lock on f, from /proc/locks where
// there is one, e.g. "process 4242 (dayops run deploy)"; "another process"
// when they cannot be told.
func holders(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return "another process"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "another process"
	}
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return "another process"
	}
	defer locks.Close()
	// 1: FLOCK  ADVISORY  READ  4242 08:01:1234 0 EOF (waiters have "->")
	suffix := ":" + strconv.FormatUint(uint64(st.Ino), 10)
	var names []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(locks)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || !strings.HasSuffix(fields[5], suffix) {
			continue
		}
		pid := fields[4]
		if seen[pid] || pid == "0" {
			continue
		}
		seen[pid] = true
		name := "process " + pid
		if cmd, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && len(cmd) > 0 {
			args := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
			if len(args) > 0 {
				args[0] = args[0][strings.LastIndex(args[0], "/")+1:]
			}
			name += " (" + dayops.Truncate(dayops.Printable(strings.Join(args, " ")), 60) + ")"
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return "another process"
	}
	return strings.Join(names, ", ")
}
