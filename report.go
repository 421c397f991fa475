package dayops

import "time"

// Report is where a run is reported: one message in one thread of one door.
// It is stored, so that whichever process sees the run change next (after a
// restart, or on another replica) updates the same message, until it shows
// the run's final state.
type Report struct {
	RunID     int64
	Thread    Thread            // Door, Channel, Name and ID; Message once posted
	Refs      map[string]string // door references, e.g. a PR comment or a GitHub deployment ID
	Shown     RunState          // the state the message shows; "" until posted
	ShownAt   time.Time
	Failures  int    // failed deliveries since the last one that worked
	LastError string // the last delivery fault, for operators
	CreatedAt time.Time
}

// Done reports whether the message shows the end of the run.
func (r Report) Done() bool { return r.Shown.Final() }
