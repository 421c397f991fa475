package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/google/go-cmp/cmp"
)

func testQueue(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	var ids []int64
	for range 4 {
		ids = append(ids, MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunQueued)).ID)
	}
	a, b, c, d := ids[0], ids[1], ids[2], ids[3]
	if head, err := s.QueueHead(ctx, "k1"); err != nil || head != 0 {
		t.Fatalf("QueueHead of an empty queue = %d, %v; want 0", head, err)
	}
	// Arrival order, not ID order; k2 is independent of k1.
	for _, e := range []struct {
		key string
		id  int64
	}{{"k1", c}, {"k1", a}, {"k2", b}, {"k1", d}, {"k2", c}} {
		if err := s.Enqueue(ctx, e.key, e.id); err != nil {
			t.Fatalf("Enqueue(%s, %d): %v", e.key, e.id, err)
		}
	}
	// Enqueueing again keeps the place.
	if err := s.Enqueue(ctx, "k1", c); err != nil {
		t.Fatalf("Enqueue again: %v", err)
	}
	check := func(key string, want ...int64) {
		t.Helper()
		head, err := s.QueueHead(ctx, key)
		if err != nil {
			t.Fatalf("QueueHead(%s): %v", key, err)
		}
		if len(want) == 0 {
			if head != 0 {
				t.Errorf("QueueHead(%s) = %d, want 0", key, head)
			}
			return
		}
		if head != want[0] {
			t.Errorf("QueueHead(%s) = %d, want %d", key, head, want[0])
		}
		for pos, id := range want {
			got, err := s.QueuePosition(ctx, key, id)
			if err != nil || got != pos {
				t.Errorf("QueuePosition(%s, %d) = %d, %v; want %d", key, id, got, err, pos)
			}
		}
	}
	check("k1", c, a, d)
	check("k2", b, c)
	_, err := s.QueuePosition(ctx, "k2", a)
	WantKind(t, err, dayops.KindNotFound, fmt.Sprintf("run %d", a), "k2")

	// c leaves both queues at once; the next in each moves up.
	if err := s.Dequeue(ctx, c); err != nil {
		t.Fatalf("Dequeue: %v", err)
	}
	check("k1", a, d)
	check("k2", b)
	if err := s.Dequeue(ctx, c); err != nil {
		t.Errorf("Dequeue of a run in no queue: %v", err)
	}
	for _, id := range []int64{a, d, b} {
		if err := s.Dequeue(ctx, id); err != nil {
			t.Fatalf("Dequeue: %v", err)
		}
	}
	check("k1")
	check("k2")
	// A run that comes back joins at the back.
	if err := s.Enqueue(ctx, "k1", d); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, "k1", a); err != nil {
		t.Fatal(err)
	}
	check("k1", d, a)
	WantKind(t, s.Enqueue(ctx, "k1", 9999), dayops.KindNotFound, "no run 9999")
	WantKind(t, s.Enqueue(ctx, "", a), dayops.KindInvalid)
}

