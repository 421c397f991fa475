package executor_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/internal/testkit/sshd"
)

// sshTargets starts one sshd per name and returns targets for them, with a
// known_hosts file that has their keys.
func sshTargets(t *testing.T, names ...string) (*executor.Targets, map[string]*sshd.Server) {
	t.Helper()
	servers := map[string]*sshd.Server{}
	tg := &executor.Targets{Hosts: map[string]executor.Target{}, Groups: map[string][]string{},
		KnownHosts: filepath.Join(t.TempDir(), "known_hosts"), Keepalive: 500 * time.Millisecond, KeepaliveMisses: 3}
	var lines []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := sshd.Start(t)
			mu.Lock()
			defer mu.Unlock()
			servers[n] = s
		}()
	}
	wg.Wait()
	if len(servers) != len(names) {
		t.FailNow()
	}
	for _, n := range names {
		s := servers[n]
		tg.Hosts[n] = executor.Target{Host: s.Host, Port: s.Port, User: s.User, Key: s.ClientKey, KeyEnv: "DAYOPS_SSH_KEY_TEST"}
		lines = append(lines, s.KnownHostsLine)
	}
	if err := os.WriteFile(tg.KnownHosts, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tg, servers
}

// runRemote runs script on target and returns its stdout, stderr, exit
// code, outputs and error.
func runRemote(t *testing.T, ctx context.Context, r executor.Runner, target, script string, env ...string) (string, string, int, string, error) {
	t.Helper()
	p, err := r.Start(ctx, executor.ProcessSpec{Script: script, Env: env, Target: target, KillGrace: time.Second})
	if err != nil {
		return "", "", -1, "", err
	}
	var out, errOut []byte
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); out, _ = io.ReadAll(p.Stdout()) }()
	go func() { defer wg.Done(); errOut, _ = io.ReadAll(p.Stderr()) }()
	code, werr := p.Wait()
	wg.Wait()
	outputs, _, _ := p.Outputs(1 << 16)
	return string(out), string(errOut), code, string(outputs), werr
}

func TestSSHRunnerRunsAScript(t *testing.T) {
	tg, _ := sshTargets(t, "web-1")
	r, err := executor.NewSSHRunner(tg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, errOut, code, outputs, err := runRemote(t, context.Background(), r, "web-1",
		"echo \"hello $GREETING\"\necho oops >&2\necho v=1 >> \"$DAYOPS_OUTPUT\"\nexit 3\n", "GREETING=world", "PATH=/nonexistent")
	t.Logf("took %s", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	got := []any{out, errOut, code, outputs}
	if diff := cmp.Diff([]any{"hello world\n", "oops\n", 3, "v=1\n"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	_ = dayops.KindOf
}
