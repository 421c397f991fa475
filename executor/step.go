package executor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/dayops/dayops"
)

// Step outputs: `key=value` lines a step writes to $DAYOPS_OUTPUT.
const (
	maxOutputFile  = 64 << 10
	maxOutputValue = 4 << 10
	maxOutputs     = 64
	maxRetryDelay  = 10 * time.Minute
)

var outputKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// stepResult is how one step (all its attempts) ended.
type stepResult struct {
	state   dayops.StepState
	exit    int
	message string // for the step's Error and the run's Reason
	outputs map[string]string
}

// runStep runs step i with its retries and records it.
func (x *runExec) runStep(ctx context.Context, dir string, i int, st dayops.Step) stepResult {
	sr := x.step(i)
	sr.State, sr.StartedAt, sr.Error = dayops.StepRunning, x.e.now(), ""
	x.updateStep(sr)
	attempts := st.Retries + 1
	var res stepResult
	for a := 1; a <= attempts; a++ {
		sr.Attempts = a
		res = x.attempt(ctx, dir, i, st, a)
		if res.state == dayops.StepSucceeded || ctx.Err() != nil || a == attempts {
			break
		}
		delay := retryDelay(st.RetryDelay, a)
		x.log.system(i, "attempt %d of %d failed (%s); retrying in %s", a, attempts, res.message, delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			res = ctxResult(ctx, st, x.e.planTimeout(x.def))
			break
		}
	}
	sr.State, sr.ExitCode, sr.Error, sr.EndedAt = res.state, res.exit, res.message, x.e.now()
	if res.state == dayops.StepSucceeded {
		sr.Error = ""
	}
	sr.Outputs = res.outputs
	x.updateStep(sr)
	return res
}

// retryDelay is the wait before attempt a+1: retry_delay doubled per attempt
// (1s when not set), at most maxRetryDelay.
func retryDelay(base time.Duration, a int) time.Duration {
	if base <= 0 {
		base = time.Second
	}
	d := base
	for k := 1; k < a && d < maxRetryDelay; k++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// ctxResult is the result of a step whose context ended.
func ctxResult(ctx context.Context, st dayops.Step, runTimeout time.Duration) stepResult {
	switch context.Cause(ctx) {
	case errStepTimeout:
		return stepResult{state: dayops.StepTimedOut, exit: -1, message: fmt.Sprintf("step %s timed out after %s", st.Name, st.Timeout)}
	case errRunTimeout:
		return stepResult{state: dayops.StepTimedOut, exit: -1, message: fmt.Sprintf("the run timed out after %s during step %s", runTimeout, st.Name)}
	}
	return stepResult{state: dayops.StepCancelled, exit: -1, message: "cancelled"}
}

// attempt runs one attempt of a step under its own timeout.
func (x *runExec) attempt(ctx context.Context, dir string, i int, st dayops.Step, a int) stepResult {
	sctx := ctx
	if st.Timeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeoutCause(ctx, st.Timeout, errStepTimeout)
		defer cancel()
	}
	var res stepResult
	switch st.Kind {
	case dayops.StepKindRun:
		if st.On != "" {
			res = x.onHosts(sctx, dir, i, st, a)
		} else {
			res = x.process(sctx, dir, i, st, a, "")
			if st.ID != "" && res.outputs != nil {
				x.scope.Steps[st.ID] = res.outputs
			}
		}
	case dayops.StepKindHTTP:
		res = x.httpCheck(sctx, i, st)
	case dayops.StepKindUses:
		res = x.uses(sctx, i, st)
	default:
		res = stepResult{state: dayops.StepFailed, message: fmt.Sprintf("step %s: unknown kind %q", st.Name, st.Kind)}
	}
	if res.state != dayops.StepSucceeded && sctx.Err() != nil {
		out := res.outputs
		res = ctxResult(sctx, st, x.e.planTimeout(x.def))
		res.outputs = out
		if res.state == dayops.StepTimedOut {
			x.log.system(i, "%s: its processes were stopped", res.message)
		}
	}
	return res
}

// process runs a run: step as a process and reads its output and outputs.
// With host, it runs on that SSH target, and its lines start with [host].
func (x *runExec) process(ctx context.Context, dir string, i int, st dayops.Step, a int, host string) stepResult {
	if !x.e.mayStart(x) {
		return stepResult{state: dayops.StepFailed, exit: -1, message: fmt.Sprintf("step %s was not started: another dayops process took over run %d", st.Name, x.id)}
	}
	spec := ProcessSpec{Script: st.Run, Dir: dir, Env: x.processEnv(st, a), KillGrace: x.e.opts.KillGrace,
		TempDir: x.tmpDir, RunAs: x.e.runAs.credential()}
	runner, prefix, on := x.e.runner, "", ""
	if host != "" {
		runner, prefix, on = x.e.remote, "["+host+"] ", " on "+host
		spec.Target, spec.Dir, spec.TempDir, spec.RunAs = host, "", "", nil
	}
	if runner == nil {
		return stepResult{state: dayops.StepFailed, exit: -1, message: fmt.Sprintf("step %s could not start%s: dayops has no SSH targets configured", st.Name, on)}
	}
	p, err := runner.Start(ctx, spec)
	if err != nil {
		x.e.logger.Error("starting a step", "run_id", x.id, "step", i, "host", host, "err", err)
		return stepResult{state: dayops.StepFailed, exit: -1, message: fmt.Sprintf("step %s could not start%s: %s", st.Name, on, dayops.UserMessage(err, fmt.Sprintf("run %d", x.id)))}
	}
	var readers conc.WaitGroup
	readers.Go(func() { x.readStream(i, dayops.Stdout, p.Stdout(), prefix) })
	readers.Go(func() { x.readStream(i, dayops.Stderr, p.Stderr(), prefix) })
	code, werr := p.Wait()
	readers.Wait()
	if host == "" {
		x.log.endStep(i) // for hosts, once all have run
	}
	outputs := x.readOutputs(i, p)
	if werr != nil {
		x.e.logger.Error("waiting for a step", "run_id", x.id, "step", i, "host", host, "err", werr)
	}
	if code == 0 && werr == nil {
		return stepResult{state: dayops.StepSucceeded, outputs: outputs}
	}
	msg := fmt.Sprintf("step %s failed%s (exit %d)", st.Name, on, code)
	if de := (*dayops.Error)(nil); errors.As(werr, &de) {
		msg = fmt.Sprintf("step %s failed: %s", st.Name, dayops.UserMessage(werr, ""))
	} else if last := x.log.lastLines(i, 5); last != "" {
		msg += ": last lines: " + last
	}
	return stepResult{state: dayops.StepFailed, exit: code, message: msg, outputs: outputs}
}

