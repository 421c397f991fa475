package dayops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// RunState is the state of a run. It is stored as TEXT.
type RunState string

// The run states. A run moves forward only:
//
//	pending → awaiting_approval → queued → running → succeeded | failed | cancelled | timed_out
//	any non-final state → denied (approvals), cancelled, interrupted (its process died)
const (
	RunPending          RunState = "pending"
	RunAwaitingApproval RunState = "awaiting_approval"
	RunQueued           RunState = "queued"
	RunRunning          RunState = "running"
	RunSucceeded        RunState = "succeeded"
	RunFailed           RunState = "failed"
	RunCancelled        RunState = "cancelled"
	RunTimedOut         RunState = "timed_out"
	RunDenied           RunState = "denied"
	RunInterrupted      RunState = "interrupted"
)

// Final reports whether s ends a run.
func (s RunState) Final() bool {
	switch s {
	case RunSucceeded, RunFailed, RunCancelled, RunTimedOut, RunDenied, RunInterrupted:
		return true
	}
	return false
}

var runOrder = map[RunState]int{RunPending: 0, RunAwaitingApproval: 1, RunQueued: 2, RunRunning: 3}

// CanMoveTo reports whether a run in state s may move to next. Final states
// never move; the non-final ones move only forward, except that a running run
// may wait for a mid-run approval (running → awaiting_approval → running).
func (s RunState) CanMoveTo(next RunState) bool {
	if s.Final() || s == next {
		return false
	}
	if next.Final() {
		if s == RunPending || s == RunAwaitingApproval || s == RunQueued {
			// Not started: it can be denied, cancelled or interrupted, or fail at start.
			return next != RunSucceeded && next != RunTimedOut
		}
		return true
	}
	if s == RunRunning && next == RunAwaitingApproval {
		return true
	}
	if s == RunAwaitingApproval && next == RunRunning {
		return true
	}
	return runOrder[next] > runOrder[s]
}

// RollbackState records the rollback of a run, separately from its state.
type RollbackState string

// The rollback states; "" means no rollback ran.
const (
	RollbackNone    RollbackState = ""
	RollbackRunning RollbackState = "rolling_back"
	RolledBack      RollbackState = "rolled_back"
	RollbackFailed  RollbackState = "rollback_failed"
)

// StepState is the state of one step of a run.
type StepState string

// The step states.
const (
	StepPending          StepState = "pending"
	StepRunning          StepState = "running"
	StepAwaitingApproval StepState = "awaiting_approval"
	StepSucceeded        StepState = "succeeded"
	StepFailed           StepState = "failed"
	StepTimedOut         StepState = "timed_out"
	StepCancelled        StepState = "cancelled"
	StepSkipped          StepState = "skipped"
)

// Final reports whether the step has ended.
func (s StepState) Final() bool {
	switch s {
	case StepSucceeded, StepFailed, StepTimedOut, StepCancelled, StepSkipped:
		return true
	}
	return false
}

// Trigger says what started a run.
type Trigger string

// The triggers. Chat, button, PR comments and the CLI are people; the
// others are automations that act as TriggerActor(kind).
const (
	TriggerChat        Trigger = "chat"         // typed text: a slash command, a mention, the terminal
	TriggerButton      Trigger = "button"       // a button on a message
	TriggerPRComment   Trigger = "pr_comment"   // a command in a pull request comment
	TriggerCLI         Trigger = "cli"          // dayops run
	TriggerPullRequest Trigger = "pull_request" // a pull request event (merged, …)
	TriggerSchedule    Trigger = "schedule"
	TriggerAlert       Trigger = "alert"
	TriggerIncident    Trigger = "incident" // a message or a new channel matched an incident trigger
)

// Automated reports whether runs of this trigger have no person behind them:
// they act as TriggerActor(t).
func (t Trigger) Automated() bool {
	switch t {
	case TriggerPullRequest, TriggerSchedule, TriggerAlert, TriggerIncident:
		return true
	}
	return false
}

