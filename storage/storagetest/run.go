package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/google/go-cmp/cmp"
)

func testRunRoundTrip(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	parent := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunSucceeded))

	run := NewRun("deploy-web", "production", "")
	run.ParentID = parent.ID
	run.RollbackOf = parent.ID
	run.Rollback = dayops.RollbackRunning
	run.Trigger = dayops.TriggerPullRequest
	run.Reason = "merged #12"
	run.Heartbeat = clk.Now().Add(time.Second)
	run.CurrentStep = "Deploy"
	run.Steps = []dayops.StepRun{
		{Index: 1, StepID: "deploy", Name: "Deploy", Kind: dayops.StepKindRun, State: dayops.StepPending},
		{Index: 0, StepID: "backup", Name: "Back up", Kind: dayops.StepKindRun, State: dayops.StepPending, Outputs: map[string]string{}},
		{Index: 2, Name: "Roll back", Kind: dayops.StepKindRun, Rollback: true, State: dayops.StepPending},
	}
	ev := dayops.AuditEvent{Actor: "slack:U012ABC", Where: "slack:C01/1", Action: "run.start", Target: "deploy-web:production", Allowed: true, Reason: "role sre"}
	if err := s.CreateRun(ctx, run, ev); err != nil {
		t.Fatalf("CreateRun: %v", err)
	}
	if run.ID <= parent.ID {
		t.Errorf("ID = %d, want > %d", run.ID, parent.ID)
	}
	if !run.CreatedAt.Equal(clk.Now()) || run.State != dayops.RunPending {
		t.Errorf("CreatedAt, State = %v, %q; want %v, pending", run.CreatedAt, run.State, clk.Now())
	}
	for _, st := range run.Steps {
		if st.RunID != run.ID {
			t.Errorf("step %d RunID = %d, want %d", st.Index, st.RunID, run.ID)
		}
	}

	got, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := *run
	want.Steps = []dayops.StepRun{run.Steps[1], run.Steps[0], run.Steps[2]} // by Index
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("Run (-want +got):\n%s", diff)
	}

	evs, err := s.AuditEvents(ctx, dayops.AuditFilter{RunID: run.ID})
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	wantEv := ev
	wantEv.RunID, wantEv.Time = run.ID, clk.Now()
	if len(evs) != 1 {
		t.Fatalf("audit events of run %d = %d, want 1", run.ID, len(evs))
	}
	wantEv.ID = evs[0].ID
	if diff := cmp.Diff(wantEv, evs[0]); diff != "" {
		t.Errorf("audit event (-want +got):\n%s", diff)
	}

	// A run already recorded, or without a definition, is refused.
	WantKind(t, s.CreateRun(ctx, run, ev), dayops.KindInvalid, fmt.Sprint(run.ID))
	WantKind(t, s.CreateRun(ctx, &dayops.Run{}, ev), dayops.KindInvalid, "definition")
}

func testRunNotFound(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	_, err := s.Run(ctx, 42)
	WantKind(t, err, dayops.KindNotFound, "no run 42")
	_, err = s.TransitionRun(ctx, 42, dayops.RunRunning, "", dayops.AuditEvent{})
	WantKind(t, err, dayops.KindNotFound, "no run 42")
	WantKind(t, s.SetRollbackState(ctx, 42, dayops.RolledBack, dayops.AuditEvent{}), dayops.KindNotFound, "no run 42")
	WantKind(t, s.SetOwner(ctx, 42, "me", time.Now()), dayops.KindNotFound, "no run 42")
	WantKind(t, s.UpdateStep(ctx, dayops.StepRun{RunID: 42, State: dayops.StepRunning}), dayops.KindNotFound, "no run 42")
	if n := auditCount(t, s, 0); n != 0 {
		t.Errorf("audit rows after refused changes = %d, want 0", n)
	}
}

