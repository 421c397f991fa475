package gitsync

import "time"

// Events receives what a door should tell people about the ops repo. It is
// called from the sync cycle and must return quickly (post asynchronously).
type Events interface {
	SyncEvent(ev Event)
}

// EventKind says what an Event reports.
type EventKind string

// The event kinds. Each is published once per occurrence, never once per
// cycle: a stalled revision once, an outage once (and its end once).
const (
	EventUpdated   EventKind = "updated"   // a new valid revision is now serving
	EventInvalid   EventKind = "invalid"   // a new revision is stalled: invalid or untrusted; the last good catalog serves
	EventFault     EventKind = "fault"     // fetching the ops repo started failing (or fails in a new way)
	EventRecovered EventKind = "recovered" // fetching works again after a fault
)

// Event is one thing worth telling about the ops repo.
type Event struct {
	Kind     EventKind
	Revision string   // the fetched head ("" for a fault)
	Serving  string   // the revision of the catalog in use after the sync ("" when none)
	Previous string   // updated: the revision served before ("" for the first catalog)
	Problems []string // invalid: "file:line:col: message"
	Message  string   // a one-line summary, redacted, safe to post
	Time     time.Time
}
