package dayops

import "time"

// RunFilter selects runs; zero fields match everything.
type RunFilter struct {
	Definition  string
	Service     string
	Environment string
	States      []RunState
	Actor       string  // only runs asked for by this Actor.ID
	Trigger     Trigger // only runs started by this trigger
	BeforeID    int64   // only runs with a smaller ID (paging)
	Limit       int     // 0 means 50
}

// EnvLock is a freeze of an environment (lock ENV).
type EnvLock struct {
	Environment string
	Actor       Actor
	Reason      string
	CreatedAt   time.Time
}

// SyncOutcome is how one sync of the ops repo ended.
type SyncOutcome string

// The sync outcomes.
const (
	SyncUpdated   SyncOutcome = "updated"   // a new valid revision was swapped in
	SyncUnchanged SyncOutcome = "unchanged" // the branch had not moved
	SyncInvalid   SyncOutcome = "invalid"   // the new revision is stalled; the last good catalog serves
	SyncFailed    SyncOutcome = "failed"    // fetch or auth fault; will retry with backoff
)

// SyncRecord is one sync of the ops repo, as sync history keeps it.
type SyncRecord struct {
	ID          int64
	Time        time.Time
	Duration    time.Duration
	Revision    string // the fetched head ("" when the fetch failed)
	Serving     string // the revision of the catalog in use afterwards
	Outcome     SyncOutcome
	Definitions int
	Errors      []string // "file:line:col: message", or the fault
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	RunID int64
	Limit int // 0 means 100
}

// StoreCounts are figures of the database itself, read at each scrape of
// /metrics.
type StoreCounts struct {
	Runs        []RunCount // runs by definition and state, sorted
	Undelivered int        // outbox messages not delivered yet
	Bytes       int64      // the database's size on disk
}

// RunCount is how many runs of one definition are in one state.
type RunCount struct {
	Definition string
	State      RunState
	N          int
}
