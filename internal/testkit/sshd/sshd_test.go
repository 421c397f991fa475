package sshd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStart: the server is up in well under a second, OpenSSH's client
// logs in with the client key while checking the host key strictly against
// KnownHostsLine, and Stop leaves none of its processes.
func TestStart(t *testing.T) {
	start := time.Now()
	s := Start(t)
	took := time.Since(start)
	t.Logf("sshd up in %s", took)
	if took > time.Second {
		t.Errorf("sshd took %s to start", took)
	}
	client, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("ssh (openssh-client) is not installed")
	}
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, []byte(s.KnownHostsLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(client, "-F", "/dev/null", "-i", s.ClientKeyFile, "-p", strconv.Itoa(s.Port),
		"-o", "UserKnownHostsFile="+known, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
		s.User+"@"+s.Host, "echo logged in as $(id -un)").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "logged in as "+s.User {
		t.Fatalf("ssh: %v: %s", err, out)
	}
	pids := s.Pids()
	if len(pids) == 0 {
		t.Fatal("no sshd process found")
	}
	s.Stop()
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && !zombie(pid) {
			if time.Now().After(deadline) {
				t.Errorf("sshd process %d runs after Stop", pid)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] == 'Z'
}