func (x *runExec) readStream(i int, s dayops.Stream, r io.Reader, prefix string) {
	readLines(r, MaxLineBytes, x.e.forms, func(b []byte) { x.log.add(i, s, prefix+string(b)) })
}

// processEnv is a step's whole environment: a minimal base (never the
// server's own environment, which holds its secrets), the run's values, the
// definition's and the step's env, then the variables dayops reserves.
func (x *runExec) processEnv(st dayops.Step, attempt int) []string {
	env := newEnvList()
	for _, k := range []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env.set(k, v)
		}
	}
	if u := x.e.runAs; u != nil {
		env.set("USER", u.name)
		env.set("LOGNAME", u.name)
		env.set("HOME", u.home)
	}
	if _, ok := env.get("PATH"); !ok {
		env.set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if _, ok := env.get("LANG"); !ok {
		env.set("LANG", "C.UTF-8")
	}
	env.set("TMPDIR", x.tmpDir)
	for _, v := range x.defEnv {
		env.set(v.Name, v.Value)
	}
	for _, v := range st.Env {
		val, _ := dayops.Expand(v.Value, x.scope)
		env.set(v.Name, val)
	}
	r := x.snapshot()
	env.set(envRunID, fmt.Sprint(r.ID))
	env.set(envOwner, x.e.owner) // with the run ID: how Recover finds leftovers
	env.set("DAYOPS_ACTOR", r.Actor.ID)
	env.set("DAYOPS_ENV", r.Environment)
	env.set("DAYOPS_REVISION", r.Revision)
	env.set("DAYOPS_DEFINITION", r.Definition)
	env.set("DAYOPS_ATTEMPT", fmt.Sprint(attempt))
	for _, k := range slices.Sorted(maps.Keys(r.Params)) {
		env.set("DAYOPS_PARAM_"+dayops.EnvName(k), r.Params[k])
	}
	for _, name := range x.def.Secrets {
		if r.NoSecrets() {
			break // RunRequest.NoSecrets: a fork's pull request gets none
		}
		env.set("DAYOPS_SECRET_"+name, x.e.opts.Secrets[name])
	}
	for _, id := range slices.Sorted(maps.Keys(x.scope.Steps)) {
		for k, v := range x.scope.Steps[id] {
			env.set("DAYOPS_STEP_"+dayops.EnvName(id)+"_"+dayops.EnvName(k), v)
		}
	}
	// The runner adds DAYOPS_OUTPUT, the file it reads the step's outputs
	// from; a value set here would be replaced.
	return env.list()
}

// envList is an ordered environment where a later set wins.
type envList struct {
	keys []string
	vals map[string]string
}

func newEnvList() *envList { return &envList{vals: map[string]string{}} }

func (l *envList) set(k, v string) {
	if _, ok := l.vals[k]; !ok {
		l.keys = append(l.keys, k)
	}
	// A NUL cannot be passed to a process; nothing valid contains one.
	l.vals[k] = strings.ReplaceAll(v, "\x00", "")
}

func (l *envList) get(k string) (string, bool) {
	v, ok := l.vals[k]
	return v, ok
}

func (l *envList) list() []string {
	out := make([]string, len(l.keys))
	for i, k := range l.keys {
		out[i] = k + "=" + l.vals[k]
	}
	return out
}

// readOutputs reads the key=value lines a step wrote to $DAYOPS_OUTPUT. Bad
// lines are reported in the log and ignored; values are redacted.
func (x *runExec) readOutputs(i int, p Process) map[string]string {
	b, more, err := p.Outputs(maxOutputFile)
	if err != nil {
		x.e.logger.Error("reading a step's outputs", "run_id", x.id, "step", i, "err", err)
		x.log.system(i, "the outputs of this step could not be read: %s", dayops.UserMessage(err, fmt.Sprintf("run %d", x.id)))
		return nil
	}
	if more {
		x.log.system(i, "$DAYOPS_OUTPUT is larger than %d KiB; only the first %d KiB are read", maxOutputFile>>10, maxOutputFile>>10)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxOutputFile+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		switch {
		case !ok || !outputKey.MatchString(k):
			x.log.system(i, "output line %d ignored: write key=value with a key of letters, digits and _", n)
		case len(v) > maxOutputValue:
			x.log.system(i, "output %s ignored: its value is longer than %d bytes", k, maxOutputValue)
		case !validValue(v):
			x.log.system(i, "output %s ignored: its value is not valid text", k)
		case len(out) >= maxOutputs && out[k] == "":
			x.log.system(i, "output %s ignored: a step has at most %d outputs", k, maxOutputs)
		default:
			out[k] = cleanText(x.e.redactor.Redact(v))
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func removeAll(dir string) { _ = os.RemoveAll(dir) }
