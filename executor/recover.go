package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dayops/dayops"
)

var (
	ownerOnce sync.Once
	ownerID   string
)

// ProcessOwner is this process's identity on the runs it drives:
// "host:pid:startUnixNano". Another process on the same host can tell from it
// whether this one still lives, even after the pid is reused.
func ProcessOwner() string {
	ownerOnce.Do(func() {
		host, _ := os.Hostname()
		pid := os.Getpid()
		start, err := processStart(pid)
		if err != nil {
			start = time.Now().UnixNano()
		}
		ownerID = fmt.Sprintf("%s:%d:%d", host, pid, start)
	})
	return ownerID
}

// processStart is when process pid started, in unix nanoseconds, from /proc
// (precise to the kernel's clock tick).
func processStart(pid int) (int64, error) {
	st, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, err
			}
			const ticksPerSecond = 100 // USER_HZ on Linux
			return boot*int64(time.Second) + int64(st.startTime)*int64(time.Second/ticksPerSecond), nil
		}
	}
	return 0, errors.New("no btime in /proc/stat")
}

// ownerDead reports whether the process that owns run has stopped. One of
// this host is dead only when its process is gone: however late its
// heartbeat, a live process (paused with SIGSTOP or Ctrl-Z, starved, in a
// long GC) keeps its runs and their concurrency keys. One of another host is
// dead when it has not heartbeaten for three intervals; on waking it finds it
// lost its runs and stops their steps (see fence).
func (e *Executor) ownerDead(run *dayops.Run) bool {
	if run.Owner == e.owner {
		return false
	}
	if run.Owner == "" {
		return true // let go by an executor that closed
	}
	if ownerHere(run.Owner) {
		return ownerGoneHere(run.Owner)
	}
	return e.now().Sub(run.Heartbeat) > 3*e.opts.HeartbeatInterval
}

// ownerHere reports whether owner names a process of this host.
func ownerHere(owner string) bool {
	host, _, _, ok := parseOwner(owner)
	me, _ := os.Hostname()
	return ok && host == me
}

// DefaultHeartbeatInterval is how often an executor stamps its runs unless
// Options.HeartbeatInterval says otherwise.
const DefaultHeartbeatInterval = 5 * time.Second

// OwnerGone reports whether owner, the dayops process recorded on a run, is
// a process of this host that no longer runs. A process of another host, or
// one that is only slow or paused, is not gone.
func OwnerGone(owner string) bool { return ownerGoneHere(owner) }

// ownerGoneHere reports whether owner is a dayops process of this host that
// no longer runs: its pid is gone, a zombie, or another process now. A
// missed heartbeat is not enough: a process that is only slow is not gone.
func ownerGoneHere(owner string) bool {
	host, pid, start, ok := parseOwner(owner)
	if !ok {
		return false // unknown format: only the heartbeat can tell
	}
	if me, _ := os.Hostname(); host != me {
		return false
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	st, err := procStat(pid)
	if err != nil {
		return false
	}
	if st.state == "Z" || st.state == "X" {
		return true
	}
	if began, err := processStart(pid); err == nil {
		d := time.Duration(began - start)
		if d > 2*time.Second || d < -2*time.Second {
			return true // the pid belongs to another process now
		}
	}
	return false
}

func parseOwner(owner string) (host string, pid int, start int64, ok bool) {
	i := strings.LastIndexByte(owner, ':')
	if i < 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(owner[:i], ':')
	if j < 0 {
		return "", 0, 0, false
	}
	pid, err1 := strconv.Atoi(owner[j+1 : i])
	start, err2 := strconv.ParseInt(owner[i+1:], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return "", 0, 0, false
	}
	return owner[:j], pid, start, true
}

// heartbeatLoop stamps this executor's runs every interval. When a beat
// finds fewer of its runs than it drives, or comes late (the process was
// paused, or the store out of reach, for three intervals, long enough for
// another host to take its runs for dead), it checks each run and fences the
// ones it lost before they do anything more. Each beat then applies the
// orders other processes handed on for its runs (applyOrders).
func (e *Executor) heartbeatLoop() {
	t := time.NewTicker(e.opts.HeartbeatInterval)
	defer t.Stop()
	last := time.Now()
	e.lastBeat.Store(last.UnixNano())
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := storeCtx()
		n, err := e.store.Heartbeat(ctx, e.owner, e.now())
		cancel()
		if err != nil {
			e.logger.Warn("heartbeat", "owner", e.owner, "err", err)
			continue
		}
		late := time.Since(last) > 3*e.opts.HeartbeatInterval
		last = time.Now()
		e.lastBeat.Store(last.UnixNano())
		if local := e.driven(); late || int(n) < len(local) {
			e.fenceLost(local)
		}
		e.applyOrders()
	}
}

