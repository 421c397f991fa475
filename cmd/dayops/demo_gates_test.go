package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemoPhaseGateAndReview: in the demo, a production deploy of web is
// refused until a readiness review of production passed; a review answered
// no fails with its note and meets no gate; one answered yes (typed, and as
// a numbered choice) lets the deploy start, which then waits for its
// approval as before.
func TestDemoPhaseGateAndReview(t *testing.T) {
	data := t.TempDir()
	check := func(session, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q", session, w)
			}
		}
		if t.Failed() {
			t.Fatalf("%s transcript:\n%s", session, out)
		}
	}
	script := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

	code, out, stderr := cli(t, script(
		"/ops plan deploy-web production version=v1.2.0",
		"/ops deploy web production version=v1.2.0",
		"/ops run review-web production",
		"/ops answer 3 1 yes",
		"/as bob",
		"/ops answer 3 1 yes",
		"/ops answer 3 2 no the restore was never tested",
	), "demo", "--data", data)
	if code != exitOK {
		t.Fatalf("first session: exit %d\n%s%s", code, out, stderr)
	}
	check("first session", out,
		"provision-env production within 720h: met by run 2",
		"review-web production within 168h: missing: /ops run review-web production",
		"deploy-web production cannot start: its phase gates are not met: review-web production within 168h: missing: run review-web production",
		"Run #3 review-web production - awaiting approval",
		"1. Does the release need new infrastructure, and is it provisioned? - waiting",
		"[1] 1: Yes  [2] 1: No",
		"alice requested run 3, and its checklist must be answered by someone else",
		"bob answered yes to question 1 of run 3",
		"bob answered no to question 2 of run 3 (Does it touch the database, and is there a tested backup?): the restore was never tested",
		"Run #3 review-web production - failed",
		"question 2 (Does it touch the database, and is there a tested backup?) was answered no by bob: the restore was never tested",
	)
	if strings.Contains(out, "Run #4") {
		t.Fatalf("a refused deploy made a run:\n%s", out)
	}

	// A failed review meets no gate; a passed one does. The first answer
	// is a numbered choice: [1] is the Yes of the first open question.
	code, out, stderr = cli(t, script(
		"/ops deploy web production version=v1.2.0",
		"/ops run review-web production",
		"/as bob",
		"/ops status 4",
		"1",
		"/ops answer 4 2 yes",
		"/ops answer 4 3 yes",
		"/ops answer 4 4 yes fits this quarter",
	), "demo", "--data", data)
	if code != exitOK {
		t.Fatalf("second session: exit %d\n%s%s", code, out, stderr)
	}
	check("second session", out,
		"deploy-web production cannot start: its phase gates are not met: review-web production within 168h: missing: run review-web production",
		"bob answered yes to question 1 of run 4",
		"bob answered yes to question 4 of run 4 (Does it fit the budget?): fits this quarter",
		"Run #4 review-web production - succeeded",
	)

	code, out, stderr = cli(t, script(
		"/ops plan deploy-web production version=v1.2.0",
		"/ops deploy web production version=v1.2.0",
		"/as bob",
		"/ops approve 5",
	), "demo", "--data", data)
	if code != exitOK {
		t.Fatalf("third session: exit %d\n%s%s", code, out, stderr)
	}
	check("third session", out,
		"review-web production within 168h: met by run 4",
		"Run #5 deploy-web production - awaiting approval",
		"bob approved run 5 (1 of 1)",
		"Run #5 deploy-web production - succeeded",
	)
}

