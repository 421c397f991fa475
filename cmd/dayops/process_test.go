package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dayops/dayops/internal/testkit/postgres"
)

// asDayops, set in a child's environment, makes the test binary run Main
// with its arguments: a real second dayops process without a build.
const asDayops = "DAYOPS_TEST_AS_DAYOPS"

func TestMain(m *testing.M) {
	if os.Getenv(asDayops) == "1" {
		// As main does: SIGTERM and SIGINT cancel Main's context.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		io := IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
		code := Main(ctx, os.Args[1:], io)
		stop()
		os.Exit(code)
	}
	code := postgres.Run(m) // m.Run, then the PostgreSQL cluster of the db copy tests goes
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// dayopsProcess starts dayops ARGS… as a process of its own and returns it
// once a line of its output contains ready; the rest of its output is read
// into the returned channel when it ends.
func dayopsProcess(t *testing.T, ready string, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asDayops+"=1")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(stdout)
	seen := make(chan string, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := r.ReadString('\n')
			b.WriteString(line)
			if strings.Contains(line, ready) || err != nil {
				break
			}
		}
		seen <- b.String()
	}()
	var head string
	select {
	case head = <-seen:
	case <-time.After(time.Minute):
		t.Fatalf("dayops %v did not print %q within a minute", args, ready)
	}
	if !strings.Contains(head, ready) {
		t.Fatalf("dayops %v ended before printing %q:\n%s", args, ready, head)
	}
	rest := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		rest <- head + string(b)
	}()
	return cmd, rest
}
