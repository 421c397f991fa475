// Package storagetest is the conformance suite of dayops's storage: the
// behaviour every implementation of the store (SQLite, and PostgreSQL for
// several replicas) must show, run from the implementation's own test with
// Run(t, open).
package storagetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// API is the storage contract as the rest of dayops uses it. The
// conformance suite is written against it, not against *Store, so that a
// second implementation (PostgreSQL) can run the same test body unchanged.
type API interface {
	CreateRun(ctx context.Context, run *dayops.Run, ev dayops.AuditEvent) error
	TransitionRun(ctx context.Context, id int64, to dayops.RunState, reason string, ev dayops.AuditEvent) (*dayops.Run, error)
	SetRollbackState(ctx context.Context, id int64, st dayops.RollbackState, ev dayops.AuditEvent) error
	SetWaitReason(ctx context.Context, id int64, state dayops.RunState, reason string) (bool, error)
	UpdateStep(ctx context.Context, st dayops.StepRun) error
	SetOwner(ctx context.Context, id int64, owner string, at time.Time) error
	Heartbeat(ctx context.Context, owner string, at time.Time) (int64, error)
	TakeOver(ctx context.Context, id int64, from string, seen time.Time, to string, at time.Time) (bool, error)
	Run(ctx context.Context, id int64) (*dayops.Run, error)
	Runs(ctx context.Context, f dayops.RunFilter) ([]*dayops.Run, error)
	LastSucceeded(ctx context.Context, definition, environment string, beforeID int64) (*dayops.Run, error)
	Enqueue(ctx context.Context, key string, runID int64) error
	QueueHead(ctx context.Context, key string) (int64, error)
	QueuePosition(ctx context.Context, key string, runID int64) (int, error)
	Dequeue(ctx context.Context, runID int64) error
	LockEnvironment(ctx context.Context, l dayops.EnvLock, ev dayops.AuditEvent) error
	UnlockEnvironment(ctx context.Context, env string, ev dayops.AuditEvent) error
	EnvironmentLock(ctx context.Context, env string) (*dayops.EnvLock, error)
	EnvironmentLocks(ctx context.Context) ([]dayops.EnvLock, error)
	AddApproval(ctx context.Context, a *dayops.Approval, ev dayops.AuditEvent) error
	Approvals(ctx context.Context, runID int64, gate string) ([]dayops.Approval, error)
	AppendLogs(ctx context.Context, lines []dayops.LogLine) error
	Logs(ctx context.Context, runID int64, afterSeq int64, limit int) ([]dayops.LogLine, error)
	LogsBefore(ctx context.Context, runID, beforeSeq int64, limit int) ([]dayops.LogLine, error)
	SearchLogs(ctx context.Context, runID int64, step int, text string, afterSeq int64, limit int) ([]dayops.LogLine, error)
	PruneLogs(ctx context.Context, endedBefore time.Time, limit int) (int64, error)
	Audit(ctx context.Context, ev dayops.AuditEvent) error
	AuditEvents(ctx context.Context, f dayops.AuditFilter) ([]dayops.AuditEvent, error)
	FirstDelivery(ctx context.Context, source, id string) (bool, error)
	RecordSync(ctx context.Context, r *dayops.SyncRecord) error
	Syncs(ctx context.Context, limit int) ([]dayops.SyncRecord, error)
	AddReport(ctx context.Context, r dayops.Report) (bool, error)
	UpdateReport(ctx context.Context, r dayops.Report) error
	Reports(ctx context.Context, runID int64) ([]dayops.Report, error)
	UnfinishedReports(ctx context.Context, limit int) ([]dayops.Report, error)
	EnqueueOutgoing(ctx context.Context, o dayops.Outgoing) (int64, error)
	OutgoingChannels(ctx context.Context, door string) ([]string, error)
	DueOutgoing(ctx context.Context, door, channel string, limit int) ([]dayops.Outgoing, error)
	MarkDelivered(ctx context.Context, id int64, at time.Time) error
	MarkFailed(ctx context.Context, id int64, next time.Time, lastError string) error
	AddInbound(ctx context.Context, in dayops.Inbound) (bool, error)
	DueInbound(ctx context.Context, source string, now time.Time, limit int) ([]dayops.Inbound, error)
	MarkInboundDone(ctx context.Context, id int64, at time.Time) error
	MarkInboundFailed(ctx context.Context, id int64, next time.Time, lastError string) error
	Counts(ctx context.Context) (*dayops.StoreCounts, error)
	OpenAlertGroup(ctx context.Context, key string, alerts []dayops.AlertInstance) (bool, error)
	SetAlertGroup(ctx context.Context, key string, thread dayops.Thread, runID int64) error
	ResolveAlertGroup(ctx context.Context, key string) (*dayops.AlertGroup, error)
	AlertGroup(ctx context.Context, key string) (*dayops.AlertGroup, error)
	GuardAutoRun(ctx context.Context, g dayops.GuardCheck) (dayops.GuardVerdict, error)
	ClaimFiring(ctx context.Context, f dayops.ScheduleFiring) (bool, error)
	SetFiringRun(ctx context.Context, definition, cron string, at time.Time, runID int64) error
	Firings(ctx context.Context, definition, cron string, limit int) ([]dayops.ScheduleFiring, error)
	ClaimInbound(ctx context.Context, source, owner string, now time.Time, lease time.Duration, limit int) ([]dayops.Inbound, error)
	ClaimOutgoing(ctx context.Context, door, channel, owner string, now time.Time, lease time.Duration, limit int) ([]dayops.Outgoing, time.Time, error)
	ReleaseClaims(ctx context.Context, owner string) error
	PruneDone(ctx context.Context, before time.Time, limit int) (int64, error)
	ClaimOwners(ctx context.Context, now time.Time) ([]string, error)
	AddOrder(ctx context.Context, o *dayops.RunOrder, ev dayops.AuditEvent) error
	WaitingOrders(ctx context.Context, owner string, limit int) ([]dayops.RunOrder, error)
	FinishOrder(ctx context.Context, id int64, outcome string, at time.Time) (bool, error)
	Orders(ctx context.Context, runID int64) ([]dayops.RunOrder, error)
	Ping(ctx context.Context) error
	Close() error
}