func testLocks(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	alice := dayops.Actor{ID: "slack:U1", Name: "alice", Groups: []string{"slack-group:S0SRE"}}
	if l, err := s.EnvironmentLock(ctx, "production"); err != nil || l != nil {
		t.Fatalf("EnvironmentLock before locking = %v, %v; want nil, nil", l, err)
	}
	lock := dayops.EnvLock{Environment: "production", Actor: alice, Reason: "release freeze"}
	ev := dayops.AuditEvent{Actor: alice.ID, Action: "lock", Target: "env production", Allowed: true, Reason: "release freeze"}
	if err := s.LockEnvironment(ctx, lock, ev); err != nil {
		t.Fatalf("LockEnvironment: %v", err)
	}
	if err := s.LockEnvironment(ctx, dayops.EnvLock{Environment: "staging", Actor: alice}, dayops.AuditEvent{}); err != nil {
		t.Fatalf("LockEnvironment staging: %v", err)
	}
	wantLock := lock
	wantLock.CreatedAt = clk.Now()
	got, err := s.EnvironmentLock(ctx, "production")
	if err != nil {
		t.Fatalf("EnvironmentLock: %v", err)
	}
	if diff := cmp.Diff(&wantLock, got); diff != "" {
		t.Errorf("lock (-want +got):\n%s", diff)
	}

	clk.Advance(time.Hour)
	bob := dayops.Actor{ID: "slack:U2", Name: "bob"}
	err = s.LockEnvironment(ctx, dayops.EnvLock{Environment: "production", Actor: bob, Reason: "mine"}, dayops.AuditEvent{Actor: bob.ID, Action: "lock", Allowed: true})
	// The clock's 10:02 CET is 09:02 UTC.
	WantKind(t, err, dayops.KindConflict, "environment production is locked by alice since 09:02 UTC: release freeze")
	clk.Advance(48 * time.Hour)
	err = s.LockEnvironment(ctx, dayops.EnvLock{Environment: "production", Actor: bob}, dayops.AuditEvent{})
	WantKind(t, err, dayops.KindConflict, "since 2025-03-14 09:02 UTC")

	locks, err := s.EnvironmentLocks(ctx)
	if err != nil {
		t.Fatalf("EnvironmentLocks: %v", err)
	}
	if len(locks) != 2 || locks[0].Environment != "production" || locks[1].Environment != "staging" || locks[0].Actor.Name != "alice" {
		t.Errorf("EnvironmentLocks = %+v; want production by alice, staging", locks)
	}

	if err := s.UnlockEnvironment(ctx, "production", dayops.AuditEvent{Actor: bob.ID, Action: "unlock", Allowed: true}); err != nil {
		t.Fatalf("UnlockEnvironment: %v", err)
	}
	WantKind(t, s.UnlockEnvironment(ctx, "production", dayops.AuditEvent{}), dayops.KindNotFound, "environment production is not locked")
	if l, err := s.EnvironmentLock(ctx, "production"); err != nil || l != nil {
		t.Errorf("EnvironmentLock after unlock = %v, %v; want nil", l, err)
	}
	// bob may lock it now.
	if err := s.LockEnvironment(ctx, dayops.EnvLock{Environment: "production", Actor: bob}, dayops.AuditEvent{}); err != nil {
		t.Errorf("LockEnvironment after unlock: %v", err)
	}
	// lock, lock staging, unlock, lock by bob: the refused ones left no row.
	evs, err := s.AuditEvents(ctx, dayops.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action+" "+e.Target)
	}
	want := []string{"lock env production", "unlock env production", "lock env staging", "lock env production"}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("audit actions, newest first (-want +got):\n%s", diff)
	}
}