// driven is the runs this executor drives that have not ended.
func (e *Executor) driven() []*runExec {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*runExec
	for _, x := range e.runs {
		if !x.state().Final() {
			out = append(out, x)
		}
	}
	return out
}

// fenceLost stops the runs of local that another dayops process took over
// (their owner changed) or ended as interrupted while this one did not
// answer: their step processes are terminated and no step of theirs starts
// again here. The new owner decides what happens to them.
func (e *Executor) fenceLost(local []*runExec) {
	for _, x := range local {
		ctx, cancel := storeCtx()
		r, err := e.store.Run(ctx, x.id)
		cancel()
		if err != nil {
			e.logger.Error("checking a run after a late heartbeat", "run_id", x.id, "err", err)
			continue
		}
		if r.Owner == e.owner && r.State != dayops.RunInterrupted {
			continue
		}
		if _, loaded := e.fenced.LoadOrStore(x.id, true); loaded {
			continue
		}
		e.lostAny.Store(true)
		e.logger.Error("this process lost a run it drove: stopping its steps", "run_id", x.id, "owner", r.Owner, "state", r.State)
		x.requestCancel(systemActor, "")
	}
}

// mayStart reports whether x may start a step process: not when this
// executor lost the run. After a late heartbeat (the process was paused) it
// asks the store first rather than wait for the next beat.
func (e *Executor) mayStart(x *runExec) bool {
	if time.Since(time.Unix(0, e.lastBeat.Load())) > 3*e.opts.HeartbeatInterval {
		e.fenceLost([]*runExec{x})
	}
	_, lost := e.fenced.Load(x.id)
	return !lost
}

// Recover is run at start-up. Every run left pending, queued or running by a
// process that is gone is marked interrupted (its queue position released and
// an EventInterrupted published so its door can tell its thread); runs that
// wait for an approval are taken over and keep waiting. Runs of live
// processes — a `dayops run` beside the server — are left alone. It returns
// the runs it interrupted.
func (e *Executor) Recover(ctx context.Context) ([]*dayops.Run, error) {
	states := []dayops.RunState{dayops.RunPending, dayops.RunAwaitingApproval, dayops.RunQueued, dayops.RunRunning}
	var out []*dayops.Run
	const page = 200
	before := int64(0)
	for {
		runs, err := e.store.Runs(ctx, dayops.RunFilter{States: states, BeforeID: before, Limit: page})
		if err != nil {
			return out, fmt.Errorf("listing unfinished runs: %w", err)
		}
		for _, run := range runs {
			if run.Owner == e.owner || !e.ownerDead(run) {
				continue
			}
			if run.State == dayops.RunAwaitingApproval && run.ParentID == 0 {
				full, err := e.store.Run(ctx, run.ID)
				if err == nil {
					// Taken over from the owner and heartbeat it was
					// found dead by, not a fresher read's.
					full.Owner, full.Heartbeat = run.Owner, run.Heartbeat
					err = e.adopt(ctx, full)
				}
				if err == nil || dayops.KindOf(err) == dayops.KindConflict {
					continue
				}
				e.logger.Error("taking over a run waiting for approval", "run_id", run.ID, "err", err)
			}
			r, err := e.interrupt(ctx, run)
			if err != nil {
				if dayops.KindOf(err) == dayops.KindConflict {
					continue // another process got there first
				}
				return out, err
			}
			out = append(out, r)
		}
		if len(runs) < page {
			break
		}
		before = runs[len(runs)-1].ID
	}
	e.releaseQueue()
	return sortedRuns(out), nil
}

