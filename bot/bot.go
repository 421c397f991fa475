package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// Engine starts and steers runs. The executor implements it.
type Engine interface {
	Plan(ctx context.Context, req dayops.RunRequest) (*dayops.Plan, error)
	Start(ctx context.Context, req dayops.RunRequest) (*dayops.Run, error)
	Approve(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) (*dayops.Approval, error)
	Deny(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread, reason string) error
	// Answer answers question (1-based) of the checklist run runID waits
	// at; the engine decides whether who may.
	Answer(ctx context.Context, runID int64, question int, yes bool, note string, who dayops.Actor, where dayops.Thread) (*dayops.Answer, error)
	Cancel(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) error
	Lock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread, reason string) error
	Unlock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread) error
	Rollback(ctx context.Context, service, env string, who dayops.Actor, where dayops.Thread) (*dayops.Run, error)
	// Changes is the diff of a definition since its last successful run in
	// env ("" = any environment), and that run's revision; "" when none.
	Changes(ctx context.Context, name, env string) (since, diff string, err error)
	// Supersede ends run id as cancelled with note, as who, only if it is
	// still queued (never once it runs); it reports whether it did.
	Supersede(ctx context.Context, id int64, who dayops.Actor, note string) (bool, error)
}

// Store is what the bot reads from the database, and where it writes the
// audit rows of its decisions and where runs are reported. The storage
// package implements it.
type Store interface {
	Run(ctx context.Context, id int64) (*dayops.Run, error)
	Runs(ctx context.Context, f dayops.RunFilter) ([]*dayops.Run, error)
	Logs(ctx context.Context, runID int64, afterSeq int64, limit int) ([]dayops.LogLine, error)
	Approvals(ctx context.Context, runID int64, gate string) ([]dayops.Approval, error)
	// Checklist is every checklist question of a run with its answer so far.
	Checklist(ctx context.Context, runID int64) ([]dayops.Answer, error)
	Audit(ctx context.Context, ev dayops.AuditEvent) error
	EnvironmentLocks(ctx context.Context) ([]dayops.EnvLock, error)
	Syncs(ctx context.Context, limit int) ([]dayops.SyncRecord, error)
	AddReport(ctx context.Context, r dayops.Report) (bool, error)
	UpdateReport(ctx context.Context, r dayops.Report) error
	Reports(ctx context.Context, runID int64) ([]dayops.Report, error)
	UnfinishedReports(ctx context.Context, limit int) ([]dayops.Report, error)
	// The outbox (outbox.go): messages waiting for their door.
	EnqueueOutgoing(ctx context.Context, o dayops.Outgoing) (int64, error)
	OutgoingChannels(ctx context.Context, door string) ([]string, error)
	// ClaimOutgoing claims a channel's waiting messages for owner until
	// now+lease, unless another owner holds the channel (heldUntil): with
	// several replicas, one delivers each channel.
	ClaimOutgoing(ctx context.Context, door, channel, owner string, now time.Time, lease time.Duration, limit int) (msgs []dayops.Outgoing, heldUntil time.Time, err error)
	MarkDelivered(ctx context.Context, id int64, at time.Time) error
	MarkFailed(ctx context.Context, id int64, next time.Time, lastError string) error
}

// Catalogs gives the current catalog and syncs the ops repo on demand.
type Catalogs interface {
	Catalog() *dayops.Catalog
	Sync(ctx context.Context) (dayops.SyncRecord, error)
}

// Door is one way in and out: it posts and updates messages in its threads.
// Post returns an ID that Update takes to change that message in place.
type Door interface {
	Name() string
	Post(ctx context.Context, thread dayops.Thread, m Message) (messageID string, err error)
	Update(ctx context.Context, thread dayops.Thread, messageID string, m Message) error
}

// ReportDoor is a door that keeps references of its own with a run's report:
// besides the message it edits in place, GitHub keeps a deployment and a
// check run per run. The bot calls ReportRun instead of Post and Update for
// a run's message; the door posts or updates it, sets rep.Thread.Message
// and records what it created in rep.Refs as it goes. The bot stores rep
// whether or not ReportRun fails, so that a retry (also after a restart, or
// on another replica) carries on from what was done, and never creates
// anything twice.
type ReportDoor interface {
	Door
	ReportRun(ctx context.Context, rep *dayops.Report, run *dayops.Run, m Message) error
}