func testApprovals(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	run := MustCreate(t, s, NewRun("deploy-web", "production", dayops.RunAwaitingApproval))
	other := MustCreate(t, s, NewRun("deploy-web", "production", dayops.RunAwaitingApproval))
	bob := dayops.Actor{ID: "slack:U2", Name: "bob", Groups: []string{"slack-group:S0SRE"}}
	adds := []*dayops.Approval{
		{RunID: run.ID, Gate: dayops.GateEnvironment, Actor: bob, Approved: true, PlanHash: "h1", Valid: true, Note: "role sre"},
		{RunID: other.ID, Gate: dayops.GateEnvironment, Actor: bob, Approved: true, PlanHash: "h1", Valid: true},
		{RunID: run.ID, Gate: "step:confirm", Actor: dayops.Actor{ID: "slack:U1"}, Approved: false, Reason: "dashboards red", PlanHash: "h1", Note: "denied"},
		{RunID: run.ID, Gate: dayops.GateEnvironment, Actor: bob, Approved: true, PlanHash: "h1", Valid: false, Note: "repeat"},
	}
	for _, a := range adds {
		clk.Advance(time.Second)
		if err := s.AddApproval(ctx, a, dayops.AuditEvent{Actor: a.Actor.ID, Action: "approval", Allowed: true}); err != nil {
			t.Fatalf("AddApproval: %v", err)
		}
		if a.ID == 0 || !a.CreatedAt.Equal(clk.Now()) {
			t.Errorf("AddApproval assigned ID %d CreatedAt %v; want an ID and %v", a.ID, a.CreatedAt, clk.Now())
		}
	}
	tests := []struct {
		gate string
		want []*dayops.Approval
	}{
		{"", []*dayops.Approval{adds[0], adds[2], adds[3]}},
		{dayops.GateEnvironment, []*dayops.Approval{adds[0], adds[3]}},
		{"step:confirm", []*dayops.Approval{adds[2]}},
		{"step:none", nil},
	}
	for _, tc := range tests {
		got, err := s.Approvals(ctx, run.ID, tc.gate)
		if err != nil {
			t.Fatalf("Approvals(%q): %v", tc.gate, err)
		}
		var want []dayops.Approval
		for _, a := range tc.want {
			want = append(want, *a)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Approvals(%q) (-want +got):\n%s", tc.gate, diff)
		}
	}
	if n := auditCount(t, s, run.ID); n != 4 { // create + 3 approvals
		t.Errorf("audit rows of run = %d, want 4", n)
	}
	WantKind(t, s.AddApproval(ctx, &dayops.Approval{RunID: 777, Gate: "environment"}, dayops.AuditEvent{}), dayops.KindNotFound, "no run 777")
	WantKind(t, s.AddApproval(ctx, &dayops.Approval{RunID: run.ID}, dayops.AuditEvent{}), dayops.KindInvalid, "gate")
	if n := auditCount(t, s, 0); n != 6 {
		t.Errorf("audit rows = %d, want 6: refused approvals write none", n)
	}
}

func testLogs(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	run := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunRunning))
	other := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunRunning))
	base := clk.Now()
	var lines []dayops.LogLine
	for i := range 10 {
		lines = append(lines, dayops.LogLine{RunID: run.ID, Step: i / 4, Seq: int64(10 - i), Time: base.Add(time.Duration(i) * time.Millisecond),
			Stream: dayops.Stdout, Text: fmt.Sprintf("line %d with ünïcode\t", i)})
	}
	lines[3].Stream, lines[4].Stream, lines[5].Text = dayops.Stderr, dayops.System, ""
	lines[6].Time = time.Time{} // stamped now
	clk.Advance(time.Hour)
	if err := s.AppendLogs(ctx, lines); err != nil {
		t.Fatalf("AppendLogs: %v", err)
	}
	if err := s.AppendLogs(ctx, []dayops.LogLine{{RunID: other.ID, Seq: 1, Time: base, Stream: dayops.Stdout, Text: "other"}}); err != nil {
		t.Fatalf("AppendLogs other: %v", err)
	}
	if err := s.AppendLogs(ctx, nil); err != nil {
		t.Errorf("AppendLogs(nil): %v", err)
	}
	lines[6].Time = clk.Now()
	byseq := make([]dayops.LogLine, 0, len(lines))
	for i := len(lines) - 1; i >= 0; i-- {
		byseq = append(byseq, lines[i])
	}
	tests := []struct {
		after int64
		limit int
		want  []dayops.LogLine
	}{
		{0, 0, byseq},
		{4, 0, byseq[4:]},
		{4, 3, byseq[4:7]},
		{10, 0, nil},
	}
	for _, tc := range tests {
		got, err := s.Logs(ctx, run.ID, tc.after, tc.limit)
		if err != nil {
			t.Fatalf("Logs: %v", err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Logs(after %d, limit %d) (-want +got):\n%s", tc.after, tc.limit, diff)
		}
	}

	// A batch with one bad line is refused whole.
	bad := []dayops.LogLine{{RunID: run.ID, Seq: 11, Text: "new"}, {RunID: run.ID, Seq: 5, Text: "again"}}
	WantKind(t, s.AppendLogs(ctx, bad), dayops.KindConflict, fmt.Sprintf("run %d already has log line 5", run.ID))
	WantKind(t, s.AppendLogs(ctx, []dayops.LogLine{{RunID: 12345, Seq: 1}}), dayops.KindNotFound, "no run 12345")
	if got, _ := s.Logs(ctx, run.ID, 10, 0); len(got) != 0 {
		t.Errorf("a refused batch left %d lines", len(got))
	}

	// Big batches: the duplicate may be in a later part than its twin.
	big := make([]dayops.LogLine, 250)
	for i := range big {
		big[i] = dayops.LogLine{RunID: other.ID, Seq: int64(100 + i), Time: clk.Now(), Stream: dayops.Stdout, Text: fmt.Sprint(i)}
	}
	big[230].Seq = big[10].Seq
	WantKind(t, s.AppendLogs(ctx, big), dayops.KindConflict, fmt.Sprintf("run %d already has log line 110", other.ID))
	big[230].Seq = 330
	big[240].RunID = 54321
	WantKind(t, s.AppendLogs(ctx, big), dayops.KindNotFound, "no run 54321")
	if got, _ := s.Logs(ctx, other.ID, 1, 0); len(got) != 0 {
		t.Errorf("refused big batches left %d lines", len(got))
	}
	big[240].RunID = other.ID
	if err := s.AppendLogs(ctx, big); err != nil {
		t.Fatalf("AppendLogs of 250 lines: %v", err)
	}
	if got, err := s.Logs(ctx, other.ID, 1, 0); err != nil || len(got) != 250 || got[249].Seq != 349 || got[249].Text != "249" {
		t.Errorf("Logs of the big batch = %d lines, %v", len(got), err)
	}
}

