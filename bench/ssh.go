package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/internal/testkit/sshd"
)

// sshSteps is how many `true` steps one run on an SSH target has: each
// costs a connection, so a few are enough for a stable figure.
func sshSteps(cfg config) int { return max(cfg.Steps/10, 3) }

// sshFigures measures the start overhead of a step on an SSH target (a real
// sshd on 127.0.0.1) next to OpenSSH's client running `true` there.
func sshFigures(ctx context.Context, cfg config, dir string) ([]Row, error) {
	client, err := exec.LookPath("ssh")
	if err != nil {
		return nil, fmt.Errorf("bench needs OpenSSH's client (apt-get install -y openssh-client): %w", err)
	}
	srvDir := filepath.Join(dir, "sshd")
	if err := os.Mkdir(srvDir, 0o700); err != nil {
		return nil, err
	}
	srv, err := sshd.Launch(srvDir)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, []byte(srv.KnownHostsLine+"\n"), 0o600); err != nil {
		return nil, err
	}
	n := sshSteps(cfg)
	steps := strings.ReplaceAll(trueSteps(n), "    run:", "    on: bench-host\n    run:")
	h, err := newHarnessWith(ctx, filepath.Join(dir, "exec"), map[string]string{"ssh.yaml": definition("ssh-true", steps)},
		func(o *executor.Options) {
			o.Targets = &executor.Targets{KnownHosts: known, Hosts: map[string]executor.Target{
				"bench-host": {Host: srv.Host, Port: srv.Port, User: srv.User, Key: srv.ClientKey, KeyEnv: "DAYOPS_SSH_KEY_BENCH"}}}
		})
	if err != nil {
		return nil, err
	}
	defer h.close()
	openssh := func() (float64, error) {
		ns, err := timed(func() error {
			for range n {
				out, err := exec.CommandContext(ctx, client, "-F", "/dev/null", "-i", srv.ClientKeyFile, "-p", strconv.Itoa(srv.Port),
					"-o", "UserKnownHostsFile="+known, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
					srv.User+"@"+srv.Host, "true").CombinedOutput()
				if err != nil {
					return fmt.Errorf("ssh %s true: %w: %s", srv.Addr(), err, strings.TrimSpace(string(out)))
				}
			}
			return nil
		})
		return ns / float64(n), err
	}
	// One of each first: the page cache, the database, sshd's first fork.
	if _, _, err := h.runToEnd(ctx, "ssh-true", nil); err != nil {
		return nil, err
	}
	if _, err := openssh(); err != nil {
		return nil, err
	}
	var perStep, viaSSH []float64
	for range cfg.SlowReps {
		ns, run, err := h.runToEnd(ctx, "ssh-true", nil)
		if err != nil {
			return nil, err
		}
		if len(run.Steps) != n {
			return nil, fmt.Errorf("run %d has %d steps, want %d", run.ID, len(run.Steps), n)
		}
		perStep = append(perStep, ns/float64(n))
		ns, err = openssh()
		if err != nil {
			return nil, err
		}
		viaSSH = append(viaSSH, ns)
	}
	row := Row{ID: "ssh-step-overhead", Kind: kindTime,
		Figure:   fmt.Sprintf("step start over SSH: run of %d `true` steps on a target / %d", n, n),
		Value:    median(perStep),
		Baseline: "ssh host true (OpenSSH)", Base: median(viaSSH),
		Note: "sshd on 127.0.0.1; each step is a new connection (handshake, key check against known_hosts, keepalives), " +
			"a session for the script and one to fetch $DAYOPS_OUTPUT, recorded through SQLite; `ssh` is one connection and one session",
	}
	return []Row{row}, nil
}
