//go:build unix

package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// TestExclusiveWhileInUse: while any Store has the database open (an idle
// one, which holds no SQLite lock), Exclusive is refused and names this
// process; once every Store is closed it is granted, and a Store opened
// meanwhile waits for its release.
func TestExclusiveWhileInUse(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dayops.db")
	a, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, path, Options{}) // readers share it
	if err != nil {
		t.Fatal(err)
	}
	_, err = Exclusive(path)
	want := fmt.Sprintf("in use by process %d (", os.Getpid())
	if dayops.KindOf(err) != dayops.KindConflict || !strings.Contains(err.Error(), want) {
		t.Errorf("Exclusive with two stores open = %v, want a conflict naming %q", err, want)
	}
	a.Close()
	if _, err := Exclusive(path); dayops.KindOf(err) != dayops.KindConflict {
		t.Errorf("Exclusive with one store open = %v, want a conflict", err)
	}
	b.Close()

	release, err := Exclusive(path)
	if err != nil {
		t.Fatalf("Exclusive with no store open: %v", err)
	}
	opened := make(chan error, 1)
	go func() {
		s, err := Open(ctx, path, Options{})
		if err == nil {
			s.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		t.Fatalf("Open went ahead while the database was held exclusively (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Errorf("Open after the release: %v", err)
	}
}
