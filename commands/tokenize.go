package commands

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenize splits text into words the way a shell would, without any of a
// shell's other powers. White space separates words. 'single quotes' keep
// everything up to the next ' literally. "double quotes" keep everything up
// to the next " except that \" and \\ stand for " and \. Outside quotes a
// backslash makes the next character literal (a backslash at the very end
// stays a backslash). Quotes can start in the middle of a word, so
// version="v 1.2" is one word, and "" is an empty word.
//
// Slack clients turn typed quotes into typographic ones, so “ and ” (and „)
// open and close a double-quoted group, and ‘ opens a single-quoted group
// that ’ closes. A ’ outside a group is an apostrophe, as in don’t.
//
// An unterminated quote is an error that says which quote and where.
func Tokenize(text string) ([]string, error) {
	var (
		words  []string
		b      strings.Builder
		inWord bool
	)
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		switch {
		case unicode.IsSpace(r):
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
			i += n
		case r == '\\':
			inWord = true
			i += n
			if i == len(text) {
				b.WriteByte('\\')
				break
			}
			_, m := utf8.DecodeRuneInString(text[i:])
			b.WriteString(text[i : i+m])
			i += m
		case r == '\'' || r == '‘':
			inWord = true
			closer := "'"
			if r == '‘' {
				closer = "’"
			}
			j := strings.Index(text[i+n:], closer)
			if j < 0 {
				return nil, unterminated(text, i, r)
			}
			b.WriteString(text[i+n : i+n+j])
			i += n + j + len(closer)
		case r == '"' || r == '“' || r == '”' || r == '„':
			inWord = true
			end, ok := doubleQuoted(&b, text, i+n, r == '"')
			if !ok {
				return nil, unterminated(text, i, r)
			}
			i = end
		default:
			inWord = true
			b.WriteString(text[i : i+n])
			i += n
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

// doubleQuoted copies the group that starts at text[start:] into b and
// returns the index just after its closing quote. An ASCII group closes at
// "; a typographic one at “ or ”, since clients do not agree which they send.
func doubleQuoted(b *strings.Builder, text string, start int, ascii bool) (int, bool) {
	isCloser := func(r rune) bool {
		if ascii {
			return r == '"'
		}
		return r == '“' || r == '”'
	}
	for i := start; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		if isCloser(r) {
			return i + n, true
		}
		if r == '\\' && i+n < len(text) {
			next, m := utf8.DecodeRuneInString(text[i+n:])
			if next == '\\' || isCloser(next) {
				b.WriteString(text[i+n : i+n+m])
				i += n + m
				continue
			}
		}
		b.WriteString(text[i : i+n])
		i += n
	}
	return 0, false
}

// unterminated describes the quote q opened at byte offset i of text. The
// position is counted in characters, from 1, as a person would count.
func unterminated(text string, i int, q rune) error {
	pos := utf8.RuneCountInString(text[:i]) + 1
	switch q {
	case '"':
		return fmt.Errorf(`unterminated " quote at character %d: close it with another ", or write \" for a literal quote`, pos)
	case '\'':
		return fmt.Errorf(`unterminated ' quote at character %d: close it with another ', or write an apostrophe as \' or inside "double quotes"`, pos)
	case '‘':
		return fmt.Errorf("unterminated ‘ quote at character %d: close it with ’", pos)
	}
	return fmt.Errorf("unterminated %c quote at character %d: close it with ”", q, pos)
}
