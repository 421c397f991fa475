package dayops

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"plain", "deploy web v1.2.0 ok", "deploy web v1.2.0 ok"},
		{"empty", "", ""},
		{"tab kept", "a\tb", "a\tb"},
		{"unicode kept", "héllo 世界 ▸ 👩‍👩‍👧 café", "héllo 世界 ▸ 👩‍👩‍👧 café"},
		{"window title", "\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
		{"clear screen", "\x1b[2Jgone", `\x1b[2Jgone`},
		{"clipboard write", "\x1b]52;c;ZWNobyBwd25lZA==\x1b\\", `\x1b]52;c;ZWNobyBwd25lZA==\x1b\`},
		{"colour", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"C1 CSI as a character", "a\u009b2Jb", `a\u009b2Jb`},
		{"C1 CSI as a raw byte", "a\x9b2Jb", `a\x9b2Jb`},
		{"bidi override", "txt.exe\u202Egpj", `txt.exe\u202egpj`},
		{"bidi isolate", "\u2066x\u2069", `\u2066x\u2069`},
		{"backspace", "secret\b\b\b\b\b\bshown", `secret\b\b\b\b\b\bshown`},
		{"carriage return", "rm -rf /\rls", `rm -rf /\rls`},
		{"newline in a name", "a\nb.yaml", `a\nb.yaml`},
		{"nul and del", "a\x00b\x7f", `a\x00b\x7f`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"truncated rune", "ok \xe2\x96", `ok \xe2\x96`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Printable(tt.in)
			if got != tt.want {
				t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if Printable(got) != got {
				t.Errorf("Printable is not stable on its own output %q", got)
			}
		})
	}
}

// FuzzPrintable: whatever goes in, nothing a terminal acts on comes out, and
// text that needs nothing comes out unchanged.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"plain", "\x1b]0;t\x07", "\u202e", "\x9b", "a\tb\nc", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Printable(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Printable(%q) = %q is not UTF-8", s, got)
		}
		for _, r := range got {
			if (r < 0x20 && r != '\t') || r == 0x7f || hidden(r) {
				t.Fatalf("Printable(%q) = %q keeps %U", s, got, r)
			}
		}
		if !strings.ContainsFunc(s, func(r rune) bool {
			return r == utf8.RuneError || (r < 0x20 && r != '\t') || r == 0x7f || hidden(r)
		}) && got != s {
			t.Fatalf("Printable(%q) = %q changed harmless text", s, got)
		}
	})
}
