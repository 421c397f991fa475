package executor_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

const deployWeb = `apiVersion: dayops/v1
phase: day1
name: deploy-web
service: web
environments:
  staging: {}
  production:
    approvals: {count: 1, from: [sre]}
params:
  version:
    type: string
    pattern: '^v\d+\.\d+\.\d+$'
    required: true
concurrency: deploy-web-${{ env }}
secrets: [KUBE_TOKEN]
env:
  IMAGE: registry/web:${{ params.version }}
steps:
  - id: build
    name: Build
    run: |
      echo "building $IMAGE for $DAYOPS_ENV as $DAYOPS_ACTOR"
      echo "digest=sha-$DAYOPS_PARAM_VERSION" >> "$DAYOPS_OUTPUT"
  - name: Deploy
    env:
      DIGEST: ${{ steps.build.outputs.digest }}
    run: |
      echo "deploying $DIGEST (step var $DAYOPS_STEP_BUILD_DIGEST)"
      test -n "$DAYOPS_SECRET_KUBE_TOKEN"
      echo "$DAYOPS_PARAM_VERSION" >> deployed.txt
rollback:
  - name: Undo
    run: echo undo >> rolled-back.txt
`

func TestRunSucceedsInOrderWithOutputs(t *testing.T) {
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, nil)
	r := h.start(dayops.RunRequest{Definition: "deploy-web", Environment: "staging", Params: map[string]string{"version": "v1.2.0"}})
	if r.State != dayops.RunPending || r.ID == 0 || r.PlanHash == "" || r.ConcurrencyKey != "deploy-web-staging" {
		t.Fatalf("started run: %+v", r)
	}
	if err := h.exec.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := h.done(r.ID)
	if got.State != dayops.RunSucceeded {
		t.Fatalf("state %s (%s); logs:\n%s", got.State, got.Reason, h.logs(r.ID))
	}
	if diff := cmp.Diff([]string{"Build=succeeded", "Deploy=succeeded", "Undo=skipped"}, stepStates(got)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if got.Steps[0].Outputs["digest"] != "sha-v1.2.0" {
		t.Errorf("outputs of build: %v", got.Steps[0].Outputs)
	}
	logs := h.logs(r.ID)
	for _, want := range []string{
		"0 stdout: building registry/web:v1.2.0 for staging as console:alice",
		"1 stdout: deploying sha-v1.2.0 (step var sha-v1.2.0)",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if got.Rollback != dayops.RollbackNone || got.Revision != h.cats.Catalog().Revision() || got.StartedAt.IsZero() || got.EndedAt.IsZero() {
		t.Errorf("run record: %+v", got)
	}
	// The transitions were each audited, in order.
	evs, err := h.store.AuditEvents(context.Background(), dayops.AuditFilter{RunID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	var moves []string
	for _, ev := range evs {
		if ev.Action == "run.state" {
			moves = append(moves, strings.SplitN(ev.Reason, ":", 2)[0])
		}
	}
	slices.Reverse(moves)
	if diff := cmp.Diff([]string{"pending → queued", "queued → running", "running → succeeded"}, moves); diff != "" {
		t.Errorf("audited transitions (-want +got):\n%s", diff)
	}
	// Followers saw the run end.
	isFinal := func(ev dayops.RunEvent) bool {
		return ev.Kind == dayops.EventState && ev.Run.State == dayops.RunSucceeded
	}
	notes := h.waitNotes(func(evs []dayops.RunEvent) bool { return slices.ContainsFunc(evs, isFinal) })
	if !slices.ContainsFunc(notes, isFinal) {
		t.Errorf("no final state event")
	}
}

func TestRunRefusedBeforeAnythingRuns(t *testing.T) {
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, nil)
	tests := []struct {
		name string
		req  dayops.RunRequest
		kind dayops.Kind
		want string
	}{
		{"bad version", dayops.RunRequest{Definition: "deploy-web", Environment: "staging", Params: map[string]string{"version": "latest"}},
			dayops.KindInvalid, `parameter version: "latest" does not match the pattern ^v\d+\.\d+\.\d+$`},
		{"unknown definition", dayops.RunRequest{Definition: "deploy-api"}, dayops.KindNotFound, `no definition named "deploy-api"`},
		{"unknown environment", dayops.RunRequest{Definition: "deploy-web", Environment: "qa", Params: map[string]string{"version": "v1.0.0"}},
			dayops.KindInvalid, `has no environment "qa"`},
		{"missing parameter", dayops.RunRequest{Definition: "deploy-web", Environment: "staging"}, dayops.KindInvalid, "parameter version is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.exec.Start(context.Background(), tt.req)
			if dayops.KindOf(err) != tt.kind || !strings.Contains(dayops.UserMessage(err, ""), tt.want) {
				t.Fatalf("error %v (kind %s), want %s containing %q", err, dayops.KindOf(err), tt.kind, tt.want)
			}
		})
	}
	runs, err := h.store.Runs(context.Background(), dayops.RunFilter{})
	if err != nil || len(runs) != 0 {
		t.Fatalf("runs recorded: %d (%v)", len(runs), err)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "deployed.txt")); !os.IsNotExist(err) {
		t.Errorf("a step ran: %v", err)
	}
}