// TriggerActor is the identity an automated trigger acts as. Roles name it
// as a member ("trigger:alert"); it may do only what a role grants it.
func TriggerActor(t Trigger) Actor {
	return Actor{ID: "trigger:" + string(t), Name: string(t) + " trigger"}
}

// Context keys a trigger records on its run (Run.Context). Pull request
// fields are "pr.FIELD" (PRFields), alert labels "alert.label.NAME".
const (
	ContextAlertName    = "alert.alertname"
	ContextAlertLabel   = "alert.label."  // + label name
	ContextScheduleTime = "schedule.time" // RFC 3339, the firing the run is for
	ContextScheduleCron = "schedule.cron"
	ContextIncident     = "incident.channel"
	// ContextNoSecrets is "true" on a run that gets no secrets
	// (RunRequest.NoSecrets); runs it starts with uses: inherit it.
	ContextNoSecrets = "run.no_secrets"
	contextPR        = "pr."
)

// NoSecrets reports whether the run, started with RunRequest.NoSecrets,
// runs without any secret.
func (r *Run) NoSecrets() bool { return r.Context[ContextNoSecrets] == "true" }

// PRContext returns the pr.* values of a trigger context, without the prefix.
func PRContext(c map[string]string) map[string]string {
	var out map[string]string
	for k, v := range c {
		if f, ok := strings.CutPrefix(k, contextPR); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[f] = v
		}
	}
	return out
}

// WithPR returns c with pr as its pr.* values.
func WithPR(c map[string]string, pr map[string]string) map[string]string {
	if len(pr) == 0 {
		return c
	}
	out := maps.Clone(c)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range pr {
		out[contextPR+k] = v
	}
	return out
}

// Run is one execution of a definition.
type Run struct {
	ID             int64
	Definition     string
	Phase          Phase
	Service        string
	Environment    string
	Params         map[string]string
	Revision       string
	PlanHash       string
	ConcurrencyKey string
	State          RunState
	Rollback       RollbackState
	RollbackOf     int64 // the run this one rolls back (rollback SERVICE ENV)
	ParentID       int64 // the run whose uses: step started this one
	Trigger        Trigger
	Context        map[string]string // what the trigger knew: pr.*, alert.*, schedule.* (see the Context keys)
	Actor          Actor
	Thread         Thread
	Reason         string // why it ended as it did, for users
	Owner          string // host/pid/start of the process that runs it
	Heartbeat      time.Time
	CurrentStep    string // the last step that started
	CreatedAt      time.Time
	StartedAt      time.Time
	EndedAt        time.Time
	Steps          []StepRun
}

// Duration is how long the run ran (or has run, against now).
func (r *Run) Duration(now time.Time) time.Duration {
	if r.StartedAt.IsZero() {
		return 0
	}
	end := r.EndedAt
	if end.IsZero() {
		end = now
	}
	return end.Sub(r.StartedAt)
}

// StepRun is one step of a run as it happened.
type StepRun struct {
	RunID     int64
	Index     int    // position: steps 0…n-1, rollback steps n…
	StepID    string // the definition's id:, may be ""
	Name      string
	Kind      StepKind
	Rollback  bool
	State     StepState
	ExitCode  int
	Attempts  int
	Error     string // user-facing reason, redacted
	Outputs   map[string]string
	StartedAt time.Time
	EndedAt   time.Time
}

// Details are what a one-line account of the step adds to its name and
// state: " (rollback, 1.2s, 2 attempts, exit status 3)", or "".
func (s StepRun) Details() string {
	var parts []string
	if s.Rollback {
		parts = append(parts, "rollback")
	}
	if !s.StartedAt.IsZero() && !s.EndedAt.IsZero() {
		parts = append(parts, s.EndedAt.Sub(s.StartedAt).Round(time.Millisecond).String())
	}
	if s.Attempts > 1 {
		parts = append(parts, fmt.Sprintf("%d attempts", s.Attempts))
	}
	if s.Error != "" {
		parts = append(parts, s.Error)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// FormatParams renders parameters sorted, each value cut to 60 characters:
// "a=1 version=v1.2.0".
func FormatParams(p map[string]string) string {
	keys := slices.Sorted(maps.Keys(p))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + Truncate(p[k], 60)
	}
	return strings.Join(parts, " ")
}

// Stream is where a log line came from.
type Stream string

// The streams.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
	System Stream = "system" // dayops's own notes: retries, timeouts, kills
)

