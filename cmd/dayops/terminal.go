package main

import (
	"io"
	"path/filepath"
	"strings"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/gitsync"
)

// terminalWriter shows what is written to it safely on a terminal: newlines
// stay (they are the printers' own), every other control character, escape
// sequence or bidi override is rendered visibly by dayops.Printable. Step
// output, reasons and names stored as they were reach the screen this way.
type terminalWriter struct{ w io.Writer }

// Write writes p, escaped, to the underlying writer. The printers write whole
// lines, so an escape sequence never straddles two writes.
func (t terminalWriter) Write(p []byte) (int, error) {
	lines := strings.Split(string(p), "\n")
	for i, l := range lines {
		lines[i] = dayops.Printable(l)
	}
	if _, err := io.WriteString(t.w, strings.Join(lines, "\n")); err != nil {
		return 0, err
	}
	return len(p), nil
}

// safeOutput returns io with its Stdout and Stderr shown safely.
func safeOutput(io IO) IO {
	if _, ok := io.Stdout.(terminalWriter); !ok {
		io.Stdout = terminalWriter{io.Stdout}
	}
	if _, ok := io.Stderr.(terminalWriter); !ok {
		io.Stderr = terminalWriter{io.Stderr}
	}
	return io
}

// problemLine is a problem as file:line:col: message, with the file joined to
// dir. A file name is shown with its control characters escaped and its
// colons as \x3a, so that a file named "x.yaml:1:1: fake error.yaml" or one
// with a newline cannot forge a line that CI annotations would read as a
// problem of another file.
func problemLine(dir string, p gitsync.Problem) string {
	p.File = strings.ReplaceAll(dayops.Printable(filepath.Join(dir, p.File)), ":", `\x3a`)
	p.Message = dayops.Printable(p.Message)
	return p.String()
}
