package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// Source is the inbox source of GitHub deliveries, and the prefix of the
// keys under which their commands are remembered as started.
const Source = "github"

// Inbox keeps deliveries between their answer and their processing.
// storage.Store implements it.
type Inbox interface {
	AddInbound(ctx context.Context, in dayops.Inbound) (bool, error)
	// ClaimInbound claims for owner, until now+lease, deliveries due now
	// that no other owner holds: with several replicas, one processes each.
	ClaimInbound(ctx context.Context, source, owner string, now time.Time, lease time.Duration, limit int) ([]dayops.Inbound, error)
	MarkInboundDone(ctx context.Context, id int64, at time.Time) error
	MarkInboundFailed(ctx context.Context, id int64, next time.Time, lastError string) error
	// FirstDelivery reports whether (source, id) is new, and remembers it:
	// a command of a delivery processed twice (a crash between the two)
	// starts once.
	FirstDelivery(ctx context.Context, source, id string) (bool, error)
}

// Reader is what the intake asks GitHub while it processes a delivery.
// The Client implements it.
type Reader interface {
	// React adds a reaction ("eyes") to an issue comment.
	React(ctx context.Context, repo string, commentID int64, content string) error
	// PullRequest reads a pull request: its head, its base, whether it
	// comes from a fork.
	PullRequest(ctx context.Context, repo string, number int) (dayops.PullRequest, error)
	// Groups returns which of teams ("ORG/TEAM") login belongs to, as
	// policy members ("github-team:ORG/TEAM").
	Groups(ctx context.Context, login string, teams []string) ([]string, error)
}

// Pipeline is where comment commands go: *bot.Bot.
type Pipeline interface {
	Submit(ctx context.Context, s bot.Submission)
	Prefix() string
}

// IntakeOptions configure an Intake.
type IntakeOptions struct {
	Secret   string   // DAYOPS_GITHUB_WEBHOOK_SECRET; without it every delivery is refused
	Inbox    Inbox    // required
	Pipeline Pipeline // required
	GitHub   Reader   // required
	// Repos are the application repositories (github.repos): "org/name"
	// -> the service it deploys. Deliveries of other repositories are
	// ignored, the ops repo's aside.
	Repos map[string]string
	// Teams are the "ORG/TEAM"s the roles name (github-team:ORG/TEAM):
	// a commenter's membership of each is looked up.
	Teams []string
	// BotLogin is dayops's own GitHub login: its comments never trigger
	// anything (nor do any bot's).
	BotLogin string
	// OnPullRequest is told of each pull request event of an application
	// repository: the pipeline matches its pull_request triggers.
	OnPullRequest func(ctx context.Context, pr dayops.PullRequest, where dayops.Thread)
	// Previews, when set, is told of each closed pull request (merged or
	// not): its preview deployments become inactive. The Door implements it.
	Previews interface {
		ClosePreview(ctx context.Context, pr dayops.PullRequest) error
	}
	// OpsRepo is the ops repo on GitHub, if it is there: a push to its
	// branch syncs at once, its pull requests are validated.
	OpsRepo OpsRepo
	// Owner is this process's identity on the deliveries it claims before
	// processing them (executor.ProcessOwner); default host:pid.
	Owner  string
	Now    func() time.Time
	Logger *slog.Logger
}

// OpsRepo is the ops repo as GitHub knows it.
type OpsRepo struct {
	Name   string // "acme/runbooks"; "" when the ops repo is not on GitHub
	Branch string // the branch dayops follows
	// Sync fetches the ops repo now (a push to Branch).
	Sync func(ctx context.Context) error
	// Validate checks a pull request's head and reports on it (a check
	// run and a comment).
	Validate func(ctx context.Context, pr dayops.PullRequest) error
}

