package examples

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

const schemaComment = "# yaml-language-server: $schema="

// TestDefinitionsNameTheSchema checks that every example definition starts
// with the yaml-language-server comment, and that its path, taken from the
// file's own folder as editors do, reaches the committed JSON Schema.
func TestDefinitionsNameTheSchema(t *testing.T) {
	t.Parallel()
	n := 0
	err := fs.WalkDir(Ops, "ops", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return err
		}
		n++
		b, err := fs.ReadFile(Ops, p)
		if err != nil {
			return err
		}
		first, _, _ := strings.Cut(string(b), "\n")
		ref, ok := strings.CutPrefix(first, schemaComment)
		if !ok {
			t.Errorf("%s: the first line must be %s<path of docs/schema/definition.json>, not %q", p, schemaComment, first)
			return nil
		}
		target := filepath.Join(filepath.Dir(filepath.FromSlash(p)), filepath.FromSlash(ref))
		if want := filepath.Join("..", "docs", "schema", "definition.json"); target != want {
			t.Errorf("%s: $schema=%s reaches %s, want %s", p, ref, target, want)
			return nil
		}
		schema, err := os.ReadFile(target)
		if err != nil {
			t.Errorf("%s: $schema=%s: %v", p, ref, err)
			return nil
		}
		var doc struct {
			Schema string `json:"$schema"`
		}
		if err := json.NewDecoder(bytes.NewReader(schema)).Decode(&doc); err != nil || !strings.Contains(doc.Schema, "json-schema.org") {
			t.Errorf("%s: %s is not a JSON Schema (%v)", p, target, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no definitions in the example ops repo")
	}
}
