package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLayering keeps the import table of DESIGN.md true: who may import
// whom inside dayops, and which package alone may use each big dependency.
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not available")
	}
	const mod = "github.com/dayops/dayops"
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	may := map[string][]string{
		"":         {},
		"commands": {""},
		"config":   {""},
		"storage":  {""},
		// The conformance suite: a store's tests import it, nothing else.
		"storage/storagetest": {""},
		"gitsync":             {""},
		"executor":            {""},
		"web":                 {""},
		"examples":            {},
		"bot":                 {"", "commands"},
	}
	owners := map[string]string{
		"github.com/slack-go/slack":    "bot/slack",
		"github.com/google/go-github/": "bot/github",
		"github.com/go-git/go-git/":    "gitsync",
		"modernc.org/sqlite":           "storage",
		"github.com/jackc/pgx/":        "storage",
	}
	rel := func(p string) (string, bool) {
		if p == mod {
			return "", true
		}
		r, ok := strings.CutPrefix(p, mod+"/")
		return r, ok
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, _ := rel(fields[0])
		free := strings.HasPrefix(pkg, "cmd/") || strings.HasPrefix(pkg, "bench") || strings.HasPrefix(pkg, "internal/")
		for _, imp := range fields[1:] {
			if dep, ok := rel(imp); ok && !free && dep != pkg && !strings.HasPrefix(dep, "internal/") {
				allowed, known := may[pkg]
				if strings.HasPrefix(pkg, "bot/") {
					allowed, known = []string{"", "commands", "bot"}, true
				}
				if !known {
					t.Errorf("package %q is not in the layering table of DESIGN.md", pkg)
					continue
				}
				if !contains(allowed, dep) {
					t.Errorf("%s imports %s: DESIGN.md allows only %q", pkg, dep, allowed)
				}
			}
			// SSH clients live in gitsync (git over SSH) and executor (the SSH runner).
			if strings.HasPrefix(imp, "golang.org/x/crypto/ssh") && !free && pkg != "gitsync" && pkg != "executor" {
				t.Errorf("%s imports %s: only gitsync and executor may", pkg, imp)
			}
			for prefix, owner := range owners {
				if strings.HasPrefix(imp, prefix) && pkg != owner && !strings.HasPrefix(pkg, owner+"/") && !free {
					t.Errorf("%s imports %s: only %s may", pkg, imp, owner)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestOnePrefix: the chat prefix is configuration (slack.command); the only
// place that spells the default is commands.DefaultPrefix.
func TestOnePrefix(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "/ops") && !strings.Contains(line, "/ops.git") && !strings.Contains(line, "const DefaultPrefix") {
				t.Errorf("%s:%d spells the chat prefix: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
