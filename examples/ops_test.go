package examples

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var scriptRef = regexp.MustCompile(`\./scripts/[A-Za-z0-9_.-]+`)

// TestLayout checks the shape of the embedded repo: definitions only in the
// phase folders, every script they call present and executable on disk.
func TestLayout(t *testing.T) {
	t.Parallel()
	var yamls, scripts []string
	err := fs.WalkDir(Ops, "ops", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch ext := path.Ext(p); {
		case ext == ".yaml" || ext == ".yml":
			yamls = append(yamls, p)
		case strings.HasPrefix(p, "ops/scripts/"):
			scripts = append(scripts, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(yamls) != 9 {
		t.Errorf("found %d definitions, want 9: %v", len(yamls), yamls)
	}
	for _, p := range yamls {
		phase := path.Base(path.Dir(p))
		if path.Dir(path.Dir(p)) != "ops" || (phase != "day0" && phase != "day1" && phase != "day2") {
			t.Errorf("%s: definitions belong in ops/day0, ops/day1 or ops/day2", p)
		}
		b, _ := fs.ReadFile(Ops, p)
		name := strings.TrimSuffix(path.Base(p), path.Ext(p))
		if !bytes.Contains(b, []byte("\nphase: "+phase+"\n")) || !bytes.Contains(b, []byte("\nname: "+name+"\n")) {
			t.Errorf("%s: want phase %s and name %s to match the file's place", p, phase, name)
		}
		for _, ref := range scriptRef.FindAllString(string(b), -1) {
			if _, err := fs.Stat(Ops, path.Join("ops", ref)); err != nil {
				t.Errorf("%s calls %s, which is not in the repo", p, ref)
			}
		}
	}
	for _, p := range scripts {
		st, err := os.Stat(filepath.FromSlash(p))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&0o111 != 0o111 {
			t.Errorf("%s is not executable (mode %v): chmod +x it", p, st.Mode())
		}
		b, _ := fs.ReadFile(Ops, p)
		if !bytes.HasPrefix(b, []byte("#!/usr/bin/env bash\n")) || !bytes.Contains(b, []byte("\nset -euo pipefail\n")) {
			t.Errorf("%s: want a bash shebang and set -euo pipefail", p)
		}
	}
}

// world is one set of example environments and the runs made against it.
type world struct {
	t     *testing.T
	envs  string
	runID int // DAYOPS_RUN_ID of the scripts run now; next() starts a new run
}

func (w *world) next() { w.runID++ }

func newWorld(t *testing.T) *world {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	// A space and a "$" in the path catch unquoted variables.
	envs := filepath.Join(t.TempDir(), "envs dir $x")
	return &world{t: t, envs: envs}
}

// run runs script the way the executor does: bash -eo pipefail -c, in the
// repo folder, with parameters as DAYOPS_PARAM_* and outputs in a file.
func (w *world) run(script, env string, vars map[string]string) (outputs map[string]string, log string, ok bool) {
	w.t.Helper()
	out := filepath.Join(w.t.TempDir(), "output")
	if err := os.WriteFile(out, nil, 0o600); err != nil {
		w.t.Fatal(err)
	}
	cmd := exec.Command("bash", "-eo", "pipefail", "-c", script)
	cmd.Dir = "ops"
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"ENVS_DIR=" + w.envs,
		"DAYOPS_ENV=" + env,
		"DAYOPS_RUN_ID=" + strconv.Itoa(w.runID),
		"DAYOPS_ACTOR=tester",
		"DAYOPS_OUTPUT=" + out,
	}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	b, err := cmd.CombinedOutput()
	outputs = map[string]string{}
	f, ferr := os.Open(out)
	if ferr != nil {
		w.t.Fatal(ferr)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		k, v, _ := strings.Cut(sc.Text(), "=")
		outputs[k] = v
	}
	return outputs, string(b), err == nil
}

func (w *world) mustRun(script, env string, vars map[string]string) map[string]string {
	w.t.Helper()
	outputs, log, ok := w.run(script, env, vars)
	if !ok {
		w.t.Fatalf("%s in %s failed:\n%s", script, env, log)
	}
	return outputs
}

func (w *world) mustFail(script, env string, vars map[string]string, want string) {
	w.t.Helper()
	_, log, ok := w.run(script, env, vars)
	if ok || !strings.Contains(log, want) {
		w.t.Fatalf("%s in %s: want a failure saying %q, got ok=%v:\n%s", script, env, want, ok, log)
	}
}

func (w *world) current(env string) string {
	target, err := os.Readlink(filepath.Join(w.envs, env, "current"))
	if err != nil {
		return "none"
	}
	return target
}

func (w *world) read(rel string) string {
	b, err := os.ReadFile(filepath.Join(w.envs, rel))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

func (w *world) deploy(env, version string, vars map[string]string) (backup, install map[string]string) {
	w.t.Helper()
	w.next()
	v := map[string]string{"DAYOPS_PARAM_VERSION": version}
	for k, x := range vars {
		v[k] = x
	}
	backup = w.mustRun("./scripts/backup-db.sh --for-rollback", env, v)
	install = w.mustRun("./scripts/install-release.sh", env, v)
	w.mustRun("./scripts/simulate-failure.sh", env, v)
	return backup, install
}

func TestDeployAndRollback(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.mustFail("./scripts/preflight.sh", "staging", nil, "run /ops run provision-env staging first")
	w.mustRun("./scripts/provision-env.sh", "staging", nil)
	w.mustRun("./scripts/provision-env.sh", "staging", nil) // idempotent
	w.mustRun("./scripts/preflight.sh", "staging", nil)
	w.mustFail("./scripts/preflight.sh", "staging", map[string]string{"DAYOPS_PARAM_MIN_FREE_MB": "999999999"}, "need at least")

	_, install := w.deploy("staging", "v1.0.0", nil)
	if install["previous"] != "none" || w.current("staging") != "releases/v1.0.0" {
		t.Fatalf("first deploy: previous=%q current=%q", install["previous"], w.current("staging"))
	}
	w.mustRun("./scripts/finish-deploy.sh", "staging", nil)
	w.deploy("staging", "v1.1.0", nil)
	w.mustRun("./scripts/finish-deploy.sh", "staging", nil)
	good := w.read("staging/db/data.txt")
	if !strings.Contains(good, "migration v1.1.0") {
		t.Fatalf("database has no migration line for v1.1.0:\n%s", good)
	}

	// A bad release, rolled back from the step outputs.
	backup, install := w.deploy("staging", "v1.2.0", map[string]string{"DAYOPS_PARAM_SIMULATE_FAILURE": "true"})
	if _, err := os.Stat(filepath.Join(w.envs, "staging/current/BROKEN")); err != nil {
		t.Fatal("simulate_failure=true did not mark the release BROKEN")
	}
	w.mustRun("./scripts/deploy-rollback.sh", "staging", map[string]string{"PREVIOUS": install["previous"], "BACKUP": backup["backup"]})
	if got := w.current("staging"); got != "releases/v1.1.0" {
		t.Fatalf("after rollback current = %q, want releases/v1.1.0", got)
	}
	if got := w.read("staging/db/data.txt"); got != good {
		t.Fatalf("rollback did not restore the database:\n%s", got)
	}

	// The same without step outputs: the run's notes in state/ are enough.
	w.next()
	w.mustRun("./scripts/backup-db.sh --for-rollback", "staging", nil)
	w.mustRun("./scripts/install-release.sh", "staging", map[string]string{"DAYOPS_PARAM_VERSION": "v1.3.0"})
	w.mustRun("./scripts/deploy-rollback.sh", "staging", nil)
	if got := w.current("staging"); got != "releases/v1.1.0" {
		t.Fatalf("after rollback from notes current = %q, want releases/v1.1.0", got)
	}
	if got := w.read("staging/db/data.txt"); got != good {
		t.Fatalf("rollback from notes did not restore the database:\n%s", got)
	}
	if left, _ := os.ReadDir(filepath.Join(w.envs, "staging/state")); len(left) != 0 {
		t.Fatalf("rollback left notes behind: %v", left)
	}

	// A rollback of a run that changed nothing changes nothing.
	w.next()
	w.mustRun("./scripts/deploy-rollback.sh", "staging", nil)
	if got := w.current("staging"); got != "releases/v1.1.0" {
		t.Fatalf("empty rollback moved current to %q", got)
	}

	// A failed first deploy leaves no active release.
	w.mustRun("./scripts/provision-env.sh", "production", nil)
	backup, install = w.deploy("production", "v1.0.0", nil)
	w.mustRun("./scripts/deploy-rollback.sh", "production", map[string]string{"PREVIOUS": install["previous"], "BACKUP": backup["backup"]})
	if got := w.current("production"); got != "none" {
		t.Fatalf("after a failed first deploy current = %q, want none", got)
	}
	w.mustFail("./scripts/restart-web.sh", "production", nil, "nothing is deployed in production")
	w.mustRun("./scripts/restart-web.sh", "staging", nil)
}

func TestDay2(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.mustRun("./scripts/provision-env.sh", "staging", nil)
	var last map[string]string
	for range 3 {
		last = w.mustRun("./scripts/backup-db.sh", "staging", map[string]string{"DAYOPS_PARAM_KEEP": "2"})
	}
	if left, _ := os.ReadDir(filepath.Join(w.envs, "staging/backups")); len(left) != 2 {
		t.Fatalf("keep=2 left %d backups", len(left))
	}
	name := last["backup_name"]
	if last["backup"] != filepath.Join(w.envs, "staging/backups", name) {
		t.Fatalf("outputs backup=%q backup_name=%q disagree", last["backup"], name)
	}

	db := filepath.Join(w.envs, "staging/db/data.txt")
	want := w.read("staging/db/data.txt")
	if err := os.WriteFile(db, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := w.mustRun("./scripts/restore-db.sh", "staging", map[string]string{"DAYOPS_PARAM_BACKUP": name})
	if got := w.read("staging/db/data.txt"); got != want || out["safety_backup"] == "" {
		t.Fatalf("restore: database %q, safety backup %q", got, out["safety_backup"])
	}

	// Names that could leave backups/ are refused by the script itself.
	secret := filepath.Join(w.envs, "secret.txt")
	if err := os.WriteFile(secret, []byte("SECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(w.envs, "staging/backups/link.txt")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../x", "..", ".", "/etc/passwd", "../../secret.txt", ".hidden", "-rf", "a/b", "link.txt", "missing.txt"} {
		w.mustFail("./scripts/restore-db.sh", "staging", map[string]string{"DAYOPS_PARAM_BACKUP": bad}, "error:")
	}
	w.mustFail("./scripts/deploy-rollback.sh", "staging", map[string]string{"BACKUP": secret}, "not in")
	if strings.Contains(w.read("staging/db/data.txt"), "SECRET") {
		t.Fatal("a refused restore changed the database")
	}

	// Parameters are data, never code.
	w.mustFail("./scripts/install-release.sh", "staging", map[string]string{"DAYOPS_PARAM_VERSION": "v1.2.0; touch pwned"}, "must look like")
	w.mustFail("./scripts/install-release.sh", "staging", map[string]string{"DAYOPS_PARAM_VERSION": "$(touch pwned)"}, "must look like")
	w.mustFail("./scripts/backup-db.sh", "staging", map[string]string{"DAYOPS_PARAM_KEEP": "1; touch pwned"}, "whole number")
	w.mustFail("./scripts/provision-env.sh", "../staging", nil, "bad environment name")
	if _, err := os.Stat(filepath.Join("ops", "pwned")); err == nil {
		t.Fatal("a parameter was executed")
	}

	w.mustRun("./scripts/install-release.sh", "staging", map[string]string{"DAYOPS_PARAM_VERSION": "v2.0.0"})
	report := w.mustRun("./scripts/diagnose-web.sh", "", nil)
	if !strings.Contains(report["summary"], "staging: v2.0.0, healthy") {
		t.Fatalf("diagnose summary = %q", report["summary"])
	}
	w.mustFail("./scripts/diagnose-web.sh", "", map[string]string{"DAYOPS_PARAM_ENVIRONMENT": "nope"}, "no environment nope")

	for range 3 {
		w.mustRun("./scripts/rotate-logs.sh", "", map[string]string{"DAYOPS_PARAM_KEEP": "1"})
	}
	logs, _ := os.ReadDir(filepath.Join(w.envs, "staging/logs"))
	if len(logs) != 2 {
		t.Fatalf("keep=1 left %d files in logs/, want app.log and one rotated", len(logs))
	}
}

func TestNoEnvsDir(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, dir := range []string{"", "relative/dir"} {
		w.envs = dir
		for _, s := range []string{"preflight", "provision-env", "backup-db", "install-release", "deploy-rollback", "diagnose-web", "rotate-logs"} {
			w.mustFail("./scripts/"+s+".sh", "staging", map[string]string{"DAYOPS_PARAM_VERSION": "v1.0.0"}, "ENVS_DIR")
		}
	}
	if _, err := os.Stat(filepath.Join("ops", "relative")); err == nil {
		t.Fatal("a script wrote into the repo")
	}
}
