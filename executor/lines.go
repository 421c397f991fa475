package executor

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxLineBytes is the longest output line stored as one line; longer lines are
// split (never inside a secret or a UTF-8 character).
const MaxLineBytes = 64 << 10

// readLines reads r to its end and calls emit with every line, without its
// line ending. A line longer than max bytes is emitted in pieces; cuts move
// back so that they fall neither inside a UTF-8 character nor inside one of
// forms (dayops.Redactor.Forms). emit may block: that stops the reading, and so the writer, rather than
// dropping anything.
func readLines(r io.Reader, max int, forms []string, emit func([]byte)) {
	buf := make([]byte, 0, max+32<<10)
	chunk := make([]byte, 32<<10)
	for {
		start := 0
		for {
			rest := buf[start:]
			i := bytes.IndexByte(rest, '\n')
			if i >= 0 && i <= max {
				emit(bytes.TrimSuffix(rest[:i], []byte{'\r'}))
				start += i + 1
				continue
			}
			if len(rest) > max {
				c := safeCut(rest, max, forms)
				emit(rest[:c])
				start += c
				continue
			}
			break
		}
		buf = append(buf[:0], buf[start:]...)
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			for len(buf) > 0 {
				i := bytes.IndexByte(buf, '\n')
				switch {
				case i >= 0 && i <= max:
					emit(bytes.TrimSuffix(buf[:i], []byte{'\r'}))
					buf = buf[i+1:]
				case len(buf) > max:
					c := safeCut(buf, max, forms)
					emit(buf[:c])
					buf = buf[c:]
				default:
					emit(bytes.TrimSuffix(buf, []byte{'\r'}))
					buf = nil
				}
			}
			return
		}
	}
}

// safeCut returns where to cut b (len(b) > max) at or before max.
func safeCut(b []byte, max int, forms []string) int {
	c := max
	for moved := true; moved; {
		moved = false
		for _, f := range forms {
			lo := max0(c - len(f) + 1)
			hi := min(len(b), c+len(f)-1)
			if hi-lo < len(f) {
				continue
			}
			// The first occurrence that straddles c, if any.
			for off := lo; off < hi; {
				j := bytes.Index(b[off:hi], []byte(f))
				if j < 0 {
					break
				}
				at := off + j
				if at < c && at+len(f) > c {
					c = at
					moved = true
					break
				}
				off = at + 1
			}
		}
	}
	for k := 0; k < utf8.UTFMax && c > 0 && c < len(b) && !utf8.RuneStart(b[c]); k++ {
		c--
	}
	if c <= 0 {
		// A secret longer than a whole line cannot be kept whole; cutting at
		// max at least keeps the loop going.
		return max
	}
	return c
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

// cleanText makes redacted output text safe to store and show: valid UTF-8,
// with NUL bytes removed.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}
