package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/dayops/dayops"
)

// remoteWrapper is the program the SSH runner starts on a target, always
// this same text: `bash -c WRAPPER dayops-step ID HEARD GRACE`, where ID is
// a random hex name of the step's private folder, HEARD how many seconds the
// wrapper waits to hear from dayops, and GRACE the seconds between SIGTERM
// and SIGKILL. It reads from its input, as data: NAME=VALUE entries ending
// in NUL, an empty entry, then the script ending in NUL. It writes the
// script to its folder and starts it with those variables only (and the
// host's HOME, USER, LOGNAME and PATH), `bash -eo pipefail`, under setsid,
// so that the script and what it starts are one process group. Then it
// reads control lines: "." (dayops is there), a signal name for the group.
// When its input ends or stays silent for HEARD seconds, dayops or its
// connection is gone: the group gets SIGTERM, and SIGKILL after GRACE. When
// the script ends, whatever it left running is killed. It exits with the
// script's status (128+N when killed by signal N). It holds no single
// quote, so that it can be quoted for the remote shell as it is. (A
// background command's input is /dev/null unless redirected: hence <&0.)
const remoteWrapper = `d="${TMPDIR:-/tmp}/dayops-$1"; heard=$2; grace=$3
umask 077
mkdir -- "$d" || exit 125
envs=()
while IFS= read -r -d "" kv; do
  [ -z "$kv" ] && break
  envs+=("$kv")
done
IFS= read -r -d "" script
printf "%s" "$script" > "$d/script"
: > "$d/output"
cd 2>/dev/null || cd /
env -i -- "HOME=${HOME:-/}" "USER=${USER:-$(id -un)}" "LOGNAME=${LOGNAME:-$(id -un)}" "PATH=${PATH:-/usr/bin:/bin}" "${envs[@]}" "TMPDIR=$d" "DAYOPS_OUTPUT=$d/output" setsid bash --noprofile --norc -eo pipefail "$d/script" </dev/null &
pid=$!
(
  while :; do
    if IFS= read -r -t "$heard" c; then
      case $c in
        TERM|KILL|INT|HUP|QUIT|USR1|USR2)
          [ "$c" = TERM ] && : > "$d/cancel"
          kill -s "$c" -- "-$pid" 2>/dev/null || kill -s "$c" "$pid" 2>/dev/null ;;
      esac
    else
      : > "$d/lost"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
      sleep "$grace"
      kill -KILL -- "-$pid" 2>/dev/null
      exit 0
    fi
  done
) <&0 >/dev/null 2>&1 &
w=$!
wait "$pid"; code=$?
if [ -e "$d/cancel" ] || [ -e "$d/lost" ]; then
  n=0
  while kill -0 -- "-$pid" 2>/dev/null && [ "$n" -lt "$((grace * 10))" ]; do sleep 0.1; n=$((n + 1)); done
fi
kill -KILL -- "-$pid" 2>/dev/null
kill "$w" 2>/dev/null
[ -e "$d/lost" ] && rm -rf -- "$d"
exit "$code"
`

// remoteCollect prints at most N bytes of the step's $DAYOPS_OUTPUT and
// removes its folder: `bash -c COLLECT dayops-out ID N`.
const remoteCollect = `d="${TMPDIR:-/tmp}/dayops-$1"; head -c "$2" -- "$d/output" 2>/dev/null; rm -rf -- "$d"`

// remoteCommand is the command line of a session: bash with program and its
// arguments (hex and numbers only), quoted for the user's login shell.
func remoteCommand(program string, args ...string) string {
	return "exec bash --noprofile --norc -c '" + program + "' " + strings.Join(args, " ")
}

// remoteHeldEnv are the variables a remote step takes from its host, not
// from dayops: the host's own HOME, USER, LOGNAME and PATH, and the
// step's folder there.
var remoteHeldEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "DAYOPS_OUTPUT"}

