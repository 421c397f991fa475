// Package alertmanager starts a real Prometheus Alertmanager for tests:
// Debian's prometheus-alertmanager on 127.0.0.1 and a free port, without a
// cluster port, with its own configuration and storage, and one route
// (group_wait and group_interval 1s) whose webhook receiver posts to the
// given URL with a bearer token. Alerts are fired and resolved with Debian's
// amtool, as an operator would.
//
// Start is for tests: every failure ends the test through testing.TB, and
// when the binaries are missing the test is skipped ("install
// prometheus-alertmanager"), except under CI=true, where it fails. Launch
// is for the bench.
package alertmanager

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binaries are what Debian's prometheus-alertmanager package installs.
const (
	ServerPath = "prometheus-alertmanager"
	ClientPath = "amtool"
)

// Options configure an Alertmanager.
type Options struct {
	WebhookURL string   // where the receiver posts (dayops's /hooks/alertmanager)
	Token      string   // the bearer token it sends
	GroupBy    []string // labels alerts are grouped by; default alertname and service
}

// Server is a running Alertmanager.
type Server struct {
	URL    string // http://127.0.0.1:PORT
	dir    string
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{} // closed once the process is waited for
}

// Need skips the test when the binaries are missing (fails under CI=true).
func Need(tb testing.TB) {
	tb.Helper()
	for _, bin := range []string{ServerPath, ClientPath} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				tb.Fatalf("%s is missing: CI must install prometheus-alertmanager (see .ci/run)", bin)
			}
			tb.Skipf("%s is missing: install prometheus-alertmanager (apt-get install -y prometheus-alertmanager) to run the Alertmanager tests", bin)
		}
	}
}

// Start starts an Alertmanager; it is stopped when the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	Need(tb)
	s, err := Launch(tb.TempDir(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// config is the Alertmanager configuration of opts.
func config(opts Options) string {
	groupBy := opts.GroupBy
	if len(groupBy) == 0 {
		groupBy = []string{"alertname", "service"}
	}
	return fmt.Sprintf(`route:
  receiver: dayops
  group_by: [%s]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: dayops
    webhook_configs:
      - url: %q
        send_resolved: true
        http_config:
          authorization:
            credentials: %q
`, strings.Join(groupBy, ", "), opts.WebhookURL, opts.Token)
}

// Launch starts an Alertmanager with its files in dir, for callers without
// a test (the bench); the caller must Stop it. A port taken between choosing
// and binding it is tried again.
func Launch(dir string, opts Options) (*Server, error) {
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(config(opts)), 0o600); err != nil {
		return nil, err
	}
	var last error
	for range 5 {
		s, err := launch(dir)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func launch(dir string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	log, err := os.Create(filepath.Join(dir, "alertmanager-"+strconv.Itoa(port)+".log"))
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), dir: dir, log: log}
	s.cmd = exec.Command(ServerPath, "--config.file="+filepath.Join(dir, "am.yml"),
		"--storage.path="+filepath.Join(dir, "data-"+strconv.Itoa(port)),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--cluster.listen-address=")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", ServerPath, err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func() { s.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log.Close()
			out, _ := os.ReadFile(log.Name())
			return nil, fmt.Errorf("%s exited at start:\n%s", ServerPath, tail(out))
		default:
		}
		if resp, err := http.Get(s.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	out, _ := os.ReadFile(log.Name())
	return nil, fmt.Errorf("%s was not ready within 15s:\n%s", ServerPath, tail(out))
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Fire fires an alert with labels ("name=value"), starting at start (now
// when zero), through amtool alert add.
func (s *Server) Fire(ctx context.Context, start time.Time, labels ...string) error {
	args := labels
	if !start.IsZero() {
		args = append([]string{"--start=" + start.UTC().Format(time.RFC3339)}, labels...)
	}
	return s.amtool(ctx, args...)
}

// Resolve ends the alert with labels now, through amtool alert add
// --end=now: Alertmanager then sends the group resolved.
func (s *Server) Resolve(ctx context.Context, start time.Time, labels ...string) error {
	args := []string{"--end=" + time.Now().UTC().Format(time.RFC3339)}
	if !start.IsZero() {
		args = append(args, "--start="+start.UTC().Format(time.RFC3339))
	}
	return s.amtool(ctx, append(args, labels...)...)
}

func (s *Server) amtool(ctx context.Context, args ...string) error {
	full := append([]string{"alert", "add", "--alertmanager.url=" + s.URL, "--no-version-check"}, args...)
	out, err := exec.CommandContext(ctx, ClientPath, full...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("amtool %s: %w: %s", strings.Join(full, " "), err, out)
	}
	return nil
}

// Log is what Alertmanager wrote so far, for failure messages.
func (s *Server) Log() string {
	out, _ := os.ReadFile(s.log.Name())
	return tail(out)
}

// Stop kills Alertmanager and waits for it.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
		}
	}
	s.log.Close()
}