// TakeoverTime is, for the heartbeat interval of an executor that watches
// owners every interval (WatchOwners), the longest a run of a dead replica
// of another host waits before it is interrupted: three missed heartbeats
// make its owner dead, and the next look finds it. With the default 5 s
// interval it is 20 s. A replica of the same host is found dead at the
// next look after its process is gone.
func TakeoverTime(heartbeat time.Duration) time.Duration {
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeatInterval
	}
	return 4 * heartbeat
}

// WatchOwners looks for the runs of dead processes every heartbeat interval
// until ctx is done or the executor closes, and recovers them as Recover
// does at start-up: with several `dayops serve` replicas on one database,
// the runs of a replica that died are marked interrupted (each announced by
// an EventInterrupted, so the bot of this replica reports it in its
// thread), their queue places freed, and those waiting for an approval
// taken over, by a live replica within TakeoverTime. Each run is taken over
// from the owner and heartbeat it was found dead by (a compare-and-set), so
// a replica that was only slow keeps the runs it heartbeat for meanwhile,
// and one whose runs were taken finds it lost them and stops their steps
// (fenceLost). found, when set, is told of the runs each look interrupted.
func (e *Executor) WatchOwners(ctx context.Context, found func([]*dayops.Run)) {
	t := time.NewTicker(e.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		lookCtx, cancel := context.WithTimeout(ctx, 4*e.opts.HeartbeatInterval)
		runs, err := e.Recover(lookCtx)
		cancel()
		if err != nil && ctx.Err() == nil && e.ctx.Err() == nil {
			e.logger.Error("looking for the runs of dead processes", "err", err)
		}
		if len(runs) > 0 && found != nil {
			found(runs)
		}
	}
}

