package dayops

import (
	"encoding/base64"
	"strings"
	"testing"
)

// testPEM is a made-up key in PEM form (not a real key).
const testPEM = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBmYWtla2V5ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZQAAAJgAAAAAAAAA
AAAAAAtzc2gtZWQyNTUxOQAAACBmYWtla2V5ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZQ
-----END OPENSSH PRIVATE KEY-----
`

// wrap is s cut into lines of n characters, as base64 -w n writes it.
func wrap(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// TestRedactorMasksSecretsWithNewlines: output is masked line by line, so a
// secret that spans lines (a PEM key) or ends in a newline (a token read
// from a file) must be masked in every line where a piece of it appears.
func TestRedactorMasksSecretsWithNewlines(t *testing.T) {
	token := "ghp_tok3nFromAFile\n"
	r := NewRedactor(testPEM, token)
	b64 := base64.StdEncoding.EncodeToString([]byte(testPEM))
	b64Trimmed := base64.StdEncoding.EncodeToString([]byte(strings.TrimSpace(testPEM)))
	tests := []struct {
		name  string
		lines []string // each redacted on its own, as output is
		keep  []string // texts that must stay (not secret)
	}{
		{"pem printed with cat", strings.Split(testPEM, "\n"), []string{"-----BEGIN OPENSSH PRIVATE KEY-----"}},
		{"pem with CRLF", strings.Split(strings.ReplaceAll(testPEM, "\n", "\r\n"), "\n"), nil},
		{"pem indented in YAML", strings.Split("key: |\n  "+strings.ReplaceAll(testPEM, "\n", "\n  "), "\n"), []string{"key: |"}},
		{"token as printed by echo", []string{"token is " + strings.TrimSpace(token) + " ok"}, []string{"token is ", " ok"}},
		{"token with its newline in one text", []string{"error: " + token + "more"}, []string{"error: ", "more"}},
		{"base64 -w 76 of the key", wrap(b64, 76), nil},
		{"base64 -w 64 of the key", wrap(b64, 64), nil},
		{"base64 -w 0 of the key", []string{b64}, nil},
		{"base64 -w 76 of the trimmed key", wrap(b64Trimmed, 76), nil},
		{"base64 of the token", []string{base64.StdEncoding.EncodeToString([]byte(token))}, nil},
		{"base64 of the trimmed token", []string{base64.StdEncoding.EncodeToString([]byte(strings.TrimSpace(token)))}, nil},
	}
	secretLines := strings.Split(strings.TrimSpace(testPEM), "\n")
	secretLines = append(secretLines[1:len(secretLines)-1], strings.TrimSpace(token))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out []string
			for _, l := range tt.lines {
				out = append(out, r.Redact(l))
			}
			all := strings.Join(out, "\n")
			for _, s := range secretLines {
				if strings.Contains(all, s) {
					t.Errorf("%q leaked:\n%s", s, all)
				}
			}
			for _, l := range tt.lines {
				if len(strings.TrimSpace(l)) >= 16 && strings.Contains(all, strings.TrimSpace(l)) && !isArmour(strings.TrimSpace(l)) && !containsAny(l, tt.keep) {
					t.Errorf("line %q of a secret form is not masked:\n%s", l, all)
				}
			}
			for _, k := range tt.keep {
				if !strings.Contains(all, k) {
					t.Errorf("%q was masked, it is not secret:\n%s", k, all)
				}
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestSecretFormsLeaveOutShortAndBlankValues(t *testing.T) {
	for _, v := range []string{"", "abc", "  ab \n", "\n\n\n\n\n"} {
		if forms := SecretForms(v); len(forms) != 0 {
			t.Errorf("SecretForms(%q) = %q, want none", v, forms)
		}
	}
	forms := SecretForms("long-enough\n")
	for _, want := range []string{"long-enough\n", "long-enough"} {
		found := false
		for _, f := range forms {
			found = found || f == want
		}
		if !found {
			t.Errorf("forms of a newline-ended secret lack %q: %q", want, forms)
		}
	}
	for i := 1; i < len(forms); i++ {
		if len(forms[i]) > len(forms[i-1]) {
			t.Fatalf("forms not longest first: %q", forms)
		}
	}
}
