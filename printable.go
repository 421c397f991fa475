package dayops

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Printable returns s as it may be shown on a terminal or in a line that
// tools parse: every character that a terminal would act on instead of
// showing is written out visibly, so step output, file names and chat text
// cannot set a window title, clear the screen, write the clipboard, move the
// cursor, reverse the text's direction or start a line of their own. What is
// stored stays as it was; only what is shown goes through Printable.
//
// The renderings follow Go's escapes: \a \b \f \n \r \v for those controls,
// \x1b for other C0 controls, DEL and bytes that are not UTF-8, and \u009b
// for C1 controls, bidirectional overrides and isolates, and the Unicode line
// and paragraph separators. Tab and all other Unicode (accents, CJK, emoji
// with their joiners) are kept. A backslash is kept as it is: the result is
// for reading, not for parsing back.
func Printable(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f {
			break
		}
		i++
	}
	if i == len(s) {
		return s // plain ASCII: the common case costs one scan
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteByte('\t')
		case r < 0x20 || r == 0x7f:
			b.WriteString(controlEscape(byte(r)))
		case hidden(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func controlEscape(c byte) string {
	switch c {
	case '\a':
		return `\a`
	case '\b':
		return `\b`
	case '\f':
		return `\f`
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\v':
		return `\v`
	}
	return fmt.Sprintf(`\x%02x`, c)
}

// hidden reports a non-ASCII character that changes how a terminal shows the
// text around it rather than showing itself.
func hidden(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls: 0x9b is CSI, 0x9d OSC
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // bidi marks
		return true
	case r >= 0x202a && r <= 0x202e: // bidi embeddings and overrides
		return true
	case r >= 0x2066 && r <= 0x2069: // bidi isolates
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r >= 0xfff9 && r <= 0xfffb: // interlinear annotations
		return true
	}
	return false
}
