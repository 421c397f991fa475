package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dayops/dayops"
)

// Notices: what the whole team must know, posted to one thread (Slack's
// slack.notify_channel) whatever door it came through — runs interrupted by
// a crash (their own thread is told by the bot's run reporting too), and an
// ops repo whose sync is stalled on a broken commit or fails to fetch.

// The kinds of SyncNotice, as the syncer names them.
const (
	SyncNoticeUpdated   = "updated"   // a new valid revision serves: not posted
	SyncNoticeInvalid   = "invalid"   // a new revision is stalled: the last good one serves
	SyncNoticeFault     = "fault"     // fetching the ops repo fails
	SyncNoticeRecovered = "recovered" // fetching works again
)

// SyncNotice is one thing worth telling about the ops repo, door-neutral:
// cmd translates the syncer's events into it.
type SyncNotice struct {
	Kind     string   // one of the SyncNotice* kinds
	Revision string   // the fetched head ("" for a fault)
	Serving  string   // the revision in use ("" when none)
	Problems []string // of an invalid revision: "file:line:col: message"
	Message  string   // a one-line summary, safe to post
	Time     time.Time
}

// maxNoticeProblems bounds the problems a stalled-sync notice quotes.
const maxNoticeProblems = 10

// Notices posts notices to one thread. Close it before its Bot.
type Notices struct {
	bot   *Bot
	where dayops.Thread
	stop  func()
	ctx   context.Context
	quit  context.CancelFunc
	wg    sync.WaitGroup
}

// Notices starts posting notices to where: the sync notices given to Sync,
// and the runs events reports as interrupted (nil events: none).
func (b *Bot) Notices(where dayops.Thread, events dayops.Events) *Notices {
	n := &Notices{bot: b, where: where, stop: func() {}}
	n.ctx, n.quit = context.WithCancel(context.Background())
	if events != nil {
		ch, stop := events.Subscribe(0)
		n.stop = stop
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				select {
				case ev, ok := <-ch:
					if !ok {
						return
					}
					if ev.Kind == dayops.EventInterrupted && ev.Run != nil {
						n.interrupted(ev.Run)
					}
				case <-n.ctx.Done():
					return
				}
			}
		}()
	}
	return n
}

// Close stops the notices. Those already given are in the outbox: the bot
// delivers them (Bot.Wait waits for that; Bot.Close delivers what is due).
func (n *Notices) Close() error {
	n.stop()
	n.quit()
	n.wg.Wait()
	return nil
}

// Sync tells of a stalled or failing sync of the ops repo, and of its
// recovery; a plain update is not news. It returns once the notice is
// stored in the outbox: its sender posts it.
func (n *Notices) Sync(ev SyncNotice) {
	var m Message
	switch ev.Kind {
	case SyncNoticeInvalid:
		m.Text = fmt.Sprintf(":warning: ops repo revision %s is invalid, so dayops keeps serving %s until a fixed commit is pushed",
			dayops.ShortRevision(ev.Revision), orNone(dayops.ShortRevision(ev.Serving)))
		probs := ev.Problems
		if len(probs) > maxNoticeProblems {
			probs = append(probs[:maxNoticeProblems:maxNoticeProblems], fmt.Sprintf("… %d more", len(ev.Problems)-maxNoticeProblems))
		}
		m.Pre = strings.Join(probs, "\n")
	case SyncNoticeFault:
		m.Text = fmt.Sprintf(":warning: dayops cannot fetch the ops repo and keeps serving %s", orNone(dayops.ShortRevision(ev.Serving)))
		m.Pre = ev.Message
	case SyncNoticeRecovered:
		m.Text = fmt.Sprintf("dayops fetches the ops repo again; serving %s", orNone(dayops.ShortRevision(ev.Serving)))
	default:
		return
	}
	m.Footer = n.bot.prefix + " sync shows the recent syncs"
	n.post(m, 0)
}

func orNone(rev string) string {
	if rev == "" {
		return "no revision (no valid catalog yet)"
	}
	return "revision " + rev
}

// interrupted tells of a run found interrupted at start-up.
func (n *Notices) interrupted(r *dayops.Run) {
	if r.Thread.Door == n.where.Door && r.Thread.Channel == n.where.Channel && r.Thread.ID == "" {
		return // its own report goes to this very channel
	}
	what := r.Definition
	if r.Environment != "" {
		what += " " + r.Environment
	}
	step := "before its first step"
	if r.CurrentStep != "" {
		step = "during step " + r.CurrentStep
	}
	text := fmt.Sprintf(":warning: run %d %s was interrupted when dayops stopped %s", r.ID, what, step)
	if where := r.Thread.String(); where != "" {
		text += "; it was reported in " + where
	}
	n.post(Message{Text: text, Footer: fmt.Sprintf("%s status %d shows it", n.bot.prefix, r.ID)}, r.ID)
}

// post queues m for the notices' thread (outbox.go): it is delivered once
// the door is registered (notices of the start come before the doors), and
// later when the door fails, also after a restart.
func (n *Notices) post(m Message, runID int64) {
	ctx, cancel := context.WithTimeout(n.ctx, doorTimeout)
	defer cancel()
	n.bot.send(ctx, n.where, m, runID)
}
