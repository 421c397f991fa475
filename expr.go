package dayops

import (
	"fmt"
	"strings"
)

// Expressions are `${{ PATH }}` where PATH is one of:
//
//	params.NAME            a parameter of the run (validated, or its default)
//	env                    the environment name of the run ("" when none)
//	vars.NAME              a server variable (config vars: or DAYOPS_VAR_NAME); "" when unset
//	pr.FIELD               the pull request of a PR-triggered run; FIELD in PRFields
//	steps.ID.outputs.KEY   an output an earlier step wrote to $DAYOPS_OUTPUT; "" when not written
//	run.FIELD              id, actor, revision, definition
//
// There are no operators, functions or literals: an expression only names a
// value, and the value is inserted as text. Expressions are expanded only in
// env, http, concurrency, approval text, uses-with and trigger params, never in
// run scripts, which read values from the environment instead.

// PRFields are the names allowed after pr.
var PRFields = []string{"number", "title", "author", "repo", "url", "head_sha", "head_ref", "base_ref", "merge_sha"}

// RunFields are the names allowed after run.
var RunFields = []string{"id", "actor", "revision", "definition"}

// Ref is one parsed expression.
type Ref struct {
	Root   string   // params, env, vars, pr, steps, run
	Path   []string // the dotted names after the root
	Offset int      // byte offset of "${{" in the template
}

// String renders the reference as written canonically.
func (r Ref) String() string {
	return strings.Join(append([]string{r.Root}, r.Path...), ".")
}

// Template is a parsed string with literal text and expressions.
type Template struct {
	parts []templatePart
}

type templatePart struct {
	lit string
	ref *Ref
}

// HasExpression reports whether s contains the start of an expression.
func HasExpression(s string) bool { return strings.Contains(s, "${{") }

// ParseTemplate parses s and checks every expression's shape (root and path
// length). Names (which parameter, which step) are the loader's to check.
// Errors are *Error of kind invalid and name the byte offset.
func ParseTemplate(s string) (Template, error) {
	var t Template
	rest, off := s, 0
	for {
		i := strings.Index(rest, "${{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, templatePart{lit: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{lit: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return Template{}, exprErr(off+i, "unterminated expression: add \"}}\"")
		}
		body := strings.TrimSpace(rest[i+3 : i+j])
		ref, err := parseRef(body, off+i)
		if err != nil {
			return Template{}, err
		}
		t.parts = append(t.parts, templatePart{ref: &ref})
		off += i + j + 2
		rest = rest[i+j+2:]
	}
}

// ExprError is an invalid expression at a byte offset of its template.
type ExprError struct {
	Offset  int
	Message string
}

func (e *ExprError) Error() string { return e.Message }

func exprErr(off int, format string, args ...any) error {
	return &Error{Kind: KindInvalid, Message: fmt.Sprintf(format, args...), Err: &ExprError{Offset: off, Message: fmt.Sprintf(format, args...)}}
}

func parseRef(body string, off int) (Ref, error) {
	if body == "" {
		return Ref{}, exprErr(off, "empty expression ${{ }}")
	}
	segs := strings.Split(body, ".")
	for _, s := range segs {
		if !isIdent(s) {
			return Ref{}, exprErr(off, "expression %q: only dotted names like params.version are allowed", Truncate(body, 40))
		}
	}
	r := Ref{Root: segs[0], Path: segs[1:], Offset: off}
	want := func(ok bool, format string) (Ref, error) {
		if !ok {
			return Ref{}, exprErr(off, "expression %q: "+format, Truncate(body, 40))
		}
		return r, nil
	}
	switch r.Root {
	case "params":
		return want(len(r.Path) == 1, "write params.NAME")
	case "vars":
		return want(len(r.Path) == 1, "write vars.NAME")
	case "env":
		return want(len(r.Path) == 0, "env is the environment name and has no fields")
	case "pr":
		return want(len(r.Path) == 1 && contains(PRFields, r.Path[0]), "write pr.FIELD with FIELD one of "+strings.Join(PRFields, ", "))
	case "run":
		return want(len(r.Path) == 1 && contains(RunFields, r.Path[0]), "write run.FIELD with FIELD one of "+strings.Join(RunFields, ", "))
	case "steps":
		return want(len(r.Path) == 3 && r.Path[1] == "outputs", "write steps.ID.outputs.KEY")
	}
	return Ref{}, exprErr(off, "unknown expression root %q: use params, env, vars, pr, steps or run", Truncate(r.Root, 40))
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Refs returns the template's expressions in order.
func (t Template) Refs() []Ref {
	var out []Ref
	for _, p := range t.parts {
		if p.ref != nil {
			out = append(out, *p.ref)
		}
	}
	return out
}

// Scope holds the values expressions can name.
type Scope struct {
	Params      map[string]string
	Environment string
	Vars        map[string]string
	PR          map[string]string
	Steps       map[string]map[string]string // step ID -> outputs
	Run         map[string]string
}

// Expand inserts the scope's values. Values are inserted as plain text and are
// never parsed again, so a value containing "${{" stays literal.
func (t Template) Expand(s Scope) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		b.WriteString(s.value(*p.ref))
	}
	return b.String()
}

func (s Scope) value(r Ref) string {
	switch r.Root {
	case "params":
		return s.Params[r.Path[0]]
	case "vars":
		return s.Vars[r.Path[0]]
	case "env":
		return s.Environment
	case "pr":
		return s.PR[r.Path[0]]
	case "run":
		return s.Run[r.Path[0]]
	case "steps":
		return s.Steps[r.Path[0]][r.Path[2]]
	}
	return ""
}

// Expand parses and expands s in one go.
func Expand(s string, scope Scope) (string, error) {
	t, err := ParseTemplate(s)
	if err != nil {
		return "", err
	}
	return t.Expand(scope), nil
}
