package executor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/dayops/dayops"
)

// stepHosts resolves the on: of def's run steps for a run in env: the hosts
// of each target or group named, and what makes a name unusable (unknown, or
// a target limited to other environments), one message per step.
func (e *Executor) stepHosts(def *dayops.Definition, env string) (map[string][]string, []string) {
	hosts := map[string][]string{}
	var problems []string
	for _, st := range slices.Concat(def.Steps, def.Rollback) {
		if st.Kind != dayops.StepKindRun || st.On == "" {
			continue
		}
		h, err := e.opts.Targets.Resolve(st.On, env)
		if err != nil {
			problems = append(problems, fmt.Sprintf("step %s: %s", st.Name, dayops.UserMessage(err, "")))
			continue
		}
		hosts[st.On] = h
	}
	return hosts, problems
}

// addHosts shows in planned steps the hosts they run on.
func addHosts(planned []dayops.PlannedStep, steps []dayops.Step, hosts map[string][]string) {
	for i, st := range steps {
		h, ok := hosts[st.On]
		if st.On == "" || !ok {
			continue
		}
		planned[i].Hosts = slices.Clone(h)
		where := "on " + st.On
		if len(h) != 1 || h[0] != st.On {
			where += " (" + strings.Join(h, ", ") + ")"
		}
		if len(h) > 1 {
			where += fmt.Sprintf(", %d at a time", min(max(st.Parallel, 1), len(h)))
			if st.ContinueOnHostError {
				where += ", all hosts even after a failure"
			}
		}
		planned[i].Detail = where + ": " + planned[i].Detail
	}
}

// hostResult is how a step ended on one host.
type hostResult struct {
	host    string
	started bool
	res     stepResult
	took    time.Duration
}

// onHosts runs a run: step with on: on each of its hosts, st.Parallel at a
// time. Each host's lines start with [host], and a line says how each host
// ended. Without continue_on_host_error no host starts after one failed.
// The step succeeds only when every host did; its outputs are those of its
// one host, or with several, HOST_KEY for each host's KEY (HOST with _ for
// . and -).
func (x *runExec) onHosts(ctx context.Context, dir string, i int, st dayops.Step, a int) stepResult {
	hosts, err := x.e.opts.Targets.Resolve(st.On, x.snapshot().Environment)
	if err != nil {
		return stepResult{state: dayops.StepFailed, exit: -1, message: fmt.Sprintf("step %s: %s", st.Name, dayops.UserMessage(err, ""))}
	}
	par := min(max(st.Parallel, 1), len(hosts))
	if len(hosts) > 1 {
		x.log.system(i, "on %s: %s, %d at a time", st.On, strings.Join(hosts, ", "), par)
	}
	results := make([]hostResult, len(hosts))
	var failed atomic.Bool // a host failed
	p := pool.New().WithMaxGoroutines(par)
	for k, h := range hosts {
		results[k].host = h
		p.Go(func() {
			if (failed.Load() && !st.ContinueOnHostError) || ctx.Err() != nil {
				return
			}
			start := time.Now()
			r := x.process(ctx, dir, i, st, a, h)
			results[k] = hostResult{host: h, started: true, res: r, took: time.Since(start)}
			if r.state != dayops.StepSucceeded {
				failed.Store(true)
			}
		})
	}
	p.Wait()
	x.log.endStep(i)
	return x.hostsResult(i, st, results)
}

// hostsResult logs how each host ended and makes the step's result.
func (x *runExec) hostsResult(i int, st dayops.Step, results []hostResult) stepResult {
	out := stepResult{state: dayops.StepSucceeded, outputs: map[string]string{}}
	var failed, skipped []string
	for _, r := range results {
		switch {
		case !r.started:
			skipped = append(skipped, r.host)
			x.log.system(i, "%s: not started", r.host)
			continue
		case r.res.state == dayops.StepSucceeded:
			x.log.system(i, "%s: succeeded in %s", r.host, r.took.Round(time.Millisecond))
		default:
			x.log.system(i, "%s: %s", r.host, strings.TrimPrefix(r.res.message, "step "+st.Name+" "))
			if out.state == dayops.StepSucceeded {
				out.state, out.exit = dayops.StepFailed, r.res.exit
			}
			failed = append(failed, fmt.Sprintf("%s (exit %d)", r.host, r.res.exit))
		}
		for k, v := range r.res.outputs {
			if len(results) > 1 {
				k = hostKey(r.host) + "_" + k
			}
			out.outputs[k] = v
		}
	}
	if len(out.outputs) == 0 {
		out.outputs = nil
	} else if st.ID != "" {
		x.scope.Steps[st.ID] = maps.Clone(out.outputs)
	}
	switch {
	case out.state == dayops.StepSucceeded:
	case len(results) == 1:
		out.message = results[0].res.message
	default:
		out.message = fmt.Sprintf("step %s failed on %s", st.Name, strings.Join(failed, ", "))
		if len(skipped) > 0 {
			out.message += "; not started on " + strings.Join(skipped, ", ")
		}
	}
	if out.state == dayops.StepSucceeded && len(skipped) > 0 {
		// Cancelled or timed out before every host ran: attempt reports it.
		out.state, out.exit, out.message = dayops.StepFailed, -1, fmt.Sprintf("step %s did not run on %s", st.Name, strings.Join(skipped, ", "))
	}
	return out
}

// hostKey is a host name as the start of an output key.
func hostKey(h string) string {
	return strings.NewReplacer(".", "_", "-", "_").Replace(h)
}