func testAudit(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	run := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunPending))
	refused := dayops.AuditEvent{Actor: "slack:U9", Where: "slack:C01/2", Action: "authorize", Target: "day1:deploy-web:production",
		Reason: "mallory has no role that allows run day1:deploy-web:production"}
	clk.Advance(time.Second)
	if err := s.Audit(ctx, refused); err != nil {
		t.Fatalf("Audit: %v", err)
	}
	stamped := dayops.AuditEvent{Time: clk.Now().Add(time.Hour), Actor: "system:schedule", Action: "run.state", RunID: run.ID, Allowed: true}
	if err := s.Audit(ctx, stamped); err != nil {
		t.Fatalf("Audit: %v", err)
	}
	all, err := s.AuditEvents(ctx, dayops.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	refused.Time = clk.Now()
	if len(all) != 3 {
		t.Fatalf("%d events, want 3", len(all))
	}
	refused.ID, stamped.ID = all[1].ID, all[0].ID
	if diff := cmp.Diff([]dayops.AuditEvent{stamped, refused}, all[:2]); diff != "" {
		t.Errorf("AuditEvents newest first (-want +got):\n%s", diff)
	}
	if all[2].Action != "run.start" || all[2].RunID != run.ID {
		t.Errorf("oldest event = %+v, want the run.start of run %d", all[2], run.ID)
	}
	ofRun, err := s.AuditEvents(ctx, dayops.AuditFilter{RunID: run.ID, Limit: 1})
	if err != nil || len(ofRun) != 1 || ofRun[0].ID != stamped.ID {
		t.Errorf("AuditEvents(run, limit 1) = %+v, %v; want the newest event of the run", ofRun, err)
	}
	for range 120 {
		if err := s.Audit(ctx, dayops.AuditEvent{Action: "read"}); err != nil {
			t.Fatal(err)
		}
	}
	if evs, err := s.AuditEvents(ctx, dayops.AuditFilter{}); err != nil || len(evs) != 100 {
		t.Errorf("AuditEvents with limit 0 = %d, %v; want 100", len(evs), err)
	}
}

