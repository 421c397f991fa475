package dayops

import "strings"

// Actor is who asked: a person on a chat platform or GitHub, or dayops itself
// (schedules, alerts). ID is "door:identity", e.g. "slack:U012ABC",
// "github:alice", "console:alice", "system:schedule".
type Actor struct {
	ID     string
	Name   string   // display name
	Groups []string // group IDs as policy members write them, e.g. "slack-group:S0SRE"
}

// Door is the first part of ID.
func (a Actor) Door() string {
	d, _, _ := strings.Cut(a.ID, ":")
	return d
}

// String is the display name, or the ID.
func (a Actor) String() string {
	if a.Name != "" {
		return a.Name
	}
	return a.ID
}

// Thread is where to answer: the door, the conversation and the thread in
// it. Doors fill what they need; the rest of dayops only stores and returns it.
type Thread struct {
	Door    string // "console", "slack", "github", "cli", "web", …
	Channel string // channel ID, "owner/repo#12", …
	Name    string // channel name, for channel rules and display, e.g. "inc-db"
	ID      string // the thread within the channel (Slack thread ts, …)
	Message string // the message a run updates in place (Slack ts, comment ID), once posted
}

// String renders the thread for audit rows.
func (t Thread) String() string {
	s := t.Door
	if t.Channel != "" {
		s += ":" + t.Channel
	}
	if t.ID != "" {
		s += "/" + t.ID
	}
	return s
}
