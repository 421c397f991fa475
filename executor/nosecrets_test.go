package executor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

// TestNoSecrets: a run started with RunRequest.NoSecrets (a fork's pull
// request) hands its steps none of the secrets its definition declares,
// nor do the runs it starts with uses:; the same definition started
// normally gets them. Its plan says so, and a secret that is not configured
// does not stop it.
func TestNoSecrets(t *testing.T) {
	const script = `echo "token=[${DAYOPS_SECRET_KUBE_TOKEN:-none}] set=$(env | grep -c '^DAYOPS_SECRET_' || true)"`
	h := newHarness(t, map[string]string{
		"outer.yaml": def("outer", "secrets: [KUBE_TOKEN, MISSING]\nsteps:\n  - run: "+script+"\n  - uses: inner\n"),
		"inner.yaml": def("inner", "secrets: [KUBE_TOKEN]\nsteps:\n  - run: "+script+"\n"),
	}, func(o *executor.Options) { o.Secrets = map[string]string{"KUBE_TOKEN": "kube-s3cr3t", "MISSING": "x"} })

	for _, tc := range []struct {
		name      string
		noSecrets bool
		want      string
	}{
		{"with secrets", false, "token=[***] set=2"},
		{"without secrets", true, "token=[none] set=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.start(dayops.RunRequest{Definition: "outer", NoSecrets: tc.noSecrets,
				Trigger: dayops.TriggerPullRequest, Context: map[string]string{"pr.number": "7"}})
			if got := h.done(r.ID); got.State != dayops.RunSucceeded {
				t.Fatalf("run %d: %s %q", r.ID, got.State, got.Reason)
			}
			if got := h.done(r.ID); got.NoSecrets() != tc.noSecrets {
				t.Errorf("stored run NoSecrets() = %v, want %v (context %v)", got.NoSecrets(), tc.noSecrets, got.Context)
			}
			if logs := h.logs(r.ID); !strings.Contains(logs, "0 stdout: "+tc.want) {
				t.Errorf("outer step printed, want %q:\n%s", tc.want, logs)
			}
			children, err := h.store.Runs(context.Background(), dayops.RunFilter{Definition: "inner"})
			if err != nil || len(children) == 0 {
				t.Fatalf("no inner run: %v", err)
			}
			child := children[0]
			want := strings.Replace(tc.want, "set=2", "set=1", 1)
			if logs := h.logs(child.ID); !strings.Contains(logs, want) {
				t.Errorf("inner run %d printed, want %q:\n%s", child.ID, want, logs)
			}
		})
	}

	// Without secrets, one that is not configured does not stop it, and
	// the plan says it runs without them.
	h.opts.Secrets = nil
	e := h.newExecutor(h.opts)
	defer e.Close()
	plan, err := e.Plan(context.Background(), dayops.RunRequest{Definition: "outer", NoSecrets: true, Actor: actor("alice"), Thread: thread})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Secrets) != 0 || len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "it runs without secrets (KUBE_TOKEN, MISSING") {
		t.Errorf("plan secrets %v warnings %q", plan.Secrets, plan.Warnings)
	}
	plan, err = e.Plan(context.Background(), dayops.RunRequest{Definition: "outer", Actor: actor("alice"), Thread: thread})
	if err != nil || len(plan.Warnings) != 2 || !strings.Contains(plan.Warnings[0], "secret KUBE_TOKEN is not configured") {
		t.Errorf("a plan with its secrets unconfigured: %v %q", err, plan.Warnings)
	}
}
