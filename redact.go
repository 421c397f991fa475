package dayops

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Mask replaces every secret a Redactor finds.
const Mask = "***"

// MinSecretLength is the shortest value a Redactor masks; shorter values would
// mask ordinary text everywhere. The command line refuses them at start.
const MinSecretLength = 4

// Redactor masks secret values — plain, base64 and URL-encoded, and each line
// of a secret that spans lines — and the credentials in URLs. It is the one
// filter between dayops and the outside. The zero value and nil only strip URL
// credentials.
type Redactor struct {
	values   []string
	forms    []string
	replacer *strings.Replacer
}

// NewRedactor returns a redactor for the given secret values.
func NewRedactor(values ...string) *Redactor {
	forms := SecretForms(values...)
	r := &Redactor{values: slices.Clone(values), forms: forms}
	if len(forms) > 0 {
		pairs := make([]string, 0, 2*len(forms))
		for _, f := range forms {
			pairs = append(pairs, f, Mask)
		}
		r.replacer = strings.NewReplacer(pairs...)
	}
	return r
}

// Forms returns every text the redactor masks, longest first. A splitter of
// long output lines uses them so as never to cut inside one.
func (r *Redactor) Forms() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.forms)
}

// base64Wraps are the line lengths at which tools wrap base64 (PEM and
// OpenSSL at 64, MIME and GNU base64 at 76).
var base64Wraps = []int{64, 76}

// SecretForms returns the texts under which each value may appear in output,
// longest first, leaving out those shorter than MinSecretLength: the value as
// it is and trimmed of surrounding white space (a token read from a file ends
// in a newline), their standard and URL-safe base64 with and without padding,
// their URL escapes, and, because output is masked line by line, each trimmed
// line of a value that spans lines (a PEM key) and each line of its base64
// wrapped at 64 and 76 columns. The armour lines of a PEM block
// ("-----BEGIN …-----") are not secret and are left out.
func SecretForms(values ...string) []string {
	var forms []string
	add := func(s string) {
		if len(s) >= MinSecretLength {
			forms = append(forms, s)
		}
	}
	for _, v := range values {
		if len(strings.TrimSpace(v)) < MinSecretLength {
			continue
		}
		for _, s := range []string{v, strings.TrimSpace(v)} {
			b := []byte(s)
			std := base64.StdEncoding.EncodeToString(b)
			add(s)
			add(std)
			add(base64.RawStdEncoding.EncodeToString(b))
			add(base64.URLEncoding.EncodeToString(b))
			add(base64.RawURLEncoding.EncodeToString(b))
			add(url.QueryEscape(s))
			add(url.PathEscape(s))
			for _, w := range base64Wraps {
				for len(std) > w {
					add(std[:w])
					std = std[w:]
				}
				add(std)
				std = base64.StdEncoding.EncodeToString(b)
			}
		}
		if t := strings.TrimSpace(v); strings.ContainsAny(t, "\r\n") {
			for _, line := range strings.Split(t, "\n") {
				line = strings.TrimSpace(line)
				if isArmour(line) {
					continue
				}
				add(line)
			}
		}
	}
	slices.SortFunc(forms, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(forms)
}

// isArmour reports whether line is a PEM boundary such as
// "-----BEGIN OPENSSH PRIVATE KEY-----".
func isArmour(line string) bool {
	return strings.HasPrefix(line, "-----") && strings.HasSuffix(line, "-----")
}

// With returns a redactor that also masks values.
func (r *Redactor) With(values ...string) *Redactor {
	if r == nil {
		return NewRedactor(values...)
	}
	return NewRedactor(append(slices.Clone(r.values), values...)...)
}

var urlCredentials = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s:@]+(:[^/\s@]*)?@`)

// Redact masks s.
func (r *Redactor) Redact(s string) string {
	if r != nil && r.replacer != nil {
		s = r.replacer.Replace(s)
	}
	if strings.Contains(s, "@") {
		s = urlCredentials.ReplaceAllString(s, "${1}"+Mask+"@")
	}
	return s
}