// Opener makes a fresh, empty store whose clock is now.
type Opener func(t *testing.T, now func() time.Time) API

type opener = Opener

// Run is the behavioural suite every implementation of API must pass:
// SQLite runs it in package storage (TestConformance), and PostgreSQL
// the same, unchanged (TestConformancePostgres).
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open opener)
	}{
		{"run round trip", testRunRoundTrip},
		{"run not found", testRunNotFound},
		{"runs filter and paging", testRunsFilter},
		{"transition table", testTransitionTable},
		{"transition every pair", testTransitionPairs},
		{"transition times and reason", testTransitionTimes},
		{"concurrent transitions", testConcurrentTransitions},
		{"rollback state", testRollbackState},
		{"wait reason", testWaitReason},
		{"steps upsert", testSteps},
		{"owner and heartbeat", testOwnerHeartbeat},
		{"take over a run", testTakeOver},
		{"last succeeded", testLastSucceeded},
		{"queue", testQueue},
		{"environment locks", testLocks},
		{"approvals", testApprovals},
		{"logs", testLogs},
		{"log tail and search", testLogTailAndSearch},
		{"prune logs of ended runs in batches", testPruneLogs},
		{"audit", testAudit},
		{"audit with the change only", testAuditRollback},
		{"deliveries", testDeliveries},
		{"sync history", testSyncs},
		{"reports and trigger context", testReports},
		{"outbox", testOutbox},
		{"inbox", testInbox},
		{"counts for metrics", testCounts},
		{"alert groups", testAlertGroups},
		{"remediation guard", testGuard},
		{"schedule firings", testFirings},
		{"checklist answers", testChecklist},
		{"pruning what is done", testPruneDone},
		{"inbox claims", testInboxClaims},
		{"concurrent inbox claimers", testConcurrentInboxClaims},
		{"outbox claims", testOutboxClaims},
		{"concurrent outbox claimers", testConcurrentOutboxClaims},
		{"run orders", testOrders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// Clock is a settable test Clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at a time with nanoseconds in a non-UTC zone.
func NewClock() *Clock {
	// Nanoseconds and a non-UTC zone prove times round-trip exactly.
	return &Clock{t: time.Date(2025, 3, 14, 10, 2, 3, 123456789, time.FixedZone("CET", 3600))}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// NewRun is a run of definition in env with everything filled in.
func NewRun(definition, env string, state dayops.RunState) *dayops.Run {
	return &dayops.Run{
		Definition:     definition,
		Phase:          dayops.Day1,
		Service:        "web",
		Environment:    env,
		Params:         map[string]string{"version": "v1.2.3", "force": "false"},
		Revision:       "0123456789abcdef0123456789abcdef01234567",
		PlanHash:       "feedbeef",
		ConcurrencyKey: definition + "-" + env,
		State:          state,
		Trigger:        dayops.TriggerChat,
		Actor:          dayops.Actor{ID: "slack:U012ABC", Name: "alice", Groups: []string{"slack-group:S0SRE"}},
		Thread:         dayops.Thread{Door: "slack", Channel: "C01", Name: "deploys", ID: "1700000000.000100"},
		Owner:          "host:1:1",
	}
}

// MustCreate records run and fails the test on error.
func MustCreate(t testing.TB, s API, run *dayops.Run) *dayops.Run {
	t.Helper()
	if err := s.CreateRun(context.Background(), run, dayops.AuditEvent{Actor: run.Actor.ID, Action: "run.start", Allowed: true}); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	return run
}

// WantKind fails unless err is a *dayops.Error of kind whose message
// contains every one of parts.
func WantKind(t *testing.T, err error, kind dayops.Kind, parts ...string) {
	t.Helper()
	var de *dayops.Error
	if !errors.As(err, &de) || de.Kind != kind {
		t.Fatalf("error = %v (kind %q), want kind %q", err, dayops.KindOf(err), kind)
	}
	for _, p := range parts {
		if !strings.Contains(de.Message, p) {
			t.Errorf("message %q does not contain %q", de.Message, p)
		}
	}
}

// auditCount is the number of audit events of run id (all runs when 0).
func auditCount(t *testing.T, s API, runID int64) int {
	t.Helper()
	evs, err := s.AuditEvents(context.Background(), dayops.AuditFilter{RunID: runID, Limit: 10000})
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	return len(evs)
}
