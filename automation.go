package dayops

import "time"

// What automatic runs remember, as rows, so that a restart or a second
// replica decides the same: Alertmanager groups and the alerts seen in
// them, the remediation guard's automatic runs, and schedule firings.

// AlertInstance is one alert of a group as Alertmanager identifies it: a
// new start time of the same fingerprint is a new firing (a flap).
type AlertInstance struct {
	Fingerprint string
	StartsAt    time.Time
}

// AlertGroup is an Alertmanager group as dayops follows it: the thread
// its firing is answered in and the run it started, if any. A group is
// open from a firing with an alert not seen before until it resolves.
type AlertGroup struct {
	Key        string // the receiver and Alertmanager's groupKey
	Open       bool
	Thread     Thread // where the firing was answered; its ID is the thread of every later message
	RunID      int64  // the run it started; 0 when none
	OpenedAt   time.Time
	ResolvedAt time.Time // zero while open
}

// GuardCheck asks the remediation guard whether an automatic run of
// Definition on Target (for an alert the labels that identify it, for an
// incident the channel) may start At: no run of it on Target within
// Cooldown, and fewer than Budget runs of Trigger in the hour before.
type GuardCheck struct {
	Trigger    string // the trigger that fires, e.g. "restart-api/alert/0"
	Definition string
	Target     string
	Cooldown   time.Duration
	Budget     int
	At         time.Time
}

// GuardVerdict is the guard's answer. When Allowed the run was recorded.
type GuardVerdict struct {
	Allowed bool
	Last    time.Time // the last automatic run of the definition on the target, if any
	InHour  int       // automatic runs of the trigger in the hour before, this one not counted
	Reason  string    // why not, for people
}

// Schedule firing states.
const (
	FiringRun    = "run"    // claimed by one process, which starts its run
	FiringMissed = "missed" // due while dayops was down and too late to run
	FiringSeen   = "seen"   // not a firing: when dayops first saw the trigger
)

// ScheduleFiring is one firing of a schedule trigger: (Definition, Cron,
// ScheduledAt) is unique, so a firing is claimed once, whatever the number
// of processes.
type ScheduleFiring struct {
	Definition  string
	Cron        string
	ScheduledAt time.Time
	State       string // FiringRun, FiringMissed or FiringSeen
	RunID       int64
	RecordedAt  time.Time
}
