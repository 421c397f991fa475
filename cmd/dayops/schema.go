package main

import (
	"context"
	"fmt"

	"github.com/dayops/dayops/gitsync"
)

// runSchema prints the JSON Schema of the definition format. The copy in
// docs/schema/definition.json, which the example definitions name for their
// editors, is this output (a test keeps them equal).
func runSchema(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("schema")
	if _, code, ok := parseArgs(io, v, newFlags(v.name), args, 0, 0); !ok {
		return code
	}
	if _, err := io.Stdout.Write(gitsync.Schema()); err != nil {
		fmt.Fprintf(io.Stderr, "dayops schema: writing: %v\n", err)
		return exitFail
	}
	return exitOK
}
