package dayops

import "time"

// AuditEvent records one decision: who, where, what, and why it was allowed
// or refused. Storage writes it in the same transaction as the change.
type AuditEvent struct {
	ID      int64
	Time    time.Time
	Actor   string // Actor.ID
	Where   string // Thread.String()
	Action  string // e.g. "run.start", "run.state", "approval", "lock", "authorize"
	Target  string // e.g. "deploy-web:staging", "run 42", "env staging"
	RunID   int64
	Allowed bool
	Reason  string
	Trigger Trigger // what brought the request: chat, button, alert, …; "" for the engine's own records
}