// testAuditRollback shows an audit row exists exactly when its change does.
func testAuditRollback(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	run := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunRunning))
	if _, err := s.TransitionRun(ctx, run.ID, dayops.RunSucceeded, "", dayops.AuditEvent{Action: "run.state", Allowed: true}); err != nil {
		t.Fatal(err)
	}
	before := auditCount(t, s, 0)
	if _, err := s.TransitionRun(ctx, run.ID, dayops.RunFailed, "", dayops.AuditEvent{Action: "run.state", Allowed: true}); err == nil {
		t.Fatal("moving an ended run succeeded")
	}
	// A run referring to a missing run is refused in its transaction:
	// neither the run nor its audit row is kept.
	bad := NewRun("deploy-web", "staging", dayops.RunPending)
	bad.RollbackOf = 4242
	WantKind(t, s.CreateRun(ctx, bad, dayops.AuditEvent{Action: "run.start", Allowed: true}), dayops.KindNotFound)
	if bad.ID != 0 {
		t.Errorf("a refused CreateRun assigned ID %d", bad.ID)
	}
	if got := auditCount(t, s, 0); got != before {
		t.Errorf("audit rows %d after refused changes, want %d", got, before)
	}
	runs, err := s.Runs(ctx, dayops.RunFilter{})
	if err != nil || len(runs) != 1 {
		t.Errorf("runs = %d, %v; want only the first run", len(runs), err)
	}
	// A zero event still leaves a row saying what changed.
	if _, err := s.TransitionRun(ctx, MustCreate(t, s, NewRun("x", "", dayops.RunPending)).ID, dayops.RunRunning, "go", dayops.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.AuditEvents(ctx, dayops.AuditFilter{Limit: 1})
	if err != nil || len(evs) != 1 || evs[0].Action != "run.state" || evs[0].Reason != "pending -> running: go" || !evs[0].Allowed {
		t.Errorf("default audit event = %+v, %v", evs, err)
	}
}

func testDeliveries(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	for _, tc := range []struct {
		source, id string
		first      bool
	}{
		{"github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", true},
		{"github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", false},
		{"slack", "72d3162e-cc78-11e3-81ab-4c9367dc0958", true},
		{"github", "other", true},
		{"slack", "72d3162e-cc78-11e3-81ab-4c9367dc0958", false},
	} {
		first, err := s.FirstDelivery(ctx, tc.source, tc.id)
		if err != nil || first != tc.first {
			t.Errorf("FirstDelivery(%s, %s) = %v, %v; want %v", tc.source, tc.id, first, err, tc.first)
		}
	}
}

func testSyncs(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	if got, err := s.Syncs(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("Syncs of a new store = %v, %v", got, err)
	}
	recs := []*dayops.SyncRecord{
		{Duration: 1234567 * time.Nanosecond, Revision: "aaa", Serving: "aaa", Outcome: dayops.SyncUpdated, Definitions: 7},
		{Duration: time.Second, Revision: "bbb", Serving: "aaa", Outcome: dayops.SyncInvalid, Definitions: 7,
			Errors: []string{"ops/deploy.yaml:3:1: unknown key \"stpes\"", "ops/x.yaml:1:1: bad"}},
		{Time: clk.Now().Add(time.Hour), Outcome: dayops.SyncFailed, Serving: "aaa", Errors: []string{}},
	}
	for _, r := range recs {
		clk.Advance(time.Minute)
		want := clk.Now()
		if !r.Time.IsZero() {
			want = r.Time
		}
		if err := s.RecordSync(ctx, r); err != nil {
			t.Fatalf("RecordSync: %v", err)
		}
		if r.ID == 0 || !r.Time.Equal(want) {
			t.Errorf("RecordSync assigned ID %d Time %v; want an ID and %v", r.ID, r.Time, want)
		}
	}
	got, err := s.Syncs(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]dayops.SyncRecord{*recs[2], *recs[1]}, got); diff != "" {
		t.Errorf("Syncs(2) (-want +got):\n%s", diff)
	}
	if got, err := s.Syncs(ctx, 0); err != nil || len(got) != 3 || got[2].ID != recs[0].ID {
		t.Errorf("Syncs(0) = %d records, %v; want all 3, newest first", len(got), err)
	}
}
