package executor_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

const (
	declaredSecret   = "p@ss w0rd/with+chars&more"
	undeclaredSecret = "other-undeclared-secret"
)

func secretForms(s string) []string {
	b := []byte(s)
	return []string{s, base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b), url.QueryEscape(s), url.PathEscape(s)}
}

func TestSecretsNeverStored(t *testing.T) {
	body := `
secrets: [KUBE_TOKEN]
steps:
  - id: leak
    name: Leak
    run: |
      urlencode() {
        local s="$1" i c
        for ((i = 0; i < ${#s}; i++)); do
          c=${s:i:1}
          case "$c" in
            [a-zA-Z0-9.~_-]) printf '%s' "$c" ;;
            ' ') printf '+' ;;
            *) printf '%%%02X' "'$c" ;;
          esac
        done
      }
      echo "plain: $DAYOPS_SECRET_KUBE_TOKEN"
      echo "base64: $(printf %s "$DAYOPS_SECRET_KUBE_TOKEN" | base64)"
      echo "url: $(urlencode "$DAYOPS_SECRET_KUBE_TOKEN")"
      echo "stderr: $DAYOPS_SECRET_KUBE_TOKEN" >&2
      echo "undeclared: other-undeclared-secret"
      # A secret across the point where a long line is split.
      printf 'a%.0s' $(seq 65530); echo "$DAYOPS_SECRET_KUBE_TOKEN and more"
      echo "token=$DAYOPS_SECRET_KUBE_TOKEN" >> "$DAYOPS_OUTPUT"
      echo "fails with $DAYOPS_SECRET_KUBE_TOKEN"
      exit 1
rollback:
  - name: Undo
    run: echo "undo with $(printf %s "$DAYOPS_SECRET_KUBE_TOKEN" | base64)"; exit 1
`
	h := newHarness(t, map[string]string{"s.yaml": def("leaky", body)}, func(o *executor.Options) {
		o.Secrets = map[string]string{"KUBE_TOKEN": declaredSecret, "OTHER": undeclaredSecret}
	})
	events, stop := h.exec.Events().Subscribe(1)
	defer stop()
	r := h.start(dayops.RunRequest{Definition: "leaky"})
	got := h.done(r.ID)
	if got.State != dayops.RunFailed || got.Rollback != dayops.RollbackFailed {
		t.Fatalf("state %s %s", got.State, got.Rollback)
	}
	logs := h.logs(r.ID)
	for _, want := range []string{"0 stdout: plain: ***", "0 stdout: base64: ***", "0 stdout: url: ***", "0 stderr: stderr: ***", "undeclared: ***", "*** and more"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, dayops.Truncate(logs, 2000))
		}
	}
	if !strings.Contains(got.Reason, "fails with ***") || got.Steps[0].Outputs["token"] != "***" {
		t.Errorf("reason %q outputs %v", got.Reason, got.Steps[0].Outputs)
	}
	h.close()

	var texts []string
	for _, ev := range h.notes.all() {
		texts = append(texts, fmt.Sprintf("%s %+v %+v", ev.Message, ev.Run, ev.Step))
	}
	for len(events) > 0 {
		ev := <-events
		texts = append(texts, fmt.Sprintf("%s %+v %+v %+v", ev.Message, ev.Run, ev.Step, ev.Line))
	}
	var files [][]byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(h.db + suffix); err == nil {
			files = append(files, b)
		}
	}
	if len(files) == 0 || len(texts) == 0 {
		t.Fatal("nothing to scan")
	}
	for _, secret := range []string{declaredSecret, undeclaredSecret} {
		for _, form := range secretForms(secret) {
			for i, b := range files {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("database file %d contains the secret form %q", i, form)
				}
			}
			for _, s := range texts {
				if strings.Contains(s, form) {
					t.Errorf("an event contains the secret form %q: %s", form, dayops.Truncate(s, 300))
				}
			}
		}
	}
}

func TestPlanMasksSecretsAndShowsChanges(t *testing.T) {
	h := newHarness(t, map[string]string{"deploy.yaml": deployWeb}, func(o *executor.Options) {
		o.Vars = map[string]string{"REGISTRY": "kube-s3cr3t-token-value"}
	})
	ctx := context.Background()
	src := strings.Replace(deployWeb, "IMAGE: registry/web:", "IMAGE: ${{ vars.REGISTRY }}/web:", 1)
	h.write(map[string]string{"deploy.yaml": src})
	req := dayops.RunRequest{Definition: "deploy-web", Environment: "production", Params: map[string]string{"version": "v1.2.0"}, Actor: actor("alice")}
	p, err := h.exec.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Env) != 1 || p.Env[0].Value != "***/web:v1.2.0" {
		t.Errorf("plan env %+v", p.Env)
	}
	if p.ConcurrencyKey != "deploy-web-production" || p.Approval == nil || p.Approval.Count != 1 ||
		strings.Join(p.Approvers, ",") != "console:bob,console:carol" || p.Hash == "" || p.Changes != "" {
		t.Errorf("plan %+v", p)
	}
	if p.Steps[1].Detail != `echo "deploying $DIGEST (step var $DAYOPS_STEP_BUILD_DIGEST)"` || len(p.Rollback) != 1 || !p.Rollback[0].Rollback {
		t.Errorf("planned steps %+v %+v", p.Steps, p.Rollback)
	}

	// A successful run, then a change of the definition: the plan shows it.
	r := h.start(dayops.RunRequest{Definition: "deploy-web", Environment: "production", Params: map[string]string{"version": "v1.2.0"}})
	if _, err := h.exec.Approve(ctx, r.ID, actor("bob"), thread); err != nil {
		t.Fatal(err)
	}
	if got := h.done(r.ID); got.State != dayops.RunSucceeded {
		t.Fatalf("%s %q", got.State, got.Reason)
	}
	h.write(map[string]string{"deploy.yaml": strings.Replace(src, "echo undo", "echo undo --all", 1)})
	p, err = h.exec.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.ChangesSince != r.Revision || !strings.Contains(p.Changes, "-    run: echo undo >> rolled-back.txt\n+    run: echo undo --all >> rolled-back.txt") {
		t.Errorf("changes since %s:\n%s", p.ChangesSince, p.Changes)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "x")); err == nil {
		t.Fatal("unexpected file")
	}
}
