// Package sshd starts a real OpenSSH server for tests: Debian's
// /usr/sbin/sshd on 127.0.0.1 and a free port, with a generated ed25519 host
// key and client key, its own sshd_config and nothing of the machine's
// (no PAM, keys only, root may log in with a key). Each Server is one sshd
// with its own keys; its known_hosts line and client key are what a client
// needs.
//
// Start is for tests: every failure ends the test through testing.TB, and
// when sshd is not installed the test is skipped ("install openssh-server"),
// except under CI=true, where it fails. Launch is for the bench.
package sshd

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Path is where Debian's openssh-server installs the server.
const Path = "/usr/sbin/sshd"

// Server is a running sshd.
type Server struct {
	Host string // 127.0.0.1
	Port int
	User string // the user running the test, who may log in with ClientKey
	// ClientKey is the PEM (OpenSSH format) private key the server accepts;
	// ClientKeyFile holds it (0600), for OpenSSH's ssh -i.
	ClientKey     []byte
	ClientKeyFile string
	// HostKey is the server's public host key; KnownHostsLine is the
	// known_hosts line for it at this address.
	HostKey        ssh.PublicKey
	KnownHostsLine string
	Fingerprint    string // of HostKey: SHA256:…

	dir string
	cmd *exec.Cmd
}

// Need skips the test when sshd is missing (fails under CI=true).
func Need(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(Path); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is missing: CI must install openssh-server (see .ci/run)", Path)
		}
		tb.Skipf("%s is missing: install openssh-server (apt-get install -y openssh-server) to run the SSH tests", Path)
	}
}

// Start starts an sshd with fresh keys; it is stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	Need(tb)
	s, err := Launch(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Launch starts an sshd with fresh keys and its files in dir, for callers
// without a test (the bench); the caller must Stop it.
func Launch(dir string) (*Server, error) {
	if _, err := os.Stat(Path); err != nil {
		return nil, fmt.Errorf("%s is missing: install openssh-server (apt-get install -y openssh-server)", Path)
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	// sshd needs its privilege separation folder.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("creating /run/sshd for sshd: %w", err)
	}
	s := &Server{Host: "127.0.0.1", User: u.Username, dir: dir, ClientKeyFile: filepath.Join(dir, "client_key")}
	hostPub, hostPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	clientPub, clientPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	s.HostKey, s.ClientKey = hostPub, clientPEM
	for name, b := range map[string][]byte{"host_key": hostPEM, "client_key": clientPEM, "authorized_keys": ssh.MarshalAuthorizedKey(clientPub)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		if s.Port, err = freePort(); err != nil {
			return nil, err
		}
		if err = s.start(); err == nil {
			break
		} else if attempt == 4 {
			return nil, err
		}
	}
	s.Fingerprint = ssh.FingerprintSHA256(hostPub)
	s.KnownHostsLine = fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub))))
	return s, nil
}

func (s *Server) start() error {
	config := fmt.Sprintf(`ListenAddress %s
Port %d
HostKey %s
AuthorizedKeysFile %s
PidFile %s
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
X11Forwarding no
PrintMotd no
LogLevel ERROR
MaxStartups 100
MaxSessions 100
`, s.Host, s.Port, filepath.Join(s.dir, "host_key"), filepath.Join(s.dir, "authorized_keys"), filepath.Join(s.dir, "sshd.pid"))
	cfgPath := filepath.Join(s.dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(Path, "-D", "-e", "-f", cfgPath)
	log, err := os.Create(filepath.Join(s.dir, "sshd.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting sshd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	// Ready once it answers with its banner.
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case <-exited:
			b, _ := os.ReadFile(log.Name())
			return fmt.Errorf("sshd exited at start: %s", strings.TrimSpace(string(b)))
		default:
		}
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "SSH-2.0-") {
				s.cmd = cmd
				return nil
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("sshd on port %d did not answer within 5s", s.Port)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Pids are the server's processes: the listener and every sshd process
// under it (one or two per connection), not the commands they run.
func (s *Server) Pids() []int {
	if s.cmd == nil {
		return nil
	}
	root := s.cmd.Process.Pid
	parents := map[int]int{}
	names := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st := string(b)
		open, close := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(st[close+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parents[pid], names[pid] = ppid, st[open+1:close]
	}
	var out []int
	for pid := range parents {
		if names[pid] != "sshd" {
			continue
		}
		for p := pid; p > 1; p = parents[p] {
			if p == root {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// Signal sends sig to every process of Pids: SIGSTOP makes the server and
// its connections go silent, like a host behind a firewall that drops
// packets; SIGKILL ends them at once.
func (s *Server) Signal(sig syscall.Signal) {
	for _, pid := range s.Pids() {
		_ = syscall.Kill(pid, sig)
	}
}

// Stop ends the server and its connections.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	pids := s.Pids()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGCONT)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	s.cmd = nil
}

// OtherKnownHostsLine is a known_hosts line for this address with a key
// that is not the server's: what a client sees when someone is in between.
func (s *Server) OtherKnownHostsLine() string {
	pub, _, err := newKey()
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("[%s]:%d %s", s.Host, s.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))))
}

// NewKey returns a fresh ed25519 private key in OpenSSH's PEM format.
func NewKey(tb testing.TB) []byte {
	_, k, err := newKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// newKey makes an ed25519 key pair: the public key and the private key in
// OpenSSH's PEM format.
func newKey() (ssh.PublicKey, []byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, nil, err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return sp, pem.EncodeToMemory(block), nil
}

// freePort returns a port nothing listens on at the moment.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
