package commands

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"a", []string{"a"}},
		{" a  b\tc\nd ", []string{"a", "b", "c", "d"}},
		{"a\u00a0b", []string{"a", "b"}},
		{`"a b" c`, []string{"a b", "c"}},
		{`'a b' c`, []string{"a b", "c"}},
		{`k="v 1"`, []string{"k=v 1"}},
		{`a"b"c'd'e`, []string{"abcde"}},
		{`"" ''`, []string{"", ""}},
		{`'$HOME *.go $(rm -rf /)'`, []string{"$HOME *.go $(rm -rf /)"}},
		{`$HOME *.go`, []string{"$HOME", "*.go"}},
		{`'a\b'`, []string{`a\b`}},
		{`"a\"b"`, []string{`a"b`}},
		{`"a\\b"`, []string{`a\b`}},
		{`"C:\temp"`, []string{`C:\temp`}},
		{`a\ b`, []string{"a b"}},
		{`a\"b`, []string{`a"b`}},
		{`a\\`, []string{`a\`}},
		{`a\`, []string{`a\`}},
		{`"it's"`, []string{"it's"}},
		{`'say "hi"'`, []string{`say "hi"`}},
		{"“a b” c", []string{"a b", "c"}},
		{"”a b” c", []string{"a b", "c"}},
		{"„a b“ c", []string{"a b", "c"}},
		{"“a \\” b”", []string{"a ” b"}},
		{"‘a b’ c", []string{"a b", "c"}},
		{"don’t stop", []string{"don’t", "stop"}},
		{"‘it“s’", []string{"it“s"}},
		{`"a ‘b’ c"`, []string{"a ‘b’ c"}},
		{"\"multi\nline\"", []string{"multi\nline"}},
		{"é ü 日本", []string{"é", "ü", "日本"}},
	}
	for _, tt := range tests {
		got, err := Tokenize(tt.in)
		if err != nil {
			t.Errorf("Tokenize(%q) error: %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Tokenize(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestTokenizeErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`"abc`, `unterminated " quote at character 1`},
		{`ab "c`, `unterminated " quote at character 4`},
		{`"a\"`, `unterminated " quote`},
		{`it's`, `unterminated ' quote at character 3`},
		{"日本 'x", `unterminated ' quote at character 4`},
		{"“abc", "unterminated “ quote"},
		{"„abc", "unterminated „ quote"},
		{"‘abc", "unterminated ‘ quote"},
		{"‘abc'", "unterminated ‘ quote"},
		{`"abc”`, `unterminated " quote`},
	}
	for _, tt := range tests {
		got, err := Tokenize(tt.in)
		if err == nil {
			t.Errorf("Tokenize(%q) = %q, want an error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Tokenize(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
}