// Permalinker is a door whose messages have links a person can open from
// elsewhere (Slack's permalinks): a run reported in it and on a pull request
// links the one from the other.
type Permalinker interface {
	Permalink(ctx context.Context, thread dayops.Thread, messageID string) (string, error)
}

// RefPermalink is the Report.Refs key of a report's message link, asked of
// its door once.
const RefPermalink = "permalink"

// Paced is implemented by a door that wants run-message updates spaced
// differently from Options.UpdateInterval (the terminal wants every change;
// Slack allows about one update per second per message).
type Paced interface {
	MinUpdateInterval() time.Duration
}

// Request is a command someone typed: Text is what follows the prefix or
// mention ("deploy web staging version=v1.2.0").
type Request struct {
	Actor  dayops.Actor
	Thread dayops.Thread
	Text   string
}

// Submission is one way in to the pipeline, for every trigger: typed text, a
// button, a pull request comment or merge, an incident message, an alert, a
// schedule. Whatever brought it, it is parsed (or taken as Command),
// authorised against the roles, audited with its trigger, planned, started
// and reported in Thread.
type Submission struct {
	// Actor is who asks: the person, or for an automated trigger
	// dayops.TriggerActor(Trigger) (the default when empty), whom roles
	// name as "trigger:KIND".
	Actor   dayops.Actor
	Thread  dayops.Thread     // where to answer and report
	Trigger dayops.Trigger    // default TriggerChat
	Context map[string]string // what the trigger knew: pr.*, alert.*, schedule.* (dayops.Context* keys)
	Text    string            // a command as typed, without the prefix
	Command *commands.Command // or the command itself (a button, a trigger's match); wins over Text
	// Also are further threads a run it starts is reported in, besides
	// Thread (a notify channel): each gets a report row when the run starts,
	// and with it the run's message, kept up to date, and its replies.
	Also []dayops.Thread
	// NoSecrets starts its run without any secret (a pull request from a
	// fork): dayops.RunRequest.NoSecrets.
	NoSecrets bool
}

// Click is a button pressed on a message: Action is ActionApprove,
// ActionDeny, ActionCancel or ActionRetry and Value the run ID, or
// ActionRun and Value "DEFINITION" or "DEFINITION|ENV".
type Click struct {
	Actor  dayops.Actor
	Thread dayops.Thread
	Action string
	Value  string
}

// Options configure a Bot.
type Options struct {
	Engine   Engine   // required
	Store    Store    // required
	Catalogs Catalogs // required
	Policy   dayops.Policy
	Redactor *dayops.Redactor // masks secrets in everything posted; nil strips URL credentials only
	BaseURL  string           // public URL of the web UI; run messages link BaseURL/runs/ID
	// RunURL, when set, is the link to a run's page that run messages carry
	// instead of BaseURL/runs/ID: the web package's signed, expiring link.
	RunURL func(runID int64) string
	// Events are the run events the bot reports from; nil: none (runs are
	// then reported when they start and when Resume looks).
	Events dayops.Events
	// Prefix is the chat command (slack.command), default
	// commands.DefaultPrefix: replies
	// that suggest a command spell it with this prefix.
	Prefix string
	// UpdateInterval is the least time between two updates of one run
	// message, for doors that do not implement Paced. Default 1s.
	UpdateInterval time.Duration
	// NotifyThread is where pull-request-triggered runs are reported too,
	// besides their pull request (slack.notify_channel); zero: nowhere else.
	NotifyThread dayops.Thread
	// AllowForks lets pull requests from forks trigger runs
	// (github.allow_forks); they never get secrets.
	AllowForks bool
	// PRRequirements are what a run from a pull request (its context has
	// pr.*) in an environment needs of it (github.environments): the door
	// of the run's thread is asked when it implements PullRequests, and the
	// run is refused when it cannot say.
	PRRequirements map[string]PRRequirement
	// Automation remembers alert groups and counts automatic runs for the
	// remediation guard; nil: alerts are refused and nothing runs by
	// itself from an incident channel (it is offered instead).
	Automation AutomationStore
	// Owner is this process's identity on the outbox messages it claims
	// before delivering them (executor.ProcessOwner); default host:pid.
	Owner  string
	Now    func() time.Time
	Logger *slog.Logger
}

