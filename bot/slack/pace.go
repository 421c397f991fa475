package slack

import (
	"context"
	"sync"
	"time"
)

// Pacing per channel. Slack allows about one chat.postMessage a second per
// channel (and answers 429 to bursts); chat.update counts toward the same
// channel's traffic. The bot paces each run message on its own, but several
// runs, their replies and notices can share one channel: the door spaces
// every message it posts or updates in one channel by the channel interval,
// whoever asks. A caller waits for its turn (the bot's workers, never a run),
// but not long: a turn more than maxWaitTurns intervals away, or after the
// caller's deadline, is not taken, and the caller is told when to come back
// (RateLimited), as by Slack itself. So a busy channel never holds the
// door's few request workers (the run message of a command is posted on
// one) for long: its run messages and queued messages come later instead.
// Ephemeral answers are not paced: they answer one person now.

// DefaultChannelInterval is the least time between two messages posted or
// updated in one channel.
const DefaultChannelInterval = time.Second

// maxWaitTurns bounds how many turns ahead a caller waits for.
const maxWaitTurns = 5

// maxPacedChannels bounds the channels remembered before those whose turn
// has passed are forgotten.
const maxPacedChannels = 1000

// pacer hands out turns per channel, interval apart.
type pacer struct {
	interval time.Duration

	mu   sync.Mutex
	next map[string]time.Time // the earliest next turn, by channel
}

func newPacer(interval time.Duration) *pacer {
	return &pacer{interval: interval, next: map[string]time.Time{}}
}

// wait returns at the caller's turn in channel, or an error: ctx done while
// waiting, or a turn past ctx's deadline (a *RateLimited saying how long).
func (p *pacer) wait(ctx context.Context, method, channel string) error {
	if p.interval <= 0 {
		return nil
	}
	p.mu.Lock()
	now := time.Now()
	turn := p.next[channel]
	if turn.Before(now) {
		turn = now
	}
	dl, ok := ctx.Deadline()
	if far := now.Add(maxWaitTurns * p.interval); !ok || far.Before(dl) {
		dl = far
	}
	if turn.After(dl) {
		p.mu.Unlock()
		return &RateLimited{Method: method, After: turn.Sub(now)}
	}
	p.next[channel] = turn.Add(p.interval)
	if len(p.next) > maxPacedChannels {
		for ch, t := range p.next {
			if t.Before(now) {
				delete(p.next, ch)
			}
		}
	}
	p.mu.Unlock()
	d := time.Until(turn)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
