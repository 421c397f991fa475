//go:build unix

package gitsync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockCache takes an exclusive lock on the cache folder, so that a process
// knows no other one uses it. exclusive is false when another process (or
// another Syncer not yet closed) holds it: the cache still works, since git
// writes packs and refs atomically, but the exports must not be cleared then,
// as some may be in use. The lock goes with the process or with unlock.
func lockCache(dir string) (unlock func() error, exclusive bool, err error) {
	if err := makePrivateDir(dir); err != nil {
		return nil, false, fmt.Errorf("creating the cache folder: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("opening the cache lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return f.Close, false, nil
		}
		f.Close()
		return nil, false, fmt.Errorf("locking the cache folder: %w", err)
	}
	return f.Close, true, nil
}
