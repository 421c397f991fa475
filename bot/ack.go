package bot

import (
	"fmt"
	"time"

	"github.com/dayops/dayops"
)

// A person who approves or denies by command gets an answer; the executor
// also reports the decision (EventApproval), so that the run's thread hears
// of decisions made anywhere. When both would land in the same conversation
// it must be said once: the report, when it comes while the command is still
// deciding, because the run's worker posts it in order with the run's
// progress; otherwise the command's answer, and a report that comes later is
// left out.

// ackTTL is how long an answered decision waits for its report.
const ackTTL = time.Minute

// pendingAck is an approval or denial being decided by a command.
type pendingAck struct {
	waiting  int  // commands deciding it now
	reported bool // Notify had it reported to the same conversation
}

// ackKey names one person's decision on a run in one conversation (door and
// channel).
func ackKey(runID int64, actorID string, approved bool, t dayops.Thread) string {
	return fmt.Sprintf("%d|%s|%t|%s|%s", runID, actorID, approved, t.Door, t.Channel)
}

// beginAck notes that a command is deciding key.
func (b *Bot) beginAck(key string) *pendingAck {
	b.mu.Lock()
	defer b.mu.Unlock()
	ack := b.acking[key]
	if ack == nil {
		ack = &pendingAck{}
		b.acking[key] = ack
	}
	ack.waiting++
	return ack
}

// endAck ends the command's part. It reports whether the executor's report
// has the conversation covered; if not, the command answers, and a later
// report of key is dropped.
func (b *Bot) endAck(key string, ack *pendingAck) (reported bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ack.waiting--; ack.waiting == 0 {
		delete(b.acking, key)
	}
	if ack.reported {
		return true
	}
	now := b.now()
	for k, at := range b.answered {
		if now.Sub(at) > ackTTL {
			delete(b.answered, k)
		}
	}
	b.answered[key] = now
	return false
}

// reportAckLocked is called for each reported decision and says whether a
// command has answered it already.
func (b *Bot) reportAckLocked(key string) (answered bool) {
	if ack := b.acking[key]; ack != nil {
		ack.reported = true
		return false
	}
	at, ok := b.answered[key]
	if ok {
		delete(b.answered, key)
	}
	return ok && b.now().Sub(at) <= ackTTL
}
