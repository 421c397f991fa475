package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Runner starts the process of a run: step. The local runner starts bash on
// this machine; another runner (SSH, a cluster job) is a new implementation of
// this interface, not a change to the engine: it starts the step, hands back
// its output streams and the outputs it wrote, and cleans up after a dayops
// process that died while its steps ran.
type Runner interface {
	// Start starts spec. When ctx is done the runner terminates the whole
	// process (SIGTERM, then SIGKILL after spec.KillGrace). A step's
	// processes must not outlive the dayops process that started them by
	// more than a few seconds, even when it is killed with SIGKILL.
	Start(ctx context.Context, spec ProcessSpec) (Process, error)
	// KillLeftovers kills what the steps of run runID left running when
	// their dayops process, owner, died. It is called only for an owner that
	// is gone. It reports how many processes it killed and how many still
	// run after that.
	KillLeftovers(runID int64, owner string) (killed, survived int, err error)
}

// ProcessSpec is what a step process is started with.
type ProcessSpec struct {
	Script    string        // bash script text, only ever from a definition
	Dir       string        // working directory: the ops repo at the run's revision
	Env       []string      // the complete environment, KEY=VALUE; nothing is inherited
	KillGrace time.Duration // between SIGTERM and SIGKILL
	// TempDir is the run's private folder: the runner keeps the step's
	// $DAYOPS_OUTPUT file there (empty: the system's temporary folder).
	TempDir string
	// RunAs, when set, is the OS user and group the step runs as (dayops
	// must run as root to use it); TempDir is handed over to that user.
	RunAs *syscall.Credential
	// Target, for the SSH runner, is the target the step runs on; Dir,
	// TempDir and RunAs are then not used (the step runs in the remote
	// user's home, with a private folder there as TMPDIR).
	Target string
}

// Process is a started step process. The caller must read Stdout and Stderr
// to their end while it calls Wait, or the process blocks on a full pipe.
type Process interface {
	Stdout() io.Reader
	Stderr() io.Reader
	// Signal sends sig to every process of the step (its process group).
	Signal(sig syscall.Signal) error
	// Wait waits for the process to exit, kills whatever it left running, and
	// returns once its output streams have ended. The exit code is 128+N when
	// the process was killed by signal N.
	Wait() (exitCode int, err error)
	// Outputs returns, after Wait, at most limit bytes of what the step wrote
	// to $DAYOPS_OUTPUT (its key=value lines), and whether it wrote more.
	Outputs(limit int) (b []byte, more bool, err error)
}

// LocalRunner runs steps as local processes: `bash --noprofile --norc -eo
// pipefail -c SCRIPT` in a process group of its own, registered with this
// process's step watcher (see watcherScript), which kills the group if dayops
// dies while it runs.
type LocalRunner struct {
	// Bash is the path of bash; empty means the one found on PATH.
	Bash string
}

var lookBash = sync.OnceValues(func() (string, error) { return exec.LookPath("bash") })

// drainLimit bounds how much output is still read from a step after its
// process group is gone, in case a process that left the group keeps writing.
const drainLimit = 1 << 20

