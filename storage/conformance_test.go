package storage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dayops/dayops/storage/storagetest"
)

var _ storagetest.API = (*Store)(nil)

// TestConformance runs the suite against SQLite on temp files.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, now func() time.Time) storagetest.API {
		return openTest(t, now)
	})
}

// openTest opens a new SQLite database in t's temp dir, closed at cleanup.
func openTest(t testing.TB, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "dayops.db"), Options{Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
