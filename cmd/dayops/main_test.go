package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
)

// cli runs Main in process, as the binary would, and returns its exit
// code and output.
func cli(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	env := map[string]string{}
	code = Main(ctx, args, IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errOut.String()
}

func TestUsageAndVersion(t *testing.T) {
	if code, _, _ := cli(t, ""); code != exitUsage {
		t.Errorf("no arguments: exit %d, want %d", code, exitUsage)
	}
	code, _, stderr := cli(t, "", "valdate")
	if code != exitUsage || !strings.Contains(stderr, `did you mean "validate"`) {
		t.Errorf("unknown verb: exit %d, stderr %q", code, stderr)
	}
	if code, out, _ := cli(t, "", "version"); code != exitOK || !strings.Contains(out, "go1.") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	for _, v := range verbs() {
		code, out, _ := cli(t, "", v.name, "--help")
		if code != exitOK || !strings.Contains(out, "Usage: dayops "+v.name) {
			t.Errorf("%s --help: exit %d, %q", v.name, code, out)
		}
	}
	if code, _, _ := cli(t, "", "logs"); code != exitUsage {
		t.Errorf("logs without RUN: exit %d", code)
	}
	if code, _, _ := cli(t, "", "validate", "--format", "xml", "."); code != exitUsage {
		t.Errorf("bad --format: exit %d", code)
	}
}

func TestValidateExamples(t *testing.T) {
	code, out, stderr := cli(t, "", "validate", "../../examples/ops")
	if code != exitOK || !strings.Contains(out, "9 definitions valid") {
		t.Fatalf("validate examples: exit %d\n%s%s", code, out, stderr)
	}
	// A copy with two broken files: every problem, as file:line:col: message.
	dir := t.TempDir()
	copyDir(t, "../../examples/ops", dir)
	deploy := filepath.Join(dir, "day1", "deploy-web.yaml")
	b, _ := os.ReadFile(deploy)
	broken := strings.Replace(string(b), "steps:", "stpes:", 1)
	os.WriteFile(deploy, []byte(broken), 0o644)
	os.WriteFile(filepath.Join(dir, "day2", "bad.yaml"), []byte("apiVersion: dayops/v1\nphase: day9\nname: Bad_Name\nsteps:\n  - run: echo ${{ params.x }}\n"), 0o644)
	code, out, _ = cli(t, "", "validate", dir)
	if code != exitFail {
		t.Fatalf("broken copy: exit %d, want 1\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	pos := regexp.MustCompile(`^.+\.yaml:\d+:\d+: .+`)
	for _, l := range lines {
		if !pos.MatchString(l) {
			t.Errorf("not file:line:col: message: %q", l)
		}
	}
	for _, want := range []string{"deploy-web.yaml:", `"stpes"`, "bad.yaml:2:", "day9", "bad.yaml:3:", "bad.yaml:5:", "expressions are not expanded in run scripts"} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = cli(t, "", "validate", "--format", "json", dir)
	if code != exitFail || !strings.Contains(out, `"valid": false`) || !strings.Contains(out, `"line": 2`) {
		t.Errorf("json: exit %d\n%s", code, out)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		target := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeDefs writes a folder of definitions and scripts for plan/run tests.
func writeDefs(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const releaseDef = `apiVersion: dayops/v1
phase: day1
name: release
description: Release a version
service: app
environments:
  staging: {}
params:
  version: {type: string, pattern: '^v\d+\.\d+\.\d+$', required: true}
  note: {type: string}
concurrency: release-${{ env }}
env:
  MARKER_DIR: ${{ vars.MARKER_DIR }}
steps:
  - name: Show
    run: ./scripts/show.sh
  - name: Fail when asked
    run: |
      echo "about to decide"
      if [ "$DAYOPS_PARAM_NOTE" = fail ]; then echo "the last words" >&2; exit 3; fi
rollback:
  - name: Undo
    run: echo "rollback ran" > "$MARKER_DIR/rolled-back"
`

func TestRunAndPlanOnAFolder(t *testing.T) {
	markers := t.TempDir()
	t.Setenv("DAYOPS_VAR_MARKER_DIR", markers)
	dir := writeDefs(t, map[string]string{
		"release.yaml":    releaseDef,
		"scripts/show.sh": "#!/usr/bin/env bash\nset -euo pipefail\nprintf 'version=%s note=%s\\n' \"$DAYOPS_PARAM_VERSION\" \"${DAYOPS_PARAM_NOTE:-}\"\n",
	})
	db := filepath.Join(t.TempDir(), "d.db")

	code, out, stderr := cli(t, "", "plan", "release", "staging", "version=v1.0.0", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "lock key: release-staging") || !strings.Contains(out, "nothing was run") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(markers, "rolled-back")); err == nil {
		t.Fatal("plan ran something")
	}

	code, out, stderr = cli(t, "", "run", "release", "staging", "version=v1.0.0", "--dir", dir, "--database", db)
	if code != exitOK || !strings.Contains(out, "version=v1.0.0") || !strings.Contains(out, "succeeded") {
		t.Fatalf("run: exit %d\n%s%s", code, out, stderr)
	}

	// Refused before anything runs, naming the parameter and its pattern.
	code, _, stderr = cli(t, "", "run", "release", "staging", "version=latest", "--dir", dir, "--database", db)
	if code != exitFail || !strings.Contains(stderr, "version") || !strings.Contains(stderr, `^v\d+\.\d+\.\d+$`) {
		t.Errorf("bad version: exit %d, %q", code, stderr)
	}

	// A failing step: rollback runs, the run ends failed with the last lines.
	code, out, _ = cli(t, "", "run", "release", "staging", "version=v1.0.1", "note=fail", "--dir", dir, "--database", db)
	if code != exitFail || !strings.Contains(out, "failed") || !strings.Contains(out, "the last words") {
		t.Errorf("failing run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(markers, "rolled-back")); err != nil {
		t.Errorf("rollback did not run: %v", err)
	}

	code, out, _ = cli(t, "", "history", "--database", db)
	if code != exitOK || strings.Count(out, "release staging") != 2 || !strings.Contains(out, "succeeded") || !strings.Contains(out, "failed") {
		t.Errorf("history: exit %d\n%s", code, out)
	}
	code, out, _ = cli(t, "", "logs", "1", "--database", db)
	if code != exitOK || !strings.Contains(out, "version=v1.0.0 note=") {
		t.Errorf("logs: exit %d\n%s", code, out)
	}

	// Backup, then restore into a new path, and read the runs back.
	backup := filepath.Join(t.TempDir(), "b.db")
	if code, out, stderr := cli(t, "", "backup", backup, "--database", db); code != exitOK {
		t.Fatalf("backup: exit %d %s%s", code, out, stderr)
	}
	if code, _, _ := cli(t, "", "backup", backup, "--database", db); code != exitFail {
		t.Errorf("backup over an existing file: exit %d, want 1", code)
	}
	restored := filepath.Join(t.TempDir(), "r.db")
	if code, out, stderr := cli(t, "", "restore", backup, "--database", restored); code != exitOK {
		t.Fatalf("restore: exit %d %s%s", code, out, stderr)
	}
	if code, out, _ := cli(t, "", "history", "--database", restored); code != exitOK || strings.Count(out, "release staging") != 2 {
		t.Errorf("history of the restored database: %s", out)
	}
	// An empty file is no backup: refused, and left as it was.
	empty := filepath.Join(t.TempDir(), "empty.db")
	os.WriteFile(empty, nil, 0o600)
	code, _, stderr = cli(t, "", "restore", empty, "--database", restored, "--force")
	if b, _ := os.ReadFile(empty); code != exitFail || len(b) != 0 || !strings.Contains(stderr, "not a dayops database") {
		t.Errorf("restore of an empty file: exit %d, %q, file now %d bytes", code, stderr, len(b))
	}
	if code, out, _ := cli(t, "", "history", "--database", restored); code != exitOK || strings.Count(out, "release staging") != 2 {
		t.Errorf("a refused restore changed the database: %s", out)
	}
}

// TestInjectionIsData sends shell syntax through parameters: it must reach the
// script as data or be refused, and nothing in it may execute.
func TestInjectionIsData(t *testing.T) {
	pwned := filepath.Join(t.TempDir(), "pwned")
	dir := writeDefs(t, map[string]string{
		"echo.yaml": "apiVersion: dayops/v1\nphase: day2\nname: echo\nparams:\n  text: {type: string}\nenv:\n  TEXT: 'got ${{ params.text }}'\nsteps:\n  - run: printf '%s\\n' \"$DAYOPS_PARAM_TEXT\" \"$TEXT\"\n",
	})
	db := filepath.Join(t.TempDir(), "d.db")
	for _, evil := range []string{
		"v1.2.0; touch " + pwned,
		"$(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"' ; touch " + pwned + " ; '",
		"${{ params.text }}$(touch " + pwned + ")",
	} {
		code, out, stderr := cli(t, "", "run", "echo", "text="+evil, "--dir", dir, "--database", db)
		if code != exitOK || !strings.Contains(out, evil) {
			t.Errorf("text=%q: exit %d\n%s%s", evil, code, out, stderr)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("text=%q executed code", evil)
		}
	}
}

func TestDemoScript(t *testing.T) {
	data := t.TempDir()
	code, out, stderr := cli(t, "/ops list\n/ops deploy web staging version=v1.2.0\n/ops history\n", "demo", "--data", data)
	if code != exitOK {
		t.Fatalf("demo: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"deploy-web", "diagnose-web", "Verify over HTTP", "Run #3 deploy-web staging - succeeded", "#3 deploy-web staging"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo transcript lacks %q:\n%s", want, out)
		}
	}

	// Same data folder again: the repo is reused, refusals and did-you-mean.
	code, out, _ = cli(t, "/ops deploy web staging version=latest\n/ops deplyo web staging\n/ops history\n", "demo", "--data", data)
	if code != exitOK {
		t.Fatalf("second demo: exit %d\n%s", code, out)
	}
	for _, want := range []string{`parameter version: "latest" does not match the pattern ^v\d+\.\d+\.\d+$`, `did you mean "deploy"`} {
		if !strings.Contains(out, want) {
			t.Errorf("demo transcript lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "#4 ") {
		t.Errorf("a refused request created a run:\n%s", out)
	}
}

func TestDemoRollbackAndApproval(t *testing.T) {
	data := reviewedDemo(t) // run 3: production's readiness review
	script := strings.Join([]string{
		"/ops deploy web staging version=v1.0.0",
		"/ops deploy web staging version=v1.1.0 simulate_failure=true",
		"/ops deploy web production version=v1.0.0",
		"/ops approve 6",
		"/as carol",
		"/ops approve 6",
		"/as bob",
		"/ops approve 6",
	}, "\n") + "\n"
	code, out, stderr := cli(t, script, "demo", "--data", data)
	if code != exitOK {
		t.Fatalf("demo: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"Run #4 deploy-web staging - succeeded",
		"Run #5 deploy-web staging - failed",
		"rolled back",
		"Run #6 deploy-web production - awaiting approval",
		"Run #6 deploy-web production - succeeded",
		"alice requested run 6 and cannot approve it",
		"carol (console:carol) has no role that allows approve",
		"bob approved run 6 (1 of 1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", out)
	}
}

// gitIn runs the git CLI in dir with a fixed identity.
func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestDemoSyncsFromItsGitRepo: a commit to the demo's ops repo shows up on
// /ops sync with the diff an approver would see; a broken commit is stalled
// and the last good catalog keeps serving, also after a restart.
func TestDemoSyncsFromItsGitRepo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git CLI not installed")
	}
	data := t.TempDir()
	if code, out, _ := cli(t, "/ops deploy web staging version=v1.0.0\n", "demo", "--data", data); code != exitOK || !strings.Contains(out, "succeeded") {
		t.Fatalf("first demo: exit %d\n%s", code, out)
	}
	repo := filepath.Join(data, "ops-repo")
	deploy := filepath.Join(repo, "day1", "deploy-web.yaml")
	b, err := os.ReadFile(deploy)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(deploy, []byte(strings.Replace(string(b), "attempts: 3", "attempts: 4", 1)), 0o644)
	gitIn(t, repo, "commit", "-qam", "verify four times")
	os.WriteFile(filepath.Join(repo, "day2", "broken.yaml"), []byte("name: broken\n"), 0o644)
	gitIn(t, repo, "add", ".")
	gitIn(t, repo, "commit", "-qm", "a broken definition")

	// A restart with a broken head serves the last good revision, and sync
	// reports the broken one's problems.
	code, out, stderr := cli(t, "/ops sync\n/ops list\n", "demo", "--data", data)
	if code != exitOK {
		t.Fatalf("demo with a broken head: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"day2/broken.yaml:1:1: apiVersion is missing", "9 definitions at revision"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}

	gitIn(t, repo, "rm", "-q", "day2/broken.yaml")
	gitIn(t, repo, "commit", "-qm", "fix")
	code, out, _ = cli(t, "/ops sync\n/ops describe deploy-web\n/ops plan deploy-web staging version=v1.1.0\n", "demo", "--data", data)
	if code != exitOK {
		t.Fatalf("demo after the fix: exit %d\n%s", code, out)
	}
	if n := strings.Count(out, "-      attempts: 3\n"); n != 2 {
		t.Errorf("describe and plan should both show the diff (found it %d times):\n%s", n, out)
	}
}

func TestSyncVerb(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git CLI not installed")
	}
	repo := t.TempDir()
	copyDir(t, "../../examples/ops", filepath.Join(repo, "ops"))
	gitIn(t, repo, "init", "-q", "-b", "main")
	gitIn(t, repo, "add", ".")
	gitIn(t, repo, "commit", "-qm", "ops")
	db := filepath.Join(t.TempDir(), "d.db")
	code, out, stderr := cli(t, "", "sync", "--repo", repo, "--cache", t.TempDir(), "--database", db)
	if code != exitOK || !strings.Contains(out, "outcome updated") || !strings.Contains(out, "definitions 9") || !strings.Contains(out, "recent syncs:") {
		t.Fatalf("sync: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = cli(t, "", "sync", "--repo", repo, "--path", "missing", "--cache", t.TempDir())
	if code != exitFail || !strings.Contains(out, "outcome invalid") || !strings.Contains(out, "does not exist") {
		t.Errorf("sync of a missing folder: exit %d\n%s", code, out)
	}
	if code, _, _ := cli(t, "", "sync"); code != exitUsage {
		t.Errorf("sync without --repo: exit %d, want 2", code)
	}
}

// TestRunInsideTheFolder: with the defaults (--dir . and dayops.db) the
// database lives in the folder of definitions; writing it must not count as
// a change of the definitions.
func TestRunInsideTheFolder(t *testing.T) {
	dir := writeDefs(t, map[string]string{
		"hi.yaml": "apiVersion: dayops/v1\nphase: day2\nname: hi\nsteps:\n  - name: greet\n    run: echo hi; echo there\n",
	})
	t.Chdir(dir)
	for i := 0; i < 2; i++ {
		code, out, stderr := cli(t, "", "run", "hi")
		if code != exitOK || !strings.Contains(out, "▸ greet\n    | hi\n    | there\n  succeeded greet") {
			t.Fatalf("run %d: exit %d\n%s%s", i+1, code, out, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dayops.db")); err != nil {
		t.Errorf("the default database: %v", err)
	}
}

// TestDemoRunMessageCarriesOnAfterARestart: a run waits for an approval when
// the demo quits; started again, the demo brings the same message up to date
// and, once approved, shows the run's end in it.
func TestDemoRunMessageCarriesOnAfterARestart(t *testing.T) {
	data := reviewedDemo(t)
	code, out, stderr := cli(t, "/ops deploy web production version=v1.2.0\n/quit\n", "demo", "--data", data)
	if code != exitOK || !strings.Contains(out, "Run #4 deploy-web production - awaiting approval") {
		t.Fatalf("first session: exit %d\n%s%s", code, out, stderr)
	}
	before := reportsOf(t, filepath.Join(data, "dayops.db"), 4)
	if len(before) != 1 || before[0].Thread.Message == "" || before[0].Shown != dayops.RunAwaitingApproval {
		t.Fatalf("after the first session, run 4 is reported as %+v", before)
	}

	code, out, stderr = cli(t, "/as bob\n/ops approve 4\n", "demo", "--data", data)
	if code != exitOK {
		t.Fatalf("second session: exit %d\n%s%s", code, out, stderr)
	}
	after := reportsOf(t, filepath.Join(data, "dayops.db"), 4)
	if len(after) != 1 || after[0].Thread.Message != before[0].Thread.Message || after[0].Shown != dayops.RunSucceeded {
		t.Errorf("after the restart, run 4 is reported as %+v; want message %s showing succeeded", after, before[0].Thread.Message)
	}
	for _, want := range []string{"(message " + before[0].Thread.Message + " from before the restart, updated)", "bob approved run 4 (1 of 1)", "Run #4 deploy-web production - succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("second session lacks %q:\n%s", want, out)
		}
	}
}

func reportsOf(t *testing.T, db string, runID int64) []dayops.Report {
	t.Helper()
	st, err := storage.Open(context.Background(), db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reps, err := st.Reports(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	return reps
}

// TestPlanNeedsNoDatabaseAndWarnsOfSecrets: a dry run creates no database and
// prints the plan of a definition whose secret is not configured, warning.
func TestPlanNeedsNoDatabaseAndWarnsOfSecrets(t *testing.T) {
	dir := writeDefs(t, map[string]string{
		"d.yaml": "apiVersion: dayops/v1\nphase: day2\nname: d\nsecrets: [API_TOKEN]\nsteps:\n  - name: call\n    run: echo calling\n",
	})
	t.Chdir(dir)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	code, out, stderr := cli(t, "", "plan", "d")
	if code != exitOK || !strings.Contains(out, "warning: secret API_TOKEN is not configured: set DAYOPS_SECRET_API_TOKEN (a run would be refused)") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, stderr)
	}
	for _, d := range []string{dir, tmp} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".db") || strings.HasPrefix(e.Name(), "dayops-plan") {
				t.Errorf("plan left %s in %s", e.Name(), d)
			}
		}
	}
}