// Start starts spec on the target spec.Target.
func (r *SSHRunner) Start(ctx context.Context, spec ProcessSpec) (Process, error) {
	if spec.Target == "" {
		return nil, errors.New("ssh runner: the step names no target")
	}
	client, err := r.dial(ctx, spec.Target)
	if err != nil {
		return nil, err
	}
	t := r.targets.Hosts[spec.Target]
	p := &sshProcess{client: client, name: spec.Target, addr: t.addr(), control: make(chan string, 16),
		done: make(chan struct{}), finished: make(chan struct{}), grace: spec.KillGrace, tick: min(r.keepalive/2, time.Second)}
	if p.grace <= 0 {
		p.grace = 5 * time.Second
	}
	fail := func(what string, err error) (Process, error) {
		client.Close()
		return nil, dayops.Errorf(dayops.KindUnavailable, "%s on %s (%s): %s", what, p.name, p.addr, strings.TrimPrefix(err.Error(), "ssh: "))
	}
	if p.sess, err = client.NewSession(); err != nil {
		return fail("opening a session", err)
	}
	stdin, err := p.sess.StdinPipe()
	if err != nil {
		return fail("opening a session", err)
	}
	if p.stdout, err = p.sess.StdoutPipe(); err != nil {
		return fail("opening a session", err)
	}
	if p.stderr, err = p.sess.StderrPipe(); err != nil {
		return fail("opening a session", err)
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	p.id = hex.EncodeToString(id)
	heard := max(int(math.Ceil((r.keepalive * time.Duration(r.misses+1)).Seconds())), 2)
	cmd := remoteCommand(remoteWrapper, "dayops-step", p.id, fmt.Sprint(heard), fmt.Sprint(int(math.Ceil(p.grace.Seconds()))))
	if err := p.sess.Start(cmd); err != nil {
		return fail("starting the step", err)
	}
	var pre bytes.Buffer
	for _, kv := range spec.Env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "" || containsString(remoteHeldEnv, k) {
			continue
		}
		pre.WriteString(strings.ReplaceAll(kv, "\x00", ""))
		pre.WriteByte(0)
	}
	pre.WriteByte(0)
	pre.WriteString(strings.ReplaceAll(spec.Script, "\x00", ""))
	pre.WriteByte(0)
	go p.feed(stdin, pre.Bytes())
	go p.keepalive(r.keepalive, r.misses)
	p.stopCtx = context.AfterFunc(ctx, p.cancel)
	return p, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sshProcess is a step running on a target.
type sshProcess struct {
	client         *ssh.Client
	sess           *ssh.Session
	name, addr, id string
	stdout, stderr io.Reader
	control        chan string // lines for the wrapper's input
	grace          time.Duration
	tick           time.Duration // how often the wrapper hears "."
	stopCtx        func() bool
	done           chan struct{} // closed when the session ended
	finished       chan struct{} // closed when Wait has read the outputs

	mu        sync.Mutex
	lost      string // why the connection counts as lost
	cancelled bool

	once    sync.Once
	code    int
	waitErr error
	outputs []byte
	outErr  error
}

func (p *sshProcess) Stdout() io.Reader { return p.stdout }
func (p *sshProcess) Stderr() io.Reader { return p.stderr }

// feed writes the preamble, then control lines and a "." every tick, to
// the wrapper's input; writes may block on a dead connection, so they
// happen here and nowhere else.
func (p *sshProcess) feed(w io.WriteCloser, preamble []byte) {
	defer w.Close()
	if _, err := w.Write(preamble); err != nil {
		return
	}
	t := time.NewTicker(p.tick)
	defer t.Stop()
	for {
		line := "."
		select {
		case <-p.done:
			return
		case line = <-p.control:
		case <-t.C:
		}
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return
		}
	}
}

// send queues a control line; it never blocks.
func (p *sshProcess) send(line string) {
	select {
	case p.control <- line:
	default:
	}
}