func testRunsFilter(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	type spec struct {
		def, env string
		state    dayops.RunState
	}
	specs := []spec{
		{"deploy-web", "staging", dayops.RunSucceeded},  // 1
		{"deploy-web", "production", dayops.RunFailed},  // 2
		{"deploy-api", "staging", dayops.RunRunning},    // 3
		{"deploy-web", "staging", dayops.RunQueued},     // 4
		{"backup-db", "", dayops.RunSucceeded},          // 5
		{"deploy-web", "production", dayops.RunRunning}, // 6
	}
	ids := make([]int64, len(specs))
	for i, sp := range specs {
		r := NewRun(sp.def, sp.env, sp.state)
		if sp.def == "deploy-api" {
			r.Service = "api"
		}
		if sp.def == "backup-db" {
			r.Trigger, r.Actor = dayops.TriggerSchedule, dayops.TriggerActor(dayops.TriggerSchedule)
		}
		if sp.state == dayops.RunFailed {
			r.Actor = dayops.Actor{ID: "slack:U0BOB", Name: "bob"}
		}
		r.Steps = []dayops.StepRun{{Index: 0, Name: "one"}}
		ids[i] = MustCreate(t, s, r).ID
	}
	tests := []struct {
		name string
		f    dayops.RunFilter
		want []int // positions in specs, newest first
	}{
		{"all", dayops.RunFilter{}, []int{5, 4, 3, 2, 1, 0}},
		{"definition", dayops.RunFilter{Definition: "deploy-web"}, []int{5, 3, 1, 0}},
		{"definition and env", dayops.RunFilter{Definition: "deploy-web", Environment: "staging"}, []int{3, 0}},
		{"service", dayops.RunFilter{Service: "api"}, []int{2}},
		{"states", dayops.RunFilter{States: []dayops.RunState{dayops.RunRunning, dayops.RunQueued}}, []int{5, 3, 2}},
		{"limit", dayops.RunFilter{Limit: 2}, []int{5, 4}},
		{"page", dayops.RunFilter{BeforeID: ids[4], Limit: 2}, []int{3, 2}},
		{"last page", dayops.RunFilter{BeforeID: ids[1], Limit: 2}, []int{0}},
		{"person", dayops.RunFilter{Actor: "slack:U0BOB"}, []int{1}},
		{"trigger", dayops.RunFilter{Trigger: dayops.TriggerSchedule}, []int{4}},
		{"person and trigger", dayops.RunFilter{Actor: "slack:U012ABC", Trigger: dayops.TriggerChat}, []int{5, 3, 2, 0}},
		{"nothing", dayops.RunFilter{Definition: "nope"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := s.Runs(ctx, tc.f)
			if err != nil {
				t.Fatalf("Runs: %v", err)
			}
			var got, want []int64
			for _, r := range runs {
				got = append(got, r.ID)
				if r.Steps != nil {
					t.Errorf("run %d has steps; Runs returns runs without them", r.ID)
				}
			}
			for _, i := range tc.want {
				want = append(want, ids[i])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("IDs (-want +got):\n%s", diff)
			}
		})
	}

	// Limit 0 means 50.
	for range 52 {
		MustCreate(t, s, NewRun("bulk", "", dayops.RunPending))
	}
	runs, err := s.Runs(ctx, dayops.RunFilter{})
	if err != nil || len(runs) != 50 {
		t.Errorf("Runs with limit 0 = %d runs, %v; want 50", len(runs), err)
	}
}

func testTransitionTable(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	tests := []struct {
		from, to dayops.RunState
		refusal  string // "" when allowed
	}{
		{dayops.RunPending, dayops.RunAwaitingApproval, ""},
		{dayops.RunPending, dayops.RunQueued, ""},
		{dayops.RunPending, dayops.RunRunning, ""},
		{dayops.RunPending, dayops.RunDenied, ""},
		{dayops.RunAwaitingApproval, dayops.RunQueued, ""},
		{dayops.RunAwaitingApproval, dayops.RunDenied, ""},
		{dayops.RunQueued, dayops.RunRunning, ""},
		{dayops.RunQueued, dayops.RunCancelled, ""},
		{dayops.RunRunning, dayops.RunAwaitingApproval, ""},
		{dayops.RunAwaitingApproval, dayops.RunRunning, ""},
		{dayops.RunRunning, dayops.RunSucceeded, ""},
		{dayops.RunRunning, dayops.RunFailed, ""},
		{dayops.RunRunning, dayops.RunTimedOut, ""},
		{dayops.RunRunning, dayops.RunInterrupted, ""},
		{dayops.RunPending, dayops.RunSucceeded, "cannot move from pending to succeeded"},
		{dayops.RunQueued, dayops.RunTimedOut, "cannot move from queued to timed_out"},
		{dayops.RunQueued, dayops.RunPending, "cannot move from queued to pending"},
		{dayops.RunRunning, dayops.RunQueued, "cannot move from running to queued"},
		{dayops.RunRunning, dayops.RunRunning, "is already running"},
		{dayops.RunSucceeded, dayops.RunFailed, "already ended (succeeded)"},
		{dayops.RunCancelled, dayops.RunRunning, "already ended (cancelled)"},
		{dayops.RunDenied, dayops.RunDenied, "already ended (denied)"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s to %s", tc.from, tc.to), func(t *testing.T) {
			run := MustCreate(t, s, NewRun("deploy-web", "staging", tc.from))
			got, err := s.TransitionRun(ctx, run.ID, tc.to, "", dayops.AuditEvent{})
			after, rerr := s.Run(ctx, run.ID)
			if rerr != nil {
				t.Fatalf("Run: %v", rerr)
			}
			if tc.refusal != "" {
				WantKind(t, err, dayops.KindConflict, fmt.Sprintf("run %d ", run.ID), tc.refusal)
				if got != nil || after.State != tc.from {
					t.Errorf("refused move changed the run: returned %v, state now %q", got, after.State)
				}
				return
			}
			if err != nil {
				t.Fatalf("TransitionRun: %v", err)
			}
			if got.State != tc.to || after.State != tc.to {
				t.Errorf("state = %q returned, %q stored; want %q", got.State, after.State, tc.to)
			}
		})
	}
}

