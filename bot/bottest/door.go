package bottest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// Door is a bot.Door that records what the bot posts and updates. Fail makes
// its next calls fail.
type Door struct {
	DoorName string

	mu       sync.Mutex
	interval time.Duration
	gate     chan struct{}
	seq      int
	posts    []Posted
	updates  []Posted
	failures []error
	attempts []time.Time
}

// Fail makes the next len(errs) calls of Post or Update fail with errs, in
// order (nil lets one through).
func (d *Door) Fail(errs ...error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures = append(d.failures, errs...)
}

// Attempts returns when Post or Update was called, failed calls included.
func (d *Door) Attempts() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.attempts)
}

// attemptLocked records a call and returns the failure it is to give.
func (d *Door) attemptLocked() error {
	d.attempts = append(d.attempts, time.Now())
	if len(d.failures) == 0 {
		return nil
	}
	err := d.failures[0]
	d.failures = d.failures[1:]
	return err
}

// Unavailable is a door error that a platform's 5xx answer becomes.
type Unavailable struct{}

func (Unavailable) Error() string { return "platform unavailable (503)" }

// TooManyRequests is a door error that says when to try again (429).
type TooManyRequests struct{ After time.Duration }

func (e TooManyRequests) Error() string {
	return fmt.Sprintf("rate limited (429), retry after %s", e.After)
}

// RetryAfter implements bot.RetryAfter.
func (e TooManyRequests) RetryAfter() time.Duration { return e.After }

// Posted is one message posted or updated.
type Posted struct {
	Thread dayops.Thread
	ID     string
	Msg    bot.Message
}

func (d *Door) Name() string { return d.DoorName }
func (d *Door) MinUpdateInterval() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.interval
}

// SetInterval sets the least time between two updates the door asks for.
func (d *Door) SetInterval(i time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.interval = i
}

// SetGate makes every later call wait until gate is closed (a slow
// platform); nil lets them through.
func (d *Door) SetGate(gate chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gate = gate
}

func (d *Door) waitGate() {
	d.mu.Lock()
	g := d.gate
	d.mu.Unlock()
	if g != nil {
		<-g
	}
}

func (d *Door) Post(ctx context.Context, t dayops.Thread, m bot.Message) (string, error) {
	d.waitGate()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.attemptLocked(); err != nil {
		return "", err
	}
	d.seq++
	id := fmt.Sprintf("m%d", d.seq)
	d.posts = append(d.posts, Posted{t, id, m})
	return id, nil
}

func (d *Door) Update(ctx context.Context, t dayops.Thread, id string, m bot.Message) error {
	d.waitGate()
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.attemptLocked(); err != nil {
		return err
	}
	d.updates = append(d.updates, Posted{t, id, m})
	return nil
}

// Posts returns the messages posted.
func (d *Door) Posts() []Posted {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.posts)
}

// Updates returns the updates made.
func (d *Door) Updates() []Posted {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.updates)
}

// Transcript is every Posted text, in order, for substring checks.
func (d *Door) Transcript() string {
	var b strings.Builder
	for _, p := range d.Posts() {
		b.WriteString(p.Msg.Plain() + "\n")
	}
	return b.String()
}
