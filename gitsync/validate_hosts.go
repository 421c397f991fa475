package gitsync

import "github.com/dayops/dayops"

// hosts checks a step's on:, parallel: and continue_on_host_error: and fills
// them in, with the definition's as defaults of its run steps. Whether the
// target exists is known only where the server configuration is (plan, run,
// serve): the executor checks it before a run starts.
func (v *validator) hosts(st *dayops.Step, rs rawStep) {
	var def rawHosts
	if v.raw != nil {
		def = v.raw.rawHosts
	}
	v.hostKeys(rs.rawHosts)
	if rs.On.set() && st.Kind != "" && st.Kind != dayops.StepKindRun {
		v.addf(rs.On.n, "on is only for run steps: %s steps run on the dayops machine", st.Kind)
	}
	if st.Kind != dayops.StepKindRun {
		return
	}
	pick := func(own, dflt rawHosts) rawHosts {
		if own.On.set() {
			dflt.On = own.On
		}
		if own.Parallel.n != nil {
			dflt.Parallel = own.Parallel
		}
		if own.ContinueOnHostError.n != nil {
			dflt.ContinueOnHostError = own.ContinueOnHostError
		}
		return dflt
	}
	h := pick(rs.rawHosts, def)
	st.On, st.Parallel, st.ContinueOnHostError = h.On.v, max(h.Parallel.v, 1), h.ContinueOnHostError.v
	if st.On == "" {
		const why = "%s is only for steps that run on targets: add on: with a target or group of the server configuration"
		if rs.Parallel.n != nil {
			v.addf(rs.Parallel.n, why, "parallel")
		}
		if rs.ContinueOnHostError.n != nil {
			v.addf(rs.ContinueOnHostError.n, why, "continue_on_host_error")
		}
		st.Parallel, st.ContinueOnHostError = 0, false
	}
}

// hostKeys checks the values of one set of those keys.
func (v *validator) hostKeys(h rawHosts) {
	if h.On.set() && !dayops.TargetPattern.MatchString(h.On.v) {
		v.addf(h.On.n, "on %q is not a target name: lowercase letters, digits, ., - and _, as in the server configuration's targets", dayops.Truncate(h.On.v, 40))
	}
	if h.Parallel.n != nil && (h.Parallel.v < 1 || h.Parallel.v > 100) {
		v.addf(h.Parallel.n, "parallel must be between 1 and 100, not %d", h.Parallel.v)
	}
}