// Intake takes GitHub's webhook deliveries (ServeHTTP): it checks them,
// stores them, answers at once and processes them from the store.
type Intake struct {
	opts IntakeOptions
	now  func() time.Time
	log  *slog.Logger

	wake    chan struct{}
	reading chan struct{} // a place for each body being read (webhook.go)
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
}

// Retries of a delivery whose processing failed: backoff from retryBase,
// doubling to retryMax, given up after maxAttempts.
const (
	retryBase   = time.Second
	retryMax    = 5 * time.Minute
	maxAttempts = 12
	pollEvery   = 2 * time.Second // the store is read this often even when nothing wakes the worker
	// claimBatch deliveries are claimed at once, for claimLease: with
	// several replicas one processes each delivery, and the deliveries a
	// replica claimed and did not process (it died) are taken over by
	// another when the lease ends.
	claimBatch = 5
	claimLease = time.Minute
)

// NewIntake returns an Intake; Start begins processing.
func NewIntake(opts IntakeOptions) (*Intake, error) {
	if opts.Inbox == nil || opts.Pipeline == nil || opts.GitHub == nil {
		return nil, errors.New("github: Inbox, Pipeline and GitHub are required")
	}
	in := &Intake{opts: opts, now: opts.Now, log: opts.Logger, wake: make(chan struct{}, 1), done: make(chan struct{}),
		reading: make(chan struct{}, maxReading)}
	if in.now == nil {
		in.now = time.Now
	}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if in.opts.Owner == "" {
		host, _ := os.Hostname()
		in.opts.Owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	in.ctx, in.cancel = context.WithCancel(context.Background())
	return in, nil
}

// Start processes deliveries until Close: those stored by an earlier
// process first (answered, then interrupted), then each as it comes.
func (in *Intake) Start() {
	in.once.Do(func() { go in.work() })
}

// Close stops processing; deliveries not processed stay in the store for
// the next start.
func (in *Intake) Close() {
	in.cancel()
	in.once.Do(func() { close(in.done) })
	<-in.done
}

func (in *Intake) poke() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

func (in *Intake) work() {
	defer close(in.done)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		for in.drain() {
		}
		select {
		case <-in.ctx.Done():
			return
		case <-in.wake:
		case <-tick.C:
		}
	}
}

// drain claims the deliveries due now and processes them; it reports
// whether it did any (more may have come meanwhile).
func (in *Intake) drain() bool {
	due, err := in.opts.Inbox.ClaimInbound(in.ctx, Source, in.opts.Owner, in.now(), claimLease, claimBatch)
	if err != nil {
		if in.ctx.Err() == nil {
			in.log.Error("claiming github deliveries", "err", err)
		}
		return false
	}
	for _, d := range due {
		if in.ctx.Err() != nil {
			return false
		}
		in.processOne(d)
	}
	return len(due) > 0
}

func (in *Intake) processOne(d dayops.Inbound) {
	err := in.process(in.ctx, d)
	if in.ctx.Err() != nil {
		return // stopping: the delivery is processed by the next start
	}
	at := in.now()
	if err != nil && d.Attempts+1 < maxAttempts {
		wait := retryBase << min(d.Attempts, 16)
		wait = min(wait, retryMax)
		in.log.Warn("processing a github delivery", "delivery", d.Delivery, "event", d.Kind, "attempt", d.Attempts+1, "retry_in", wait, "err", err)
		if err := in.opts.Inbox.MarkInboundFailed(in.ctx, d.ID, at.Add(wait), err.Error()); err != nil {
			in.log.Error("recording a failed github delivery", "delivery", d.Delivery, "err", err)
		}
		return
	}
	if err != nil {
		in.log.Error("giving up a github delivery", "delivery", d.Delivery, "event", d.Kind, "attempts", d.Attempts+1, "err", err)
	}
	if err := in.opts.Inbox.MarkInboundDone(in.ctx, d.ID, at); err != nil {
		in.log.Error("recording a processed github delivery", "delivery", d.Delivery, "err", err)
	}
}