// TestDemoGateOverride: an SRE may deploy production past a missing review
// with a reason, which the run's message shows.
func TestDemoGateOverride(t *testing.T) {
	code, out, stderr := cli(t, `/ops deploy web production version=v1.2.0 override="hotfix for INC-7"`+"\n/as bob\n/ops approve 3\n", "demo", "--data", t.TempDir())
	if code != exitOK {
		t.Fatalf("demo: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"Run #3 deploy-web production - awaiting approval",
		"phase gates overridden by alice (review-web production missing): hotfix for INC-7",
		"Run #3 deploy-web production - succeeded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
}

// reviewedDemo is a demo data folder in which production's readiness
// review passed (run 3, answered by bob), so that production deploys of
// web may start.
func reviewedDemo(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	code, out, stderr := cli(t, "/ops run review-web production\n/as bob\n/ops answer 3 1 yes\n/ops answer 3 2 yes\n/ops answer 3 3 yes\n/ops answer 3 4 yes\n",
		"demo", "--data", data)
	if code != exitOK || !strings.Contains(out, "Run #3 review-web production - succeeded") {
		t.Fatalf("the readiness review: exit %d\n%s%s", code, out, stderr)
	}
	return data
}

// TestCLIPhaseGates: dayops plan shows the gates (not checked without a
// database, met or missing with one) and dayops run refuses a run whose
// gate is missing, before anything runs.
func TestCLIPhaseGates(t *testing.T) {
	dir := writeDefs(t, map[string]string{
		"preflight.yaml": "apiVersion: dayops/v1\nphase: day0\nname: preflight\nenvironments: {staging: {}}\nsteps:\n  - run: echo checked\n",
		"deploy.yaml": "apiVersion: dayops/v1\nphase: day1\nname: deploy-web\nservice: web\nenvironments: {staging: {}}\n" +
			"requires: [{definition: preflight, within: 1h}]\nsteps:\n  - run: echo deployed >> \"$TMPDIR/deployed\"\n",
	})
	db := filepath.Join(t.TempDir(), "d.db")
	code, out, stderr := cli(t, "", "plan", "deploy-web", "staging", "--dir", dir, "--database", db)
	if code != exitOK || !strings.Contains(out, "preflight staging within 1h: not checked (this plan reads no database") {
		t.Fatalf("plan without a database: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatalf("plan created the database")
	}
	code, out, stderr = cli(t, "", "run", "deploy-web", "staging", "--dir", dir, "--database", db)
	if code != exitFail || !strings.Contains(out+stderr, "deploy-web staging cannot start: its phase gates are not met: preflight staging within 1h: missing: run preflight staging") {
		t.Fatalf("run with its gate missing: exit %d\n%s%s", code, out, stderr)
	}
	if strings.Contains(out, "deployed") {
		t.Fatalf("something ran:\n%s", out)
	}
	if code, out, stderr = cli(t, "", "run", "preflight", "staging", "--dir", dir, "--database", db); code != exitOK {
		t.Fatalf("preflight: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = cli(t, "", "plan", "deploy-web", "staging", "--dir", dir, "--database", db)
	if code != exitOK || !strings.Contains(out, "preflight staging within 1h: met by run 1, passed 0s ago") {
		t.Fatalf("plan after the preflight: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr = cli(t, "", "run", "deploy-web", "staging", "--dir", dir, "--database", db); code != exitOK {
		t.Fatalf("run after the preflight: exit %d\n%s%s", code, out, stderr)
	}
}

// TestReadmeTour replays the tour of README.md in the demo, as written,
// and checks that it does what its comments say. The demo reads scripted
// input faster than a person, so the tour is split where alice takes the
// terminal back: by then the review has passed, as it would have for a
// person typing.
func TestReadmeTour(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "```text\n$ go run ./cmd/dayops demo --data /tmp/dayops-demo\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no tour block starting with `$ go run ./cmd/dayops demo --data /tmp/dayops-demo`")
	}
	comment := regexp.MustCompile(`\s{2,}#.*$`)
	var sessions [2][]string
	part := 0
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		l = comment.ReplaceAllString(l, "")
		if l == "/as alice" {
			part = 1
		}
		sessions[part] = append(sessions[part], l)
	}
	if len(sessions[1]) == 0 {
		t.Fatalf("the tour has no /as alice after the review:\n%s", block)
	}
	data := t.TempDir()
	var out strings.Builder
	for i, s := range sessions {
		code, o, stderr := cli(t, strings.Join(s, "\n")+"\n", "demo", "--data", data)
		if code != exitOK {
			t.Fatalf("tour part %d: exit %d\n%s%s", i+1, code, o, stderr)
		}
		out.WriteString(o)
	}
	for _, want := range []string{
		"9 definitions at revision",
		"Run #3 deploy-web staging - succeeded",
		`parameter version: "latest" does not match the pattern`,
		"Run #4 deploy-web staging - failed",
		"deploy-web production cannot start: its phase gates are not met: review-web production within 168h: missing",
		"provision-env production within 720h: met by run 2",
		"Run #5 review-web production - succeeded",
		"Run #6 deploy-web production - awaiting approval",
		"alice requested run 6 and cannot approve it",
		"bob approved run 6 (1 of 1)",
		"Run #6 deploy-web production - succeeded",
		"usage: /ops deploy SERVICE ENV [VERSION]",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the tour's transcript lacks %q", want)
		}
	}
	for _, bad := range []string{"internal error", "unknown command", "Run #7"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("the tour's transcript has %q", bad)
		}
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", out.String())
	}
}
