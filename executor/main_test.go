package executor_test

import (
	"testing"

	"github.com/dayops/dayops/internal/testkit/postgres"
)

// TestMain stops the PostgreSQL cluster the replica tests start (on first
// use only).
func TestMain(m *testing.M) { postgres.Main(m) }