// keepalive asks the host for an answer every interval; after misses
// unanswered in a row it closes the connection as lost.
func (p *sshProcess) keepalive(interval time.Duration, misses int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	answered := make(chan error, 1)
	waiting, missed := false, 0
	for {
		select {
		case <-p.done:
			return
		case err := <-answered:
			waiting, missed = false, 0
			if err != nil {
				p.loseConnection("it ended")
				return
			}
			continue
		case <-t.C:
		}
		if waiting {
			missed++
			if missed >= misses {
				p.loseConnection(fmt.Sprintf("no answer to %d keepalives in %s", missed, (interval * time.Duration(missed+1)).Round(time.Millisecond)))
				return
			}
			continue
		}
		waiting = true
		go func() {
			_, _, err := p.client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
	}
}

func (p *sshProcess) loseConnection(why string) {
	p.mu.Lock()
	if p.lost == "" {
		p.lost = why
	}
	p.mu.Unlock()
	p.client.Close()
}

// cancel stops the step when its context ends: SIGTERM to the remote group,
// SIGKILL after the grace period, and the connection is dropped if the
// session has not ended a few seconds after that.
func (p *sshProcess) cancel() {
	p.mu.Lock()
	p.cancelled = true
	p.mu.Unlock()
	p.send("TERM")
	go func() {
		select {
		case <-p.done:
			return
		case <-time.After(p.grace):
		}
		p.send("KILL")
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.loseConnection(fmt.Sprintf("the step did not end %s after SIGKILL", 5*time.Second))
		}
	}()
}

// Signal sends sig to the step's process group on the target.
func (p *sshProcess) Signal(sig syscall.Signal) error {
	names := map[syscall.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGKILL: "KILL", syscall.SIGINT: "INT",
		syscall.SIGHUP: "HUP", syscall.SIGQUIT: "QUIT", syscall.SIGUSR1: "USR1", syscall.SIGUSR2: "USR2"}
	name, ok := names[sig]
	if !ok {
		return fmt.Errorf("signal %v cannot be sent to a step on %s", sig, p.name)
	}
	p.send(name)
	return nil
}

// Wait waits for the remote step to end, then fetches its $DAYOPS_OUTPUT
// and removes its folder on the target.
func (p *sshProcess) Wait() (int, error) {
	p.once.Do(func() {
		err := p.sess.Wait()
		close(p.done)
		p.stopCtx()
		p.code, p.waitErr = p.exit(err)
		if p.waitErr == nil {
			p.collect()
		}
		p.client.Close()
		close(p.finished)
	})
	return p.code, p.waitErr
}

// exit turns the session's end into an exit code, or the reason the
// connection was lost.
func (p *sshProcess) exit(err error) (int, error) {
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.Signal() != "":
		return 128 + signalNumber(ee.Signal()), nil
	case errors.As(err, &ee):
		return ee.ExitStatus(), nil
	}
	p.mu.Lock()
	lost, cancelled := p.lost, p.cancelled
	p.mu.Unlock()
	var missing *ssh.ExitMissingError
	switch {
	case lost != "":
	case errors.As(err, &missing):
		lost = "it ended before the step did"
	default:
		lost = strings.TrimPrefix(err.Error(), "ssh: ")
	}
	msg := fmt.Sprintf("connection to %s (%s) lost: %s", p.name, p.addr, lost)
	if cancelled {
		msg += "; the host stops the step by itself when it hears nothing from dayops"
	}
	return -1, dayops.Errorf(dayops.KindUnavailable, "%s", msg)
}

// signalNumbers are the signals a session's exit-signal names.
var signalNumbers = map[string]syscall.Signal{"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"ILL": syscall.SIGILL, "ABRT": syscall.SIGABRT, "FPE": syscall.SIGFPE, "KILL": syscall.SIGKILL, "SEGV": syscall.SIGSEGV,
	"PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2}

func signalNumber(name string) int { return int(signalNumbers[name]) }

// collect reads the step's outputs from the target in a second session.
func (p *sshProcess) collect() {
	s, err := p.client.NewSession()
	if err != nil {
		p.outErr = fmt.Errorf("reading $DAYOPS_OUTPUT on %s: %w", p.name, err)
		return
	}
	defer s.Close()
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	if err := s.Run(remoteCommand(remoteCollect, "dayops-out", p.id, fmt.Sprint(maxOutputsRead))); err != nil {
		p.outErr = fmt.Errorf("reading $DAYOPS_OUTPUT on %s: %w: %s", p.name, err, dayops.Truncate(errOut.String(), 200))
		return
	}
	p.outputs = out.Bytes()
}

// Outputs returns what the step wrote to $DAYOPS_OUTPUT on the target.
func (p *sshProcess) Outputs(limit int) ([]byte, bool, error) {
	<-p.finished
	if p.outErr != nil {
		return nil, false, p.outErr
	}
	if len(p.outputs) > limit {
		return p.outputs[:limit], true, nil
	}
	return p.outputs, false, nil
}