func TestMissingSecretWarnsInPlanAndRefusesTheRun(t *testing.T) {
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, func(o *executor.Options) { o.Secrets = nil })
	req := dayops.RunRequest{Definition: "deploy-web", Environment: "staging", Params: map[string]string{"version": "v1.2.0"}, Actor: actor("alice")}
	want := "secret KUBE_TOKEN is not configured: set DAYOPS_SECRET_KUBE_TOKEN"
	p, err := h.exec.Plan(context.Background(), req)
	if err != nil || len(p.Warnings) != 1 || p.Warnings[0] != want {
		t.Errorf("plan warnings %v, error %v; want %q", p.Warnings, err, want)
	}
	planner, err := executor.NewPlanner(executor.Options{Catalogs: h.cats})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := planner.Plan(context.Background(), req); err != nil || len(p.Warnings) != 1 || len(p.Steps) == 0 {
		t.Errorf("planner without a database: %+v, %v", p, err)
	}
	_, err = h.exec.Start(context.Background(), req)
	if dayops.KindOf(err) != dayops.KindInvalid || dayops.UserMessage(err, "") != want {
		t.Errorf("start: error %v, want %q", err, want)
	}
}

func TestFailingStepRunsRollbackWithLastLines(t *testing.T) {
	h := newHarness(t, map[string]string{"f.yaml": def("fail", `
steps:
  - name: Prepare
    run: echo prepared
  - name: Deploy
    run: |
      echo "a warning" >&2
      echo "line one"
      echo "line two"
      exit 3
  - name: Never
    run: echo never >> never.txt
  - name: Report
    if: failure()
    run: echo "reporting the failure"
  - name: Always
    if: always()
    run: echo always
rollback:
  - name: Undo
    run: echo undone; exit 4
  - name: Cleanup
    run: echo cleaned
`)}, nil)
	r := h.start(dayops.RunRequest{Definition: "fail"})
	got := h.done(r.ID)
	if got.State != dayops.RunFailed || got.Rollback != dayops.RollbackFailed {
		t.Fatalf("state %s rollback %s", got.State, got.Rollback)
	}
	// stdout and stderr are separate pipes: their lines interleave in any
	// order, but each stream's lines keep theirs.
	const prefix, suffix = "step Deploy failed (exit 3): last lines: ", "; the rollback failed: step Undo failed (exit 4): last lines: undone"
	last, ok := strings.CutPrefix(got.Reason, prefix)
	last, ok2 := strings.CutSuffix(last, suffix)
	lines := strings.Split(last, " | ")
	stdout := slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return l == "a warning" })
	if !ok || !ok2 || len(lines) != 3 || !slices.Contains(lines, "a warning") || !slices.Equal(stdout, []string{"line one", "line two"}) {
		t.Errorf("reason %q", got.Reason)
	}
	if diff := cmp.Diff([]string{"Prepare=succeeded", "Deploy=failed", "Never=skipped", "Report=succeeded", "Always=succeeded", "Undo=failed", "Cleanup=succeeded"}, stepStates(got)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if got.Steps[1].ExitCode != 3 {
		t.Errorf("exit code %d", got.Steps[1].ExitCode)
	}
}

