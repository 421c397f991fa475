package gitsync

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/dayops/dayops"
	"github.com/google/go-cmp/cmp"
)

// TestLoadGates: requires: (of the definition and of an environment) and a
// checklist step load into the definition as written.
func TestLoadGates(t *testing.T) {
	fs := fstest.MapFS{
		"preflight.yaml": {Data: []byte("apiVersion: dayops/v1\nphase: day0\nname: preflight\nenvironments: {staging: {}, production: {}}\nsteps:\n  - run: \"true\"\n")},
		"review.yaml": {Data: []byte(`apiVersion: dayops/v1
phase: day0
name: review
steps:
  - name: Readiness review
    checklist:
      from: [sre, lead]
      others: true
      questions:
        - Is there a backup?
        - '  Is it monitored?  '
`)},
		"deploy.yaml": {Data: []byte(`apiVersion: dayops/v1
phase: day1
name: deploy-web
service: web
requires:
  - {definition: preflight, within: 24h}
environments:
  staging: {}
  production:
    requires:
      - {definition: review, within: 168h}
steps:
  - run: "true"
`)},
	}
	cat, problems := LoadFS(fs, ".", "rev")
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	deploy, _ := cat.Lookup("deploy-web")
	got := deploy.Requirements("production")
	want := []dayops.Requirement{
		{Definition: "preflight", Within: 24 * time.Hour, Line: 6},
		{Definition: "review", Within: 168 * time.Hour, Line: 11},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requirements of production (-want +got):\n%s", diff)
	}
	if got := deploy.Requirements("staging"); len(got) != 1 {
		t.Errorf("staging has %d requirements, want the definition's one", len(got))
	}
	review, _ := cat.Lookup("review")
	st := review.Steps[0]
	wantList := &dayops.Checklist{From: []string{"sre", "lead"}, Others: true, Questions: []string{"Is there a backup?", "Is it monitored?"}}
	if st.Kind != dayops.StepKindChecklist || !cmp.Equal(st.Checklist, wantList) {
		t.Errorf("checklist step: kind %s, %+v; want %+v", st.Kind, st.Checklist, wantList)
	}
}