// Bot is the conversation pipeline. It is safe for concurrent use.
type Bot struct {
	engine   Engine
	store    Store
	catalogs Catalogs
	policy   dayops.Policy
	redactor *dayops.Redactor
	baseURL  string
	runURL   func(runID int64) string
	prefix   string
	notify   dayops.Thread
	forks    bool
	prReqs   map[string]PRRequirement
	auto     AutomationStore
	interval time.Duration
	owner    string
	now      func() time.Time
	log      *slog.Logger

	mu         sync.Mutex
	doors      map[string]Door
	trackers   map[int64]*tracker
	senders    map[channelKey]*sender // outbox senders at work (outbox.go)
	outLocks   map[channelKey]*sync.Mutex
	acking     map[string]*pendingAck // approvals being decided by a command
	answered   map[string]time.Time   // decisions a command has answered
	busy       int                    // running workers
	idleCh     chan struct{}          // closed when busy drops to 0
	closing    bool
	ctx        context.Context // for door calls of workers
	cancel     context.CancelFunc
	stopEvents func()
	listening  chan struct{} // closed when listen returns
}

// New returns a Bot.
func New(opts Options) (*Bot, error) {
	if opts.Engine == nil || opts.Store == nil || opts.Catalogs == nil {
		return nil, errors.New("bot: Engine, Store and Catalogs are required")
	}
	b := &Bot{
		engine:   opts.Engine,
		store:    opts.Store,
		catalogs: opts.Catalogs,
		policy:   opts.Policy,
		redactor: opts.Redactor,
		baseURL:  strings.TrimRight(opts.BaseURL, "/"),
		runURL:   opts.RunURL,
		prefix:   opts.Prefix,
		notify:   opts.NotifyThread,
		forks:    opts.AllowForks,
		prReqs:   maps.Clone(opts.PRRequirements),
		auto:     opts.Automation,
		interval: opts.UpdateInterval,
		owner:    opts.Owner,
		now:      opts.Now,
		log:      opts.Logger,
		doors:    map[string]Door{},
		trackers: map[int64]*tracker{},
		senders:  map[channelKey]*sender{},
		outLocks: map[channelKey]*sync.Mutex{},
		acking:   map[string]*pendingAck{},
		answered: map[string]time.Time{},
	}
	if b.interval <= 0 {
		b.interval = time.Second
	}
	if b.prefix == "" {
		b.prefix = commands.DefaultPrefix
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.owner == "" {
		host, _ := os.Hostname()
		b.owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.sweepOutbox()
	b.listening = make(chan struct{})
	if opts.Events != nil {
		events, stop := opts.Events.Subscribe(0)
		b.stopEvents = stop
		go b.listen(events)
	} else {
		b.stopEvents = func() {}
		go b.listen(nil)
	}
	return b, nil
}

// Now is the bot's clock.
func (b *Bot) Now() time.Time { return b.now() }

// Prefix is the chat command that starts a command (slack.command).
func (b *Bot) Prefix() string { return b.prefix }

// Register adds a door; a later door with the same name replaces it. The
// door's runs whose messages do not show their end yet (a restart) are
// brought up to date, and the messages waiting in its outbox delivered.
func (b *Bot) Register(d Door) {
	b.mu.Lock()
	b.doors[d.Name()] = d
	b.mu.Unlock()
	go func() {
		b.resume()
		b.resumeOutbox(d.Name())
	}()
}

func (b *Bot) door(name string) Door {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.doors[name]
}

// call is one command on its way through the pipeline.
type call struct {
	actor     dayops.Actor
	thread    dayops.Thread
	cmd       *commands.Command
	trigger   dayops.Trigger
	context   map[string]string
	askForm   bool // a run is answered with its form even when nothing is missing (a Run button)
	also      []dayops.Thread
	noSecrets bool              // its run gets no secrets (Submission.NoSecrets)
	started   func(*dayops.Run) // told of the run it starts, if any
}

// Submit takes one submission through the pipeline: parse, authorise,
// audit, plan or start, report. It returns once the command is answered or
// its run started; a run reports on through its events and runs on the
// executor's context, never ctx. Most commands answer in milliseconds, but
// sync fetches the ops repo and plan may read git: a door that must answer
// its platform within a deadline (Slack's 3 s) acknowledges first and calls
// Submit on its own goroutine.
func (b *Bot) Submit(ctx context.Context, s Submission) {
	b.submit(ctx, s, nil)
}

// submit is Submit that tells started of the run it starts.
func (b *Bot) submit(ctx context.Context, s Submission, started func(*dayops.Run)) {
	if s.Trigger == "" {
		s.Trigger = dayops.TriggerChat
	}
	if s.Trigger.Automated() {
		// An automation acts as its own identity, never as a person and
		// never as nobody.
		if id := dayops.TriggerActor(s.Trigger); s.Actor.ID != id.ID {
			if s.Actor.ID != "" {
				b.log.Warn("automated trigger submitted as someone else", "trigger", s.Trigger, "actor", s.Actor.ID)
			}
			s.Actor = id
		}
	}
	if s.Context[dayops.ContextPRFork] == "true" {
		// A pull request from a fork is anyone's: its comments steer
		// nothing, and read nothing either, unless forks are allowed; even
		// then its runs get no secrets.
		if !b.forks {
			b.refuseFork(ctx, s)
			return
		}
		s.NoSecrets = true
	}
	cmd := s.Command
	if cmd == nil {
		res := commands.Grammar{Prefix: b.prefix}.Parse(s.Text)
		switch {
		case res.Ignore:
			return
		case res.Command == nil:
			b.post(ctx, s.Thread, Message{Text: b.redact(res.Reply), Private: true})
			return
		}
		cmd = res.Command
	}
	b.dispatch(ctx, &call{actor: s.Actor, thread: s.Thread, cmd: cmd, trigger: s.Trigger, context: s.Context,
		also: s.Also, noSecrets: s.NoSecrets, started: started})
}

// Handle answers one typed command in its thread: Submit of typed text.
func (b *Bot) Handle(ctx context.Context, in Request) {
	b.Submit(ctx, Submission{Actor: in.Actor, Thread: in.Thread, Text: in.Text, Trigger: dayops.TriggerChat})
}

// HandleClick answers a button press as the command it stands for, through
// the same pipeline: the click is authorised and audited like typed text.
func (b *Bot) HandleClick(ctx context.Context, c Click) {
	switch c.Action {
	case ActionRun:
		b.clickRun(ctx, c)
		return
	case ActionRetry:
		b.clickRetry(ctx, c)
		return
	case ActionOutput:
		b.clickOutput(ctx, c)
		return
	case ActionAnswerYes, ActionAnswerNo:
		b.clickAnswer(ctx, c)
		return
	}
	verb := map[string]commands.Verb{
		ActionApprove: commands.VerbApprove, ActionDeny: commands.VerbDeny, ActionCancel: commands.VerbCancel,
	}[c.Action]
	id, ok := parseRunID(c.Value)
	if verb == "" || !ok {
		b.log.Warn("unknown button", "action", c.Action, "value", c.Value, "actor", c.Actor.ID)
		b.post(ctx, c.Thread, Message{Text: "that button is not one dayops knows; type the command instead", Private: true})
		return
	}
	cmd := &commands.Command{Verb: verb, RunID: id, Text: string(verb) + " " + c.Value}
	b.Submit(ctx, Submission{Actor: c.Actor, Thread: c.Thread, Command: cmd, Trigger: dayops.TriggerButton})
}

// handler answers one verb. A nil Message with a nil error means the handler
// has posted what it had to say itself.
type handler func(b *Bot, ctx context.Context, c *call) (*Message, error)

var handlers = map[commands.Verb]handler{
	commands.VerbHelp:     (*Bot).help,
	commands.VerbWhoami:   (*Bot).whoami,
	commands.VerbList:     (*Bot).list,
	commands.VerbDescribe: (*Bot).describe,
	commands.VerbPlan:     (*Bot).plan,
	commands.VerbStatus:   (*Bot).status,
	commands.VerbHistory:  (*Bot).history,
	commands.VerbSync:     (*Bot).sync,
	commands.VerbStats:    (*Bot).stats,
	commands.VerbRun:      (*Bot).run,
	commands.VerbDeploy:   (*Bot).deploy,
	commands.VerbRollback: (*Bot).rollback,
	commands.VerbApprove:  (*Bot).approve,
	commands.VerbDeny:     (*Bot).deny,
	commands.VerbAnswer:   (*Bot).answer,
	commands.VerbCancel:   (*Bot).cancelRun,
	commands.VerbLock:     (*Bot).lock,
	commands.VerbUnlock:   (*Bot).unlock,
}

func (b *Bot) dispatch(ctx context.Context, c *call) {
	h, ok := handlers[c.cmd.Verb]
	if !ok {
		b.log.Error("no handler for verb", "verb", c.cmd.Verb)
		b.post(ctx, c.thread, Message{Text: "dayops cannot do " + string(c.cmd.Verb) + " yet"})
		return
	}
	// Someone no role knows learns nothing: not even which names exist
	// (lookups and did-you-mean come before the per-verb checks). Only help
	// and whoami are open to everyone.
	if c.cmd.Verb != commands.VerbHelp && c.cmd.Verb != commands.VerbWhoami && len(b.policy.RolesOf(c.actor)) == 0 {
		who := c.actor.ID
		if c.actor.Name != "" && c.actor.Name != c.actor.ID {
			who = c.actor.Name + " (" + c.actor.ID + ")"
		}
		v := dayops.Verdict{Reason: who + " has no role in dayops"}
		if err := b.decide(ctx, c, v, string(c.cmd.Verb), 0); err != nil {
			b.post(ctx, c.thread, b.errorMessage(err, "", c))
		}
		return
	}
	m, err := h(b, ctx, c)
	if err != nil {
		b.post(ctx, c.thread, b.errorMessage(err, "", c))
		return
	}
	if m != nil {
		m.Private = m.Private || !decisionVerbs[c.cmd.Verb]
		b.post(ctx, c.thread, *m)
	}
}

// decisionVerbs answer with what others in the conversation must see: who
// approved, denied, cancelled or froze what. Every other answer is for the
// asker alone (Message.Private).
var decisionVerbs = map[commands.Verb]bool{
	commands.VerbApprove: true, commands.VerbDeny: true, commands.VerbCancel: true, commands.VerbAnswer: true,
	commands.VerbLock: true, commands.VerbUnlock: true,
}

// errorMessage is what the user sees of err: its user message, redacted.
// Internal errors are logged whole and shown as a reference.
func (b *Bot) errorMessage(err error, ref string, c *call) Message {
	if dayops.KindOf(err) == dayops.KindInternal {
		if ref == "" {
			ref = "at " + b.now().UTC().Format(time.RFC3339)
		}
		b.log.Error("command failed", "verb", c.cmd.Verb, "actor", c.actor.ID, "where", c.thread.String(), "ref", ref, "err", err)
	}
	return Message{Text: b.redact(dayops.UserMessage(err, ref)), Private: true}
}

// post sends m to the thread's door; a door fault is logged, never shown.
func (b *Bot) post(ctx context.Context, t dayops.Thread, m Message) string {
	d := b.door(t.Door)
	if d == nil {
		b.log.Warn("no door for thread", "door", t.Door, "where", t.String())
		return ""
	}
	id, err := d.Post(ctx, t, b.redactMessage(m))
	if err != nil {
		b.log.Error("posting message", "door", t.Door, "where", t.String(), "err", err)
	}
	return id
}

func (b *Bot) redact(s string) string { return b.redactor.Redact(s) }

// redactMessage masks every text of m. It is the last step before any door
// sees a message, whatever its parts were built from.
func (b *Bot) redactMessage(m Message) Message {
	m.Text, m.Pre, m.Footer = b.redact(m.Text), b.redact(m.Pre), b.redact(m.Footer)
	m.Fields = slices.Clone(m.Fields)
	for i := range m.Fields {
		m.Fields[i].Label, m.Fields[i].Value = b.redact(m.Fields[i].Label), b.redact(m.Fields[i].Value)
	}
	m.Buttons = slices.Clone(m.Buttons)
	for i := range m.Buttons {
		m.Buttons[i].Label = b.redact(m.Buttons[i].Label)
	}
	m.Form = b.redactForm(m.Form)
	if m.File != nil {
		// The lines are stored masked; masked again with today's secrets.
		m.File = &File{Name: b.redact(m.File.Name), Content: []byte(b.redact(string(m.File.Content))), Elsewhere: m.File.Elsewhere}
	}
	if m.Run != nil {
		v := *m.Run
		v.Title, v.Requester, v.Params, v.Note = b.redact(v.Title), b.redact(v.Requester), b.redact(v.Params), b.redact(v.Note)
		v.Steps = slices.Clone(v.Steps)
		for i := range v.Steps {
			v.Steps[i].Name, v.Steps[i].Error = b.redact(v.Steps[i].Name), b.redact(v.Steps[i].Error)
		}
		v.Output = slices.Clone(v.Output)
		for i := range v.Output {
			v.Output[i] = b.redact(v.Output[i])
		}
		m.Run = &v
	}
	return m
}

// authorize decides whether c may do act, writes the audit row of the
// decision, and returns a forbidden error when it is refused. A decision
// that cannot be audited is refused: nothing happens unrecorded.
func (b *Bot) authorize(ctx context.Context, c *call, act dayops.Action, target string, runID int64) error {
	v := b.policy.Authorize(c.actor, c.thread, act)
	return b.decide(ctx, c, v, target, runID)
}

// decide records a verdict and turns a refusal into an error.
func (b *Bot) decide(ctx context.Context, c *call, v dayops.Verdict, target string, runID int64) error {
	ev := dayops.AuditEvent{
		Time:    b.now(),
		Actor:   c.actor.ID,
		Where:   c.thread.String(),
		Action:  "command." + string(c.cmd.Verb),
		Target:  target,
		RunID:   runID,
		Allowed: v.Allowed,
		Reason:  v.Reason,
		Trigger: c.trigger,
	}
	if err := b.store.Audit(ctx, ev); err != nil {
		return fmt.Errorf("auditing %s %s: %w", c.cmd.Verb, target, err)
	}
	if !v.Allowed {
		return dayops.Errorf(dayops.KindForbidden, "not allowed: %s", v.Reason)
	}
	return nil
}

// authorizeRead lets any role with read (or *) look.
func (b *Bot) authorizeRead(ctx context.Context, c *call, target string) error {
	return b.authorize(ctx, c, dayops.Action{Kind: dayops.ActRead}, target, 0)
}

// open records the decision for commands that need no role.
func (b *Bot) open(ctx context.Context, c *call, target string) error {
	return b.decide(ctx, c, dayops.Verdict{Allowed: true, Reason: string(c.cmd.Verb) + " needs no role"}, target, 0)
}

// refuseFork answers a command from a fork's pull request, and audits it.
func (b *Bot) refuseFork(ctx context.Context, s Submission) {
	pr := s.Context["pr.repo"] + "#" + s.Context["pr.number"]
	reason := "pull request " + pr + " comes from a fork: dayops takes no commands from forks unless github.allow_forks is set"
	ev := dayops.AuditEvent{Time: b.now(), Actor: s.Actor.ID, Where: s.Thread.String(), Action: "command",
		Target: dayops.Truncate(s.Text, 200), Trigger: s.Trigger, Reason: reason}
	if s.Command != nil {
		ev.Action = "command." + string(s.Command.Verb)
	}
	if err := b.store.Audit(ctx, ev); err != nil {
		b.log.Error("auditing a fork's command", "pr", pr, "err", err)
	}
	b.post(ctx, s.Thread, Message{Text: "Refused: " + reason + ".", Private: true})
}
