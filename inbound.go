package dayops

import "time"

// Inbound is a webhook delivery kept in the inbox: stored before the
// sender is answered, then processed from the store, so that a crash after
// the answer loses nothing. (Source, Delivery) is unique: a redelivery of
// the same delivery is not stored twice.
type Inbound struct {
	ID         int64
	Source     string // "github"
	Delivery   string // the sender's delivery ID (X-GitHub-Delivery)
	Kind       string // the event (X-GitHub-Event)
	Body       []byte // the raw body, exactly as signed
	ReceivedAt time.Time
	Attempts   int       // failed processings so far
	NextAt     time.Time // no processing is tried before it
	LastError  string    // the last processing fault, for operators
	DoneAt     time.Time // zero until processed
}
