package bot

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/dayops/dayops"
)

// The end of a deploy is told to the whole conversation, not only its
// thread: one line, once per run and thread. That it was said is stored
// with the report (Refs[RefBroadcast]), so a restart does not say it again.

// RefBroadcast is the report reference set once a run's end was broadcast.
const RefBroadcast = "broadcast"

// owesBroadcast reports whether the end of run is still to be broadcast in
// the thread of rep: day1 runs (deploys) that ended.
func owesBroadcast(run *dayops.Run, rep dayops.Report) bool {
	return run.Phase == dayops.Day1 && run.State.Final() && rep.Refs[RefBroadcast] == ""
}

// broadcastText is the line a deploy's end is told with: "deploy-web to
// production v1.4.2 succeeded (run #12, 3m07s)".
func (b *Bot) broadcastText(run *dayops.Run) string {
	var s strings.Builder
	s.WriteString(run.Definition)
	if run.Environment != "" {
		s.WriteString(" to " + run.Environment)
	}
	if v := run.Params["version"]; v != "" {
		s.WriteString(" " + v)
	}
	if run.RollbackOf != 0 {
		fmt.Fprintf(&s, " (rollback of run #%d)", run.RollbackOf)
	}
	s.WriteString(" " + StateText(run.State))
	fmt.Fprintf(&s, " (run #%d", run.ID)
	if d := FormatDuration(run.Duration(b.now())); d != "" {
		s.WriteString(", " + d)
	}
	s.WriteString(")")
	return b.redact(s.String())
}

// broadcast tells rep's conversation that run ended, and marks rep so.
func (b *Bot) broadcast(ctx context.Context, door Door, rep *dayops.Report, run *dayops.Run) error {
	th := rep.Thread
	th.Message = "" // a new line in the thread, not an edit of the run's message
	if _, err := door.Post(ctx, th, b.redactMessage(Message{Text: b.broadcastText(run), Broadcast: true})); err != nil {
		return err
	}
	rep.Refs = maps.Clone(rep.Refs)
	if rep.Refs == nil {
		rep.Refs = map[string]string{}
	}
	rep.Refs[RefBroadcast] = "1"
	return nil
}
