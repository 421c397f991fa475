package executor_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

// fakePEM is a made-up key (not a real one) in the shape of a PEM file.
const fakePEM = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBmYWtla2V5ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZQAAAJgAAAAAAAAA
AAAAAAtzc2gtZWQyNTUxOQAAACBmYWtla2V5ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZQ
-----END OPENSSH PRIVATE KEY-----
`

// TestMultiLineSecretsNeverStored sends a PEM key and a token ending in a
// newline through everything a step can reach: its output (plain, wrapped
// base64, quoted in YAML), its outputs, its failure message (the run's
// reason and the step's error) and the rollback. No line of either is in the
// database file or its WAL, nor in any event.
func TestMultiLineSecretsNeverStored(t *testing.T) {
	token := "ghp_tokenReadFromAFile42\n"
	body := `
secrets: [SSH_KEY, TOKEN]
steps:
  - id: leak
    name: Leak
    run: |
      echo "the key:"
      printf '%s' "$DAYOPS_SECRET_SSH_KEY"
      printf '%s' "$DAYOPS_SECRET_SSH_KEY" | base64
      printf '%s' "$DAYOPS_SECRET_SSH_KEY" | base64 -w 64
      printf 'key: |\n'; printf '%s' "$DAYOPS_SECRET_SSH_KEY" | sed 's/^/  /'
      printf 'token is %s ok\n' "$DAYOPS_SECRET_TOKEN"
      printf 'token=%s' "$DAYOPS_SECRET_TOKEN" >> "$DAYOPS_OUTPUT"
      printf '%s' "$DAYOPS_SECRET_SSH_KEY" | sed -n 3p >&2
      exit 3
rollback:
  - name: Undo
    run: printf '%s' "$DAYOPS_SECRET_SSH_KEY" | tail -n 2 | head -n 1; exit 1
`
	h := newHarness(t, map[string]string{"s.yaml": def("pem", body)}, func(o *executor.Options) {
		o.Secrets = map[string]string{"SSH_KEY": fakePEM, "TOKEN": token}
	})
	events, stop := h.exec.Events().Subscribe(1)
	defer stop()
	r := h.start(dayops.RunRequest{Definition: "pem"})
	got := h.done(r.ID)
	if got.State != dayops.RunFailed {
		t.Fatalf("state %s: %s", got.State, got.Reason)
	}
	logs := h.logs(r.ID)
	if !strings.Contains(logs, "token is ***\n") || !strings.Contains(logs, "the key:") || strings.Count(logs, "***") < 12 {
		t.Errorf("the step's output is not there, masked:\n%s", logs)
	}
	if got.Steps[0].Outputs["token"] != "***" || !strings.Contains(got.Reason, "last lines:") {
		t.Errorf("outputs %v, reason %q", got.Steps[0].Outputs, got.Reason)
	}
	h.close()

	texts := []string{logs, got.Reason}
	for _, st := range got.Steps {
		texts = append(texts, st.Error)
	}
	for len(events) > 0 {
		ev := <-events
		texts = append(texts, fmt.Sprintf("%s %+v %+v %+v", ev.Message, ev.Run, ev.Step, ev.Line))
	}
	for _, ev := range h.notes.all() {
		texts = append(texts, fmt.Sprintf("%s %+v %+v", ev.Message, ev.Run, ev.Step))
	}
	var files [][]byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(h.db + suffix); err == nil {
			files = append(files, b)
		}
	}
	lines := strings.Split(strings.TrimSpace(fakePEM), "\n")
	secrets := append(lines[1:len(lines)-1], strings.TrimSpace(token))
	for _, s := range secrets {
		for i, b := range files {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("database file %d contains %q", i, s)
			}
		}
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("%q reached: %s", s, dayops.Truncate(text, 300))
			}
		}
	}
}
