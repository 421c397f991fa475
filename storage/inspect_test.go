package storage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dayops/dayops"
)

// TestInspectChangesNothing: a backup is checked read-only, and anything
// that is not a dayops database is refused.
func TestInspectChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "live.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	backup := filepath.Join(dir, "backup.db")
	if err := s.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(backup)
	if v, err := Inspect(ctx, backup); err != nil || v < 1 {
		t.Fatalf("Inspect(backup) = %d, %v", v, err)
	}
	after, _ := os.ReadFile(backup)
	if !bytes.Equal(before, after) {
		t.Error("Inspect changed the backup")
	}
	if _, err := os.Stat(backup + "-wal"); err == nil {
		t.Error("Inspect left a WAL file next to the backup")
	}

	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("not a database at all, just text"), 0o600)
	for _, p := range []string{empty, junk, filepath.Join(dir, "missing.db"), "file:" + backup} {
		if _, err := Inspect(ctx, p); err == nil {
			t.Errorf("Inspect(%s) accepted it", p)
		}
	}
	if b, _ := os.ReadFile(empty); len(b) != 0 {
		t.Error("Inspect wrote into an empty file")
	}
	if err := s.Backup(ctx, "file:"+filepath.Join(dir, "x.db")+"?mode=memory"); dayops.KindOf(err) != dayops.KindInvalid {
		t.Errorf("Backup to a URI name = %v, want invalid", err)
	}
}