// testTransitionPairs checks every pair of states against the domain rule.
func testTransitionPairs(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	states := []dayops.RunState{dayops.RunPending, dayops.RunAwaitingApproval, dayops.RunQueued, dayops.RunRunning,
		dayops.RunSucceeded, dayops.RunFailed, dayops.RunCancelled, dayops.RunTimedOut, dayops.RunDenied, dayops.RunInterrupted}
	for _, from := range states {
		for _, to := range states {
			run := MustCreate(t, s, NewRun("pairs", "", from))
			_, err := s.TransitionRun(ctx, run.ID, to, "", dayops.AuditEvent{})
			if allowed := from.CanMoveTo(to); allowed != (err == nil) {
				t.Errorf("%s -> %s: err = %v, CanMoveTo = %v", from, to, err, allowed)
			} else if err != nil && dayops.KindOf(err) != dayops.KindConflict {
				t.Errorf("%s -> %s: kind %q, want conflict", from, to, dayops.KindOf(err))
			}
		}
	}
}

func testTransitionTimes(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	run := NewRun("deploy-web", "staging", dayops.RunPending)
	run.Steps = []dayops.StepRun{{Index: 0, Name: "Deploy"}}
	MustCreate(t, s, run)

	clk.Advance(time.Minute)
	started := clk.Now()
	got, err := s.TransitionRun(ctx, run.ID, dayops.RunRunning, "", dayops.AuditEvent{})
	if err != nil {
		t.Fatalf("to running: %v", err)
	}
	if !got.StartedAt.Equal(started) || !got.EndedAt.IsZero() || len(got.Steps) != 1 {
		t.Errorf("after start: StartedAt %v EndedAt %v steps %d; want %v, zero, 1", got.StartedAt, got.EndedAt, len(got.Steps), started)
	}
	// A mid-run approval does not restart the clock.
	clk.Advance(time.Minute)
	if _, err := s.TransitionRun(ctx, run.ID, dayops.RunAwaitingApproval, "waiting for sre", dayops.AuditEvent{}); err != nil {
		t.Fatalf("to awaiting_approval: %v", err)
	}
	clk.Advance(time.Minute)
	got, err = s.TransitionRun(ctx, run.ID, dayops.RunRunning, "", dayops.AuditEvent{})
	if err != nil {
		t.Fatalf("back to running: %v", err)
	}
	if !got.StartedAt.Equal(started) || got.Reason != "" {
		t.Errorf("after resume: StartedAt %v Reason %q; want %v and the wait's reason cleared", got.StartedAt, got.Reason, started)
	}
	clk.Advance(time.Minute)
	got, err = s.TransitionRun(ctx, run.ID, dayops.RunFailed, "step Deploy exited 1", dayops.AuditEvent{})
	if err != nil {
		t.Fatalf("to failed: %v", err)
	}
	if !got.EndedAt.Equal(clk.Now()) || got.Reason != "step Deploy exited 1" || got.Duration(clk.Now()) != 3*time.Minute {
		t.Errorf("after end: EndedAt %v Reason %q Duration %v", got.EndedAt, got.Reason, got.Duration(clk.Now()))
	}
	stored, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if diff := cmp.Diff(got, stored); diff != "" {
		t.Errorf("returned run differs from stored (-returned +stored):\n%s", diff)
	}
}