// interrupt ends a run whose process is gone. It first takes the run over
// from the owner and heartbeat run shows (those it was found dead by), so
// that of several replicas one ends it, and an owner that was only slow
// and heartbeat meanwhile keeps it (a conflict error).
func (e *Executor) interrupt(ctx context.Context, run *dayops.Run) (*dayops.Run, error) {
	full, err := e.store.Run(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	if err := e.takeOver(ctx, run); err != nil {
		return nil, err
	}
	reason := "interrupted: the dayops process running it stopped"
	if full.CurrentStep != "" && full.State == dayops.RunRunning {
		reason += " during step " + full.CurrentStep
	}
	killed := e.killLeftovers(full)
	if killed != "" {
		reason += "; " + killed
	}
	reason += "; check what it left behind before running it again"
	ev := dayops.AuditEvent{Time: e.now(), Actor: systemActor.ID, Where: full.Thread.String(), Action: "run.state",
		Target: fmt.Sprintf("run %d", run.ID), RunID: run.ID, Allowed: true,
		Reason: fmt.Sprintf("%s → %s: owner %s is gone", full.State, dayops.RunInterrupted, full.Owner)}
	if killed != "" {
		ev.Reason += "; " + killed
	}
	r, err := e.store.TransitionRun(ctx, run.ID, dayops.RunInterrupted, reason, ev)
	if err != nil {
		return nil, err
	}
	for _, st := range full.Steps {
		if st.State == dayops.StepRunning || st.State == dayops.StepAwaitingApproval {
			st.State, st.Error, st.EndedAt = dayops.StepFailed, "interrupted", e.now()
			if err := e.store.UpdateStep(ctx, st); err != nil {
				e.logger.Error("marking an interrupted step", "run_id", run.ID, "err", err)
			}
		}
	}
	if err := e.store.Dequeue(ctx, run.ID); err != nil {
		e.logger.Error("releasing the queue of an interrupted run", "run_id", run.ID, "err", err)
	}
	e.releaseQueue()
	if r2, err := e.store.Run(ctx, run.ID); err == nil {
		r = r2
	}
	e.emit(dayops.RunEvent{Kind: dayops.EventInterrupted, Run: r, Message: reason})
	return r, nil
}

// adopt takes over a run that waits for an approval and whose process is
// gone: this executor becomes its owner and drives it on from its gate.
func (e *Executor) adopt(ctx context.Context, run *dayops.Run) error {
	if e.local(run.ID) != nil {
		return nil
	}
	def := e.definitionFor(run)
	if def == nil {
		return fmt.Errorf("definition %s at %s is not available", run.Definition, run.Revision)
	}
	if err := e.takeOver(ctx, run); err != nil {
		return err
	}
	run.Owner = e.owner
	x := e.newRunExec(run, def, nil, nil)
	x.scope = dayops.Scope{Params: run.Params, Environment: run.Environment, Vars: e.opts.Vars,
		PR: dayops.PRContext(run.Context), Run: x.runFields(), Steps: map[string]map[string]string{}}
	for _, v := range def.Env {
		val, _ := dayops.Expand(v.Value, x.scope)
		x.defEnv = append(x.defEnv, dayops.EnvVar{Name: v.Name, Value: val})
	}
	spent := time.Duration(0)
	for _, st := range run.Steps {
		if st.Rollback || st.Index >= len(def.Steps) {
			continue
		}
		if st.StepID != "" && len(st.Outputs) > 0 {
			x.scope.Steps[st.StepID] = st.Outputs
		}
		switch st.State {
		case dayops.StepPending, dayops.StepSkipped, dayops.StepAwaitingApproval:
		default:
			if !isGate(st.Kind) {
				x.started = true
			}
			if !st.EndedAt.IsZero() && !st.StartedAt.IsZero() && !isGate(st.Kind) {
				spent += st.EndedAt.Sub(st.StartedAt)
			}
		}
		if (st.State == dayops.StepFailed || st.State == dayops.StepTimedOut) && !def.Steps[st.Index].ContinueOnError && x.first == nil {
			x.failed = true
			x.first = &stepResult{state: st.State, exit: st.ExitCode, message: st.Error}
		}
	}
	x.budget -= spent
	x.log.seq = e.lastSeq(ctx, run.ID)
	if !e.goDriver(x) {
		return errors.New("the executor is closing")
	}
	e.logger.Info("took over a run waiting for approval", "run_id", run.ID)
	return nil
}

// takeOver makes this executor the owner of run, from the owner and
// heartbeat run shows. A conflict error: the run is not theirs any more
// (another process took it, it ended) or its owner heartbeat since.
func (e *Executor) takeOver(ctx context.Context, run *dayops.Run) error {
	took, err := e.store.TakeOver(ctx, run.ID, run.Owner, run.Heartbeat, e.owner, e.now())
	if err != nil {
		return fmt.Errorf("taking over run %d: %w", run.ID, err)
	}
	if !took {
		return dayops.Errorf(dayops.KindConflict, "run %d was not taken over: another dayops process took it first, it ended, or its owner %s heartbeat again", run.ID, run.Owner)
	}
	return nil
}

// lastSeq is the last log line number of a run, to go on numbering after it.
func (e *Executor) lastSeq(ctx context.Context, runID int64) int64 {
	var last int64
	for {
		lines, err := e.store.Logs(ctx, runID, last, 1000)
		if err != nil || len(lines) == 0 {
			return last
		}
		last = lines[len(lines)-1].Seq
		if len(lines) < 1000 {
			return last
		}
	}
}
