package dayops

import "time"

// Gate names. A mid-run approval step's gate is "step:ID-or-index".
const (
	GateEnvironment = "environment" // the environment's approvals, before the run starts
)

// Approval is one person's approval or denial of a gate of a run.
type Approval struct {
	ID        int64
	RunID     int64
	Gate      string
	Actor     Actor
	Approved  bool   // false is a denial
	Reason    string // a denial's reason
	PlanHash  string // the plan approved; a different plan voids it
	Valid     bool   // counted: not the requester, not a repeat, right role, same plan
	Note      string // why it did or did not count
	CreatedAt time.Time
	// Have and Need are the gate's count when the decision was recorded,
	// as Policy.Tally counted it at the run's revision (not stored).
	Have, Need int
}