func testConcurrentTransitions(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	for round := range 5 {
		run := MustCreate(t, s, NewRun("race", "", dayops.RunRunning))
		const racers = 16
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				to := dayops.RunSucceeded
				if i%2 == 1 {
					to = dayops.RunCancelled
				}
				_, errs[i] = s.TransitionRun(ctx, run.ID, to, fmt.Sprint("racer ", i), dayops.AuditEvent{Action: "run.state", Allowed: true})
			})
		}
		wg.Wait()
		winners := 0
		for _, err := range errs {
			switch dayops.KindOf(err) {
			case "":
				winners++
			case dayops.KindConflict:
			default:
				t.Errorf("round %d: unexpected error %v", round, err)
			}
		}
		if winners != 1 {
			t.Errorf("round %d: %d transitions won, want exactly 1", round, winners)
		}
		if n := auditCount(t, s, run.ID); n != 2 { // create + the one winner
			t.Errorf("round %d: %d audit rows, want 2", round, n)
		}
	}
}

func testRollbackState(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	run := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunFailed))
	for _, st := range []dayops.RollbackState{dayops.RollbackRunning, dayops.RolledBack} {
		if err := s.SetRollbackState(ctx, run.ID, st, dayops.AuditEvent{}); err != nil {
			t.Fatalf("SetRollbackState(%q): %v", st, err)
		}
		got, err := s.Run(ctx, run.ID)
		if err != nil || got.Rollback != st {
			t.Errorf("Rollback = %q, %v; want %q", got.Rollback, err, st)
		}
	}
	WantKind(t, s.SetRollbackState(ctx, run.ID, "sideways", dayops.AuditEvent{}), dayops.KindInvalid, "sideways")
	evs, err := s.AuditEvents(ctx, dayops.AuditFilter{RunID: run.ID})
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	if len(evs) != 3 || evs[0].Action != "run.rollback" || evs[0].Reason != "rollback rolled_back" || !evs[0].Allowed {
		t.Errorf("audit = %+v; want create and two run.rollback events, newest first", evs)
	}
}

func testWaitReason(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	run := MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunQueued))
	for _, tc := range []struct {
		state  dayops.RunState
		reason string
		set    bool
		want   string
	}{
		{dayops.RunQueued, "queued behind run 7", true, "queued behind run 7"},
		{dayops.RunQueued, "queued behind run 8", true, "queued behind run 8"},
		{dayops.RunRunning, "stale", false, "queued behind run 8"},
	} {
		set, err := s.SetWaitReason(ctx, run.ID, tc.state, tc.reason)
		if err != nil || set != tc.set {
			t.Errorf("SetWaitReason(%s, %q) = %v, %v; want %v", tc.state, tc.reason, set, err, tc.set)
		}
		if got, err := s.Run(ctx, run.ID); err != nil || got.Reason != tc.want {
			t.Errorf("reason %q, %v; want %q", got.Reason, err, tc.want)
		}
	}
	if set, err := s.SetWaitReason(ctx, 4242, dayops.RunQueued, "x"); err != nil || set {
		t.Errorf("SetWaitReason of an unknown run = %v, %v; want false", set, err)
	}
}