// LogLine is one line of a run's output, already redacted.
type LogLine struct {
	RunID  int64
	Step   int   // StepRun.Index
	Seq    int64 // order within the run
	Time   time.Time
	Stream Stream
	Text   string
}

// RunRequest is what every door hands the pipeline: who wants what run.
type RunRequest struct {
	Definition  string
	Environment string
	Params      map[string]string // as given, not yet validated
	Actor       Actor
	Thread      Thread
	Trigger     Trigger
	Context     map[string]string // the trigger's context; its pr.* values are the expressions' pr
	RollbackOf  int64
	ParentID    int64
	// NoSecrets runs it without any secret: its steps get none of the
	// server's secret values, whatever the definition declares (a pull
	// request from a fork).
	NoSecrets bool
	// Override is the reason given to start the run although phase gates
	// are missing; only a role granting override:PHASE:NAME[:ENV] may.
	Override string
}

// PlannedStep is a step as a plan shows it.
type PlannedStep struct {
	Index    int
	StepID   string
	Name     string
	Kind     StepKind
	If       Condition
	Detail   string // the script's first line, the expanded URL, the approval text, the used definition
	Timeout  time.Duration
	Retries  int
	Rollback bool
	Hosts    []string // a step with on:: the targets it runs on, in order
}

// Plan is what a run would do, resolved, before anything runs.
type Plan struct {
	Definition     *Definition
	Revision       string
	Environment    string
	Params         map[string]string // validated, with defaults
	Env            []EnvVar          // expanded, secret values masked
	ConcurrencyKey string
	Steps          []PlannedStep
	Rollback       []PlannedStep
	Approval       *ApprovalRule // the environment's gate, nil when none
	Approvers      []string      // members of the roles that may approve
	Secrets        []string
	Timeout        time.Duration
	Hash           string       // binds approvals to exactly this plan
	Gates          []GateStatus // phase gates (requires:), met or missing; unknown without a database
	GatesUnknown   bool         // the gates could not be checked (no database): see Gates' Command
	Warnings       []string     // what would stop or change a run, e.g. a declared secret that is not configured
	Changes        string       // unified diff of the definition since its last successful run, "" when none or unknown
	ChangesSince   string       // the revision Changes is measured from
}

// PlanHash is the hash an approval is bound to: the revision, the definition's
// content, the environment and the parameters.
func PlanHash(revision string, def *Definition, env string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	type kv struct{ K, V string }
	ordered := make([]kv, len(keys))
	for i, k := range keys {
		ordered[i] = kv{k, params[k]}
	}
	content := sha256.Sum256(def.Source.Content)
	b, _ := json.Marshal(struct {
		Revision, Name, Content, Env string
		Params                       []kv
	}{revision, def.Name, hex.EncodeToString(content[:]), env, ordered})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// EventKind says what a RunEvent reports.
type EventKind string

// The event kinds.
const (
	EventState       EventKind = "state"       // the run changed state (Run.State)
	EventStep        EventKind = "step"        // a step changed state (Step)
	EventLog         EventKind = "log"         // an output line (Line)
	EventApproval    EventKind = "approval"    // an approval or denial was recorded (Approval)
	EventInterrupted EventKind = "interrupted" // found interrupted at start-up; its door should tell its thread
)

// RunEvent is what the executor publishes to the doors. Run is a snapshot the
// receiver may keep; it must not block the sender.
type RunEvent struct {
	Kind     EventKind
	Run      *Run
	Step     *StepRun
	Line     *LogLine
	Approval *Approval
	Message  string // a human summary, redacted
	Time     time.Time
}
