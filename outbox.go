package dayops

import "time"

// Outgoing is a message waiting in the outbox for its door: written before it
// is posted, so that what could not be delivered (the chat platform down,
// rate limited or unreachable) is delivered later, also after a restart.
// The message is stored as the JSON text its door-neutral form has in the
// bot; storage keeps it without reading it.
type Outgoing struct {
	ID          int64
	Thread      Thread // Door, Channel, ID and Name; Message is not kept
	Message     string // the message as JSON, as the bot gave it
	RunID       int64  // the run it is about; 0 when none
	CreatedAt   time.Time
	Attempts    int       // failed deliveries so far
	NextAt      time.Time // no delivery is tried before it
	LastError   string    // the last delivery fault, for operators
	DeliveredAt time.Time // zero until delivered
}