// Start starts spec as a local process.
func (r LocalRunner) Start(ctx context.Context, spec ProcessSpec) (Process, error) {
	bash := r.Bash
	if bash == "" {
		var err error
		if bash, err = lookBash(); err != nil {
			return nil, fmt.Errorf("finding bash: %w", err)
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("creating stderr pipe: %w", err)
	}
	grace := spec.KillGrace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	outPath, err := outputFile(spec)
	if err != nil {
		closeAll(outR, outW, errR, errW)
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", spec.Script)
	cmd.Dir = spec.Dir
	// nil would inherit the server's environment: always a list of our own.
	cmd.Env = append(slices.DeleteFunc(slices.Clone(spec.Env), func(kv string) bool {
		return strings.HasPrefix(kv, "DAYOPS_OUTPUT=")
	}), "DAYOPS_OUTPUT="+outPath)
	cmd.Stdout = outW
	cmd.Stderr = errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: spec.RunAs}
	p := &localProcess{cmd: cmd, grace: grace, done: make(chan struct{}), outPath: outPath}
	p.out = &pipeReader{f: outR, eof: make(chan struct{})}
	p.err = &pipeReader{f: errR, eof: make(chan struct{})}
	cmd.Cancel = func() error {
		p.termAt.Store(time.Now().UnixNano())
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
		return nil
	}
	cmd.WaitDelay = grace
	if err := cmd.Start(); err != nil {
		os.Remove(outPath)
		closeAll(outR, outW, errR, errW)
		return nil, fmt.Errorf("starting bash: %w", err)
	}
	// The child has its copies; ours must be closed so that the readers see
	// the end of the output when the step's processes are gone.
	outW.Close()
	errW.Close()
	if err := stepWatcher.add(bash, cmd.Process.Pid); err != nil {
		// Unsupervised, the step could outlive dayops: do not run it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		closeAll(outR, errR)
		os.Remove(outPath)
		return nil, err
	}
	p.watched = true
	return p, nil
}

// outputFile creates a step's $DAYOPS_OUTPUT, 0600, in the run's folder
// (or the system's temporary folder when there is none); with RunAs, the
// folder and the file are handed to that user.
func outputFile(spec ProcessSpec) (string, error) {
	f, err := os.CreateTemp(spec.TempDir, "output-")
	if err != nil {
		return "", fmt.Errorf("creating the $DAYOPS_OUTPUT file: %w", err)
	}
	f.Close()
	if c := spec.RunAs; c != nil {
		err := os.Chown(f.Name(), int(c.Uid), int(c.Gid))
		if err == nil && spec.TempDir != "" {
			err = os.Chown(spec.TempDir, int(c.Uid), int(c.Gid))
		}
		if err != nil {
			os.Remove(f.Name())
			return "", fmt.Errorf("handing the step's files to uid %d: %w", c.Uid, err)
		}
	}
	return f.Name(), nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		f.Close()
	}
}

type localProcess struct {
	cmd      *exec.Cmd
	outPath  string // $DAYOPS_OUTPUT
	outputs  []byte // what the step wrote there, read by Wait
	outErr   error
	watched  bool // registered with the step watcher
	grace    time.Duration
	termAt   atomic.Int64 // unix nanos of the SIGTERM sent on cancellation
	out, err *pipeReader
	once     sync.Once
	done     chan struct{}
	code     int
	waitErr  error
}

func (p *localProcess) Stdout() io.Reader { return p.out }
func (p *localProcess) Stderr() io.Reader { return p.err }

func (p *localProcess) Signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling process group %d: %w", p.cmd.Process.Pid, err)
	}
	return nil
}

func (p *localProcess) Wait() (int, error) {
	p.once.Do(func() {
		defer close(p.done)
		p.code, p.waitErr = p.wait()
	})
	<-p.done
	return p.code, p.waitErr
}

