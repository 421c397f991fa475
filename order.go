package dayops

import "time"

// OrderKind is what a RunOrder asks of a run.
type OrderKind string

// The kinds of order. They are stored as TEXT.
const (
	OrderCancel    OrderKind = "cancel"    // stop it, as Cancel does
	OrderSupersede OrderKind = "supersede" // end it only while it is queued
	OrderWithdraw  OrderKind = "withdraw"  // end it only while it is queued or awaits its approvals
)

// RunOrder is a cancel, supersede or withdraw asked of a run through one
// dayops process and stored for the process that drives the run (another
// replica on the same database), which applies it at its next heartbeat
// with the rules a local call has, and marks it done.
type RunOrder struct {
	ID          int64
	RunID       int64
	Kind        OrderKind
	Actor       Actor  // who asked (ID and Name are kept)
	Note        string // the reason a supersede or withdraw gives
	RequestedAt time.Time
	DoneAt      time.Time // zero while it waits
	Outcome     string    // once done: "applied", or why it was not
}
