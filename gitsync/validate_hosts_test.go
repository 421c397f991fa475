package gitsync

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

// TestStepHosts: on:, parallel: and continue_on_host_error: of a step, and
// the definition's as defaults of its run steps (not of other kinds).
func TestStepHosts(t *testing.T) {
	const file = `apiVersion: dayops/v1
phase: day2
name: restart-web
on: web
parallel: 3
steps:
  - name: Inherits
    run: systemctl restart web
  - name: Own
    on: db-1
    parallel: 1
    continue_on_host_error: true
    run: systemctl restart db
  - name: Probe
    http: {url: https://example.com/healthz}
rollback:
  - name: Undo
    continue_on_host_error: true
    run: systemctl start web
`
	cat, problems := LoadFS(fstest.MapFS{"ops/r.yaml": {Data: []byte(file)}}, "ops", "rev")
	if len(problems) > 0 {
		t.Fatal(joinProblems(problems))
	}
	d, err := cat.Get("restart-web")
	if err != nil {
		t.Fatal(err)
	}
	type hosts struct {
		On       string
		Parallel int
		Continue bool
	}
	var got []hosts
	for _, st := range append(d.Steps, d.Rollback...) {
		got = append(got, hosts{st.On, st.Parallel, st.ContinueOnHostError})
	}
	want := []hosts{{"web", 3, false}, {"db-1", 1, true}, {"", 0, false}, {"web", 3, true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps' hosts (-want +got):\n%s", diff)
	}
	if d.Steps[2].Kind != dayops.StepKindHTTP {
		t.Fatalf("step 3 is %s", d.Steps[2].Kind)
	}
}