func TestStepTimeoutKillsChildren(t *testing.T) {
	h := newHarness(t, map[string]string{"t.yaml": def("slow", `
steps:
  - name: Hang
    timeout: 300ms
    run: |
      sleep 300 &
      echo $! > child.pid
      wait
rollback:
  - name: Undo
    run: echo undo
`)}, nil)
	start := time.Now()
	r := h.start(dayops.RunRequest{Definition: "slow"})
	got := h.done(r.ID)
	if got.State != dayops.RunTimedOut || got.Rollback != dayops.RolledBack {
		t.Fatalf("state %s rollback %s reason %q", got.State, got.Rollback, got.Reason)
	}
	if !strings.HasPrefix(got.Reason, "step Hang timed out after 300ms") || got.Steps[0].State != dayops.StepTimedOut {
		t.Errorf("reason %q step %s", got.Reason, got.Steps[0].State)
	}
	waitGone(t, readPid(t, filepath.Join(h.dir, "child.pid")), 2*time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestRunTimeoutEndsTimedOut(t *testing.T) {
	h := newHarness(t, map[string]string{"t.yaml": def("slow", `
timeout: 400ms
steps:
  - name: One
    run: sleep 0.1
  - name: Two
    run: sleep 300 & echo $! > two.pid; wait
`)}, nil)
	r := h.start(dayops.RunRequest{Definition: "slow"})
	got := h.done(r.ID)
	if got.State != dayops.RunTimedOut || !strings.Contains(got.Reason, "the run timed out after 400ms during step Two") {
		t.Fatalf("state %s reason %q", got.State, got.Reason)
	}
	waitGone(t, readPid(t, filepath.Join(h.dir, "two.pid")), 2*time.Second)
}

func TestRetriesWithBackoff(t *testing.T) {
	h := newHarness(t, map[string]string{"r.yaml": def("flaky", `
steps:
  - name: Flaky
    retries: 3
    retry_delay: 50ms
    run: |
      n=$(cat count 2>/dev/null || echo 0)
      echo $((n+1)) > count
      echo "attempt $DAYOPS_ATTEMPT"
      test "$n" -ge 2
  - name: Hopeless
    retries: 1
    retry_delay: 10ms
    continue_on_error: true
    run: exit 7
  - name: After
    run: echo after
`)}, nil)
	start := time.Now()
	r := h.start(dayops.RunRequest{Definition: "flaky"})
	got := h.done(r.ID)
	if got.State != dayops.RunSucceeded {
		t.Fatalf("state %s %q", got.State, got.Reason)
	}
	if got.Steps[0].Attempts != 3 || got.Steps[1].Attempts != 2 || got.Steps[1].State != dayops.StepFailed || got.Steps[2].State != dayops.StepSucceeded {
		t.Errorf("steps %+v", got.Steps)
	}
	// 50ms, then 100ms: the delay doubles.
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("retries took only %s", d)
	}
	logs := h.logs(r.ID)
	for _, want := range []string{"attempt 1 of 4 failed (step Flaky failed (exit 1)", "retrying in 50ms", "retrying in 100ms", "0 stdout: attempt 3"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestWorkingDirAndProcessGroup(t *testing.T) {
	h := newHarness(t, map[string]string{"w.yaml": def("where", `
steps:
  - name: Where
    run: |
      pwd > where.txt
      echo "$TMPDIR" >> where.txt
`)}, nil)
	r := h.start(dayops.RunRequest{Definition: "where"})
	if got := h.done(r.ID); got.State != dayops.RunSucceeded {
		t.Fatalf("state %s %q", got.State, got.Reason)
	}
	lines := strings.Split(waitFile(t, filepath.Join(h.dir, "where.txt")), "\n")
	if lines[0] != h.dir || !strings.Contains(lines[1], "dayops-run-") {
		t.Errorf("cwd and TMPDIR: %q", lines)
	}
}
