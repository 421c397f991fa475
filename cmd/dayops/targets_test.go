package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops/internal/testkit/sshd"
)

// TestRunAndPlanOnSSHTargets: with --config, plan shows the hosts of a step
// with on: and run runs it there over SSH with the configuration's targets
// and the key from the environment; logs show the host of each line.
func TestRunAndPlanOnSSHTargets(t *testing.T) {
	s := sshd.Start(t)
	dir := writeDefs(t, map[string]string{
		"r.yaml": "apiVersion: dayops/v1\nphase: day2\nname: restart\nsteps:\n  - name: Restart\n    on: web\n    run: echo \"hello from $USER\"\n",
	})
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, []byte(s.KnownHostsLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "dayops.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "targets:\n  web-1: {host: %s, port: %d, user: %s, key_env: DAYOPS_SSH_KEY_WEB}\n  web: [web-1]\nssh: {known_hosts: %s}\n",
		s.Host, s.Port, s.User, known), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DAYOPS_SSH_KEY_WEB": string(s.ClientKey)}
	cli := func(args ...string) (int, string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out, errOut bytes.Buffer
		code := Main(ctx, args, IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
		return code, out.String(), errOut.String()
	}
	db := filepath.Join(t.TempDir(), "d.db")

	code, out, stderr := cli("plan", "restart", "--dir", dir, "--config", cfg)
	if code != exitOK || !strings.Contains(out, "on web (web-1): echo \"hello from $USER\"") {
		t.Errorf("plan: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = cli("plan", "restart", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "warning: step Restart: on: web needs SSH targets, and the server configuration has none") {
		t.Errorf("plan without --config: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = cli("run", "restart", "--dir", dir, "--config", cfg, "--database", db)
	if code != exitOK || !strings.Contains(out, "[web-1] hello from "+s.User) {
		t.Fatalf("run: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = cli("logs", "1", "--database", db)
	if code != exitOK || !strings.Contains(out, "[web-1] hello from "+s.User) || !strings.Contains(out, "web-1: succeeded") {
		t.Errorf("logs: exit %d\n%s", code, out)
	}

	// Without the key in the environment, the configuration says so.
	delete(env, "DAYOPS_SSH_KEY_WEB")
	code, _, stderr = cli("run", "restart", "--dir", dir, "--config", cfg, "--database", db)
	if code == exitOK || !strings.Contains(stderr, "DAYOPS_SSH_KEY_WEB") {
		t.Errorf("run without the key: exit %d, %q", code, stderr)
	}
}
