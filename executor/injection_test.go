package executor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dayops/dayops"
)

// TestInjectionCorpus sends hostile parameter values through every place a
// value can go — the run's environment, env templates, step env, step
// outputs, an http URL and the concurrency key — and checks that each
// arrives as the same text and that nothing in it was executed.
func TestInjectionCorpus(t *testing.T) {
	marks := t.TempDir()
	m := func(n string) string { return filepath.Join(marks, n) }
	accepted, refused := injectionCorpus(m)

	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Query().Get("q"))
		mu.Unlock()
	}))
	defer srv.Close()

	body := `
params:
  x: {type: string, required: true}
  y: {type: string, default: SHOULD-NOT-APPEAR}
concurrency: key-${{ params.x }}
env:
  DEF_X: pre-${{ params.x }}-post
steps:
  - id: echo
    name: Echo
    env:
      STEP_X: ${{ params.x }}
    run: |
      printf '%s\n' "$DAYOPS_PARAM_X" > "out/$DAYOPS_RUN_ID.param"
      printf '%s\n' "$DEF_X" > "out/$DAYOPS_RUN_ID.def"
      printf '%s\n' "$STEP_X" > "out/$DAYOPS_RUN_ID.step"
      printf 'x=%s\n' "$DAYOPS_PARAM_X" >> "$DAYOPS_OUTPUT"
  - name: Read output
    env:
      OUT_X: ${{ steps.echo.outputs.x }}
    run: |
      printf '%s\n' "$OUT_X" > "out/$DAYOPS_RUN_ID.output"
      printf '%s\n' "$DAYOPS_STEP_ECHO_X" > "out/$DAYOPS_RUN_ID.stepvar"
  - name: Probe
    continue_on_error: true
    http: {url: '` + srv.URL + `/probe?q=${{ params.x }}', attempts: 1, timeout: 2s}
`
	h := newHarness(t, map[string]string{"i.yaml": def("inject", body)}, nil)
	if err := os.Mkdir(filepath.Join(h.dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, v := range refused {
		_, err := h.exec.Start(ctx, dayops.RunRequest{Definition: "inject", Params: map[string]string{"x": v}, Actor: actor("alice")})
		if dayops.KindOf(err) != dayops.KindInvalid || !strings.Contains(dayops.UserMessage(err, ""), "parameter x") {
			t.Errorf("value %q: error %v, want a clean refusal", dayops.Truncate(v, 30), err)
		}
		if _, err := h.exec.Plan(ctx, dayops.RunRequest{Definition: "inject", Params: map[string]string{"x": v}}); dayops.KindOf(err) != dayops.KindInvalid {
			t.Errorf("plan of %q: %v", dayops.Truncate(v, 30), err)
		}
	}
	for _, v := range accepted {
		r := h.start(dayops.RunRequest{Definition: "inject", Params: map[string]string{"x": v}})
		got := h.done(r.ID)
		if got.State != dayops.RunSucceeded {
			t.Errorf("value %q: %s %q", dayops.Truncate(v, 30), got.State, got.Reason)
			continue
		}
		if got.ConcurrencyKey != "key-"+v {
			t.Errorf("concurrency key %q", dayops.Truncate(got.ConcurrencyKey, 40))
		}
		read := func(ext string) string {
			b, err := os.ReadFile(filepath.Join(h.dir, "out", strconv.FormatInt(r.ID, 10)+"."+ext))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSuffix(string(b), "\n")
		}
		for ext, want := range map[string]string{"param": v, "def": "pre-" + v + "-post", "step": v, "output": v, "stepvar": v} {
			if got := read(ext); got != want {
				t.Errorf("value %q reached %s as %q", dayops.Truncate(v, 30), ext, dayops.Truncate(got, 60))
			}
		}
	}
	entries, err := os.ReadDir(marks)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("marker %s was created: a value was executed", e.Name())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, q := range queries {
		if strings.Contains(q, "SHOULD-NOT-APPEAR") {
			t.Errorf("an expression inside a value was expanded: %q", q)
		}
	}
	if len(queries) == 0 {
		t.Error("no http probe reached the server")
	}
}

// injectionCorpus is hostile values, each of which, if it were ever run as
// shell text, would create a file m(NAME): the accepted ones must arrive
// verbatim, the refused ones must be refused as parameters.
func injectionCorpus(m func(string) string) (accepted, refused []string) {
	accepted = []string{
		"v1.2.0; touch " + m("semicolon"),
		"$(touch " + m("subshell") + ")",
		"`touch " + m("backticks") + "`",
		"'; touch " + m("single") + "; echo '",
		`"; touch ` + m("double") + `; echo "`,
		"${{ params.y }}",
		"${{ steps.echo.outputs.x }}",
		"$IFS$(touch${IFS}" + m("ifs") + ")",
		"&& touch " + m("and") + " || touch " + m("or"),
		"| touch " + m("pipe"),
		"> " + m("redirect"),
		"$((1+1)) ${HOME} ~ * ?",
		"%0Atouch " + m("urlnewline"),
		"-n -e \\ttab\t$(touch " + m("tab") + ")",
		strings.Repeat("$(touch "+m("long")+")", 1000)[:1000],
	}
	refused = []string{
		"a\ntouch " + m("newline"),
		"a\rtouch " + m("cr"),
		"\xff\xfe$(touch " + m("utf8") + ")",
		"nul\x00$(touch " + m("nul") + ")",
		strings.Repeat("x", 1025),
	}
	return accepted, refused
}