func (p *localProcess) wait() (int, error) {
	err := p.cmd.Wait()
	pgid := p.cmd.Process.Pid
	if t := p.termAt.Load(); t != 0 {
		// Cancelled: the group had SIGTERM; give what is left of it the rest
		// of the grace period before SIGKILL.
		deadline := time.Unix(0, t).Add(p.grace)
		for groupAlive(pgid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Whatever the step left behind (a `sleep 300 &`) dies with it.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if p.watched {
		stepWatcher.remove(pgid)
	}

	// The output ends when the last writer is gone. A process that left the
	// group could hold the pipe open for ever: after a grace period, read only
	// what is already buffered, then stop.
	drained := make(chan struct{})
	go func() {
		<-p.out.eof
		<-p.err.eof
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(p.grace):
		p.out.stopBlocking()
		p.err.stopBlocking()
		<-drained
	}
	p.out.f.Close()
	p.err.f.Close()
	p.readOutputFile()

	code := -1
	if st := p.cmd.ProcessState; st != nil {
		code = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
		return code, fmt.Errorf("waiting for step process: %w", err)
	}
	return code, nil
}

// Outputs returns what the step wrote to its $DAYOPS_OUTPUT file, which
// Wait read (at most maxOutputsRead bytes, so more is reported only for a
// limit below that) and removed. It must be called after Wait.
func (p *localProcess) Outputs(limit int) ([]byte, bool, error) {
	<-p.done
	if p.outErr != nil {
		return nil, false, p.outErr
	}
	if len(p.outputs) > limit {
		return p.outputs[:limit], true, nil
	}
	return p.outputs, false, nil
}

// maxOutputsRead is how much of a $DAYOPS_OUTPUT file Wait reads: one byte
// more than the executor reads, so it can tell the step wrote too much.
const maxOutputsRead = maxOutputFile + 1

// readOutputFile reads and removes the step's $DAYOPS_OUTPUT file.
func (p *localProcess) readOutputFile() {
	defer os.Remove(p.outPath)
	f, err := os.Open(p.outPath)
	if errors.Is(err, os.ErrNotExist) {
		return // the step removed it
	}
	if err != nil {
		p.outErr = fmt.Errorf("reading $DAYOPS_OUTPUT: %w", err)
		return
	}
	defer f.Close()
	if p.outputs, err = io.ReadAll(io.LimitReader(f, maxOutputsRead)); err != nil {
		p.outErr = fmt.Errorf("reading $DAYOPS_OUTPUT: %w", err)
	}
}

// pipeReader is the read end of a step's stdout or stderr. It reports its end
// on eof, and after stopBlocking returns only what is already buffered.
type pipeReader struct {
	f       *os.File
	eof     chan struct{}
	once    sync.Once
	stopped atomic.Bool
	after   int // bytes read after stopBlocking; only the reading goroutine touches it
}

func (r *pipeReader) Read(b []byte) (int, error) {
	var n int
	var err error
	if r.stopped.Load() {
		n, err = r.readBuffered(b)
	} else {
		n, err = r.f.Read(b)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// stopBlocking woke a read that waited for more: what the step
			// wrote before it ended is still in the pipe.
			n, err = r.readBuffered(b)
		}
	}
	if r.stopped.Load() {
		r.after += n
		if r.after > drainLimit {
			err = io.EOF
		}
	}
	if err != nil {
		r.once.Do(func() { close(r.eof) })
		return n, io.EOF
	}
	return n, nil
}

// readBuffered reads what the pipe holds without waiting for more: io.EOF
// when it is empty. It does not go through the file's Read, which fails at
// once, buffered data or not, once the read deadline has passed.
func (r *pipeReader) readBuffered(b []byte) (int, error) {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return 0, io.EOF
	}
	var n int
	var rerr error
	// The descriptor is non-blocking: an empty pipe with a writer left gives
	// EAGAIN, one without a writer 0.
	cerr := rc.Control(func(fd uintptr) {
		for {
			n, rerr = syscall.Read(int(fd), b)
			if rerr != syscall.EINTR {
				return
			}
		}
	})
	if cerr != nil || rerr != nil || n <= 0 {
		return 0, io.EOF
	}
	return n, nil
}

// stopBlocking makes reads return what is buffered instead of waiting for
// more, and wakes a read that waits.
func (r *pipeReader) stopBlocking() {
	r.stopped.Store(true)
	_ = r.f.SetReadDeadline(time.Now())
}

// groupAlive reports whether process group pgid has a process that is not a
// zombie. Zombies count as gone: they run nothing, and an init that does not
// reap promptly must not make a step look alive.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := procStat(pid)
		if err != nil {
			continue
		}
		if st.pgrp == pgid && st.state != "Z" && st.state != "X" {
			return true
		}
	}
	return false
}

// processStat is what dayops reads of /proc/PID/stat.
type processStat struct {
	state     string
	pgrp      int
	startTime uint64 // clock ticks after boot
}

func procStat(pid int) (processStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return processStat{}, err
	}
	s := string(b)
	// The command name is in parentheses and may itself contain them.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return processStat{}, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return processStat{}, fmt.Errorf("parsing /proc/%d/stat: %d fields", pid, len(f))
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return processStat{}, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return processStat{}, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
	}
	return processStat{state: f[0], pgrp: pgrp, startTime: start}, nil
}