func testSteps(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	run := NewRun("deploy-web", "staging", dayops.RunRunning)
	run.Steps = []dayops.StepRun{{Index: 0, StepID: "build", Name: "Build"}, {Index: 1, Name: "Deploy"}}
	MustCreate(t, s, run)

	start := clk.Now()
	running := dayops.StepRun{RunID: run.ID, Index: 0, StepID: "build", Name: "Build", Kind: dayops.StepKindRun,
		State: dayops.StepRunning, Attempts: 1, StartedAt: start}
	if err := s.UpdateStep(ctx, running); err != nil {
		t.Fatalf("UpdateStep running: %v", err)
	}
	got, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got.CurrentStep != "Build" || got.Steps[0].State != dayops.StepRunning {
		t.Errorf("CurrentStep %q, step state %q; want Build, running", got.CurrentStep, got.Steps[0].State)
	}

	done := running
	done.State, done.ExitCode, done.Attempts = dayops.StepSucceeded, 0, 2
	done.Outputs = map[string]string{"image": "registry/web:v1", "digest": "sha256:abc"}
	done.EndedAt = start.Add(1500 * time.Millisecond)
	if err := s.UpdateStep(ctx, done); err != nil {
		t.Fatalf("UpdateStep done: %v", err)
	}
	// A step the plan did not list (a rollback step) is inserted.
	rb := dayops.StepRun{RunID: run.ID, Index: 5, Name: "Roll back", Rollback: true, State: dayops.StepFailed,
		ExitCode: 3, Error: "exit status 3"}
	if err := s.UpdateStep(ctx, rb); err != nil {
		t.Fatalf("UpdateStep rollback: %v", err)
	}
	got, err = s.Run(ctx, run.ID)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []dayops.StepRun{done, {RunID: run.ID, Index: 1, Name: "Deploy", State: dayops.StepPending}, rb}
	if diff := cmp.Diff(want, got.Steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if got.CurrentStep != "Build" {
		t.Errorf("CurrentStep = %q; a step that is not running must not change it", got.CurrentStep)
	}
}

func testOwnerHeartbeat(t *testing.T, open opener) {
	ctx := context.Background()
	clk := NewClock()
	s := open(t, clk.Now)
	a := MustCreate(t, s, NewRun("a", "", dayops.RunRunning))
	b := MustCreate(t, s, NewRun("b", "", dayops.RunQueued))
	c := MustCreate(t, s, NewRun("c", "", dayops.RunSucceeded))
	d := MustCreate(t, s, NewRun("d", "", dayops.RunRunning))
	at := clk.Now().Add(time.Hour)
	for _, r := range []*dayops.Run{a, b, c} {
		if err := s.SetOwner(ctx, r.ID, "host-1:10:1", at); err != nil {
			t.Fatalf("SetOwner: %v", err)
		}
	}
	later := at.Add(5 * time.Second)
	n, err := s.Heartbeat(ctx, "host-1:10:1", later)
	if err != nil || n != 2 {
		t.Fatalf("Heartbeat = %d, %v; want 2 (the ended run does not count)", n, err)
	}
	for _, tc := range []struct {
		id    int64
		owner string
		beat  time.Time
	}{{a.ID, "host-1:10:1", later}, {b.ID, "host-1:10:1", later}, {c.ID, "host-1:10:1", at}, {d.ID, "host:1:1", time.Time{}}} {
		got, err := s.Run(ctx, tc.id)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got.Owner != tc.owner || !got.Heartbeat.Equal(tc.beat) {
			t.Errorf("run %d: owner %q heartbeat %v; want %q %v", tc.id, got.Owner, got.Heartbeat, tc.owner, tc.beat)
		}
	}
	if n, err := s.Heartbeat(ctx, "nobody", later); err != nil || n != 0 {
		t.Errorf("Heartbeat of an unknown owner = %d, %v; want 0", n, err)
	}
}

func testLastSucceeded(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, NewClock().Now)
	r1 := MustCreate(t, s, NewRun("deploy-web", "production", dayops.RunSucceeded))
	MustCreate(t, s, NewRun("deploy-web", "production", dayops.RunFailed))
	r3 := NewRun("deploy-web", "production", dayops.RunSucceeded)
	r3.Params = map[string]string{"version": "v2.0.0"}
	r3.Steps = []dayops.StepRun{{Index: 0, Name: "Deploy", State: dayops.StepSucceeded}}
	MustCreate(t, s, r3)
	MustCreate(t, s, NewRun("deploy-web", "staging", dayops.RunSucceeded))
	r5 := MustCreate(t, s, NewRun("deploy-web", "production", dayops.RunRunning))
	tests := []struct {
		env    string
		before int64
		want   int64
	}{
		{"production", 0, r3.ID},
		{"production", r5.ID, r3.ID},
		{"production", r3.ID, r1.ID},
		{"production", r1.ID, 0},
		{"qa", 0, 0},
	}
	for _, tc := range tests {
		got, err := s.LastSucceeded(ctx, "deploy-web", tc.env, tc.before)
		if err != nil {
			t.Fatalf("LastSucceeded(%s, %d): %v", tc.env, tc.before, err)
		}
		var id int64
		if got != nil {
			id = got.ID
		}
		if id != tc.want {
			t.Errorf("LastSucceeded(%s, before %d) = run %d, want %d", tc.env, tc.before, id, tc.want)
		}
	}
	got, err := s.LastSucceeded(ctx, "deploy-web", "production", 0)
	if err != nil {
		t.Fatalf("LastSucceeded: %v", err)
	}
	if got.Params["version"] != "v2.0.0" || len(got.Steps) != 1 {
		t.Errorf("last succeeded run: params %v, %d steps; want its parameters and steps", got.Params, len(got.Steps))
	}
}
