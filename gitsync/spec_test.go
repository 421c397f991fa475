package gitsync

import (
	"os"
	"testing"
)

// TestSpecExampleLoads keeps the schema example of SPEC §5 (copied verbatim
// into testdata) valid: the contract's own example must never be refused.
func TestSpecExampleLoads(t *testing.T) {
	cat, problems := LoadFS(os.DirFS("testdata/defs/spec"), ".", "rev")
	for _, p := range problems {
		t.Errorf("SPEC example: %s", p)
	}
	d, ok := cat.Lookup("deploy-api")
	if !ok {
		t.Fatal("deploy-api not loaded")
	}
	if d.Service != "api" || len(d.Steps) != 4 || len(d.Rollback) != 1 || len(d.Triggers.Alert) != 1 || !d.Triggers.Alert[0].Auto {
		t.Errorf("SPEC example loaded wrongly: %+v", d)
	}
}
