package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSchemaVerb checks that `dayops schema` prints the schema the repository
// commits in docs/, which the example definitions name for editors.
func TestSchemaVerb(t *testing.T) {
	code, out, stderr := cli(t, "", "schema")
	if code != exitOK {
		t.Fatalf("dayops schema: exit %d\n%s", code, stderr)
	}
	committed, err := os.ReadFile("../../docs/schema/definition.json")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(committed), out); diff != "" {
		t.Errorf("docs/schema/definition.json (-) is not what dayops schema prints (+); run go generate ./internal/docgen:\n%s", diff)
	}
	if !strings.Contains(out, `"$schema": "https://json-schema.org/draft/2020-12/schema"`) {
		t.Errorf("dayops schema does not declare draft 2020-12:\n%.300s", out)
	}
	if code, _, stderr := cli(t, "", "schema", "extra"); code != exitUsage || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("dayops schema extra: exit %d, %q", code, stderr)
	}
}
