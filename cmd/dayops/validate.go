package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/gitsync"
)

func runValidate(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("validate")
	fs := newFlags(v.name)
	format := fs.String("format", "text", "output `format`: text or json")
	pos, code, ok := parseArgs(io, v, fs, args, 0, 1)
	if !ok {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(io.Stderr, "dayops validate: --format must be text or json, not %q\n", *format)
		return exitUsage
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	cat, problems, err := gitsync.LoadDir(dir)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops validate: %s\n", dayops.Printable(err.Error()))
		return exitFail
	}
	type jsonProblem struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Col     int    `json:"col"`
		Message string `json:"message"`
	}
	out := struct {
		Valid       bool          `json:"valid"`
		Revision    string        `json:"revision,omitempty"`
		Definitions int           `json:"definitions"`
		Errors      []jsonProblem `json:"errors"`
	}{Valid: len(problems) == 0, Revision: cat.Revision(), Definitions: cat.Len(), Errors: []jsonProblem{}}
	for _, p := range problems {
		out.Errors = append(out.Errors, jsonProblem{filepath.Join(dir, p.File), p.Line, p.Col, p.Message})
	}
	if *format == "json" {
		enc := json.NewEncoder(io.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else if out.Valid {
		fmt.Fprintf(io.Stdout, "%s: %d definitions valid (revision %s)\n", dayops.Printable(dir), cat.Len(), cat.Revision())
	} else {
		for _, p := range problems {
			fmt.Fprintln(io.Stdout, problemLine(dir, p))
		}
		fmt.Fprintf(io.Stderr, "%d problem(s) in %s\n", len(out.Errors), dayops.Printable(dir))
	}
	if !out.Valid {
		return exitFail
	}
	return exitOK
}
