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
// mask ordinary text everywhere and are refused by the server configuration.
const MinSecretLength = 4

// Redactor masks secret values — plain, base64 and URL-encoded — and the
// credentials in URLs. It is the one filter between dayops and the outside.
// The zero value and nil only strip URL credentials.
type Redactor struct {
	values   []string
	forms    []string
	replacer *strings.Replacer
}

// NewRedactor returns a redactor for the given secret values.
func NewRedactor(values ...string) *Redactor {
	var forms []string
	for _, v := range values {
		if len(v) < MinSecretLength {
			continue
		}
		b := []byte(v)
		forms = append(forms, v,
			base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
			base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
			url.QueryEscape(v), url.PathEscape(v))
	}
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	forms = slices.Compact(forms)
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
