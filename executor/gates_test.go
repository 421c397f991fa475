package executor_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

const gatedFiles = `preflight.yaml
apiVersion: dayops/v1
phase: day0
name: preflight
environments: {staging: {}, production: {}}
steps:
  - run: "true"
---
deploy.yaml
apiVersion: dayops/v1
phase: day1
name: deploy-web
service: web
environments:
  staging: {}
  production:
    requires: [{definition: preflight, within: 24h}]
params:
  version: {type: string, default: v1}
steps:
  - run: echo "$DAYOPS_ENVIRONMENT" >> deployed.txt
`

// files splits "name\ncontent---" blocks into a file map.
func files(blocks string) map[string]string {
	out := map[string]string{}
	for _, b := range strings.Split(blocks, "---\n") {
		name, content, _ := strings.Cut(b, "\n")
		out[name] = content
	}
	return out
}

// gatePolicy: alice and bob run anything and override nothing but what *
// grants; erin deploys without override; frank may override production.
var gatePolicy = dayops.Policy{Roles: []dayops.Role{
	{Name: "sre", Members: []string{"console:alice", "console:bob"}, Allow: []string{"*"}},
	{Name: "deployer", Members: []string{"console:erin"}, Allow: []string{"day0:*", "day1:*"}},
	{Name: "lead", Members: []string{"console:frank"}, Allow: []string{"day1:*", "override:day1:deploy-web:production"}},
}}

func TestPhaseGates(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	h := newHarness(t, files(gatedFiles), func(o *executor.Options) { o.Now, o.Policy = now, gatePolicy })
	ctx := context.Background()
	prod := dayops.RunRequest{Definition: "deploy-web", Environment: "production", Actor: actor("erin"), Thread: thread}
	plan, err := h.exec.Plan(ctx, prod)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Gates) != 1 || plan.Gates[0].Met || plan.Gates[0].Command != "run preflight production" || plan.GatesUnknown {
		t.Fatalf("plan gates before any preflight: %+v", plan.Gates)
	}
	refused := func(req dayops.RunRequest, kind dayops.Kind, want ...string) {
		t.Helper()
		before, _ := h.store.Runs(ctx, dayops.RunFilter{})
		r, err := h.exec.Start(ctx, req)
		if err == nil {
			t.Fatalf("run %d of %s started with its gate missing", r.ID, req.Environment)
		}
		msg := dayops.UserMessage(err, "")
		for _, w := range want {
			if dayops.KindOf(err) != kind || !strings.Contains(msg, w) {
				t.Errorf("refusal %s %q, want %s containing %q", dayops.KindOf(err), msg, kind, w)
			}
		}
		after, _ := h.store.Runs(ctx, dayops.RunFilter{})
		if len(after) != len(before) {
			t.Errorf("a refused run was recorded")
		}
	}
	// Refused without the Day-0 run: nothing recorded, the command to meet it named.
	refused(prod, dayops.KindConflict, "deploy-web production cannot start: its phase gates are not met: preflight production within 24h: missing: run preflight production",
		`override:day1:deploy-web:production may start it anyway with override="REASON"`)
	// Staging has no gate; a preflight of staging does not meet production's.
	h.done(h.start(dayops.RunRequest{Definition: "deploy-web", Environment: "staging", Actor: actor("erin")}).ID)
	h.done(h.start(dayops.RunRequest{Definition: "preflight", Environment: "staging", Actor: actor("erin")}).ID)
	refused(prod, dayops.KindConflict, "missing: run preflight production")

	// Allowed after it.
	pre := h.done(h.start(dayops.RunRequest{Definition: "preflight", Environment: "production", Actor: actor("erin")}).ID)
	if pre.State != dayops.RunSucceeded {
		t.Fatalf("preflight: %s %q", pre.State, pre.Reason)
	}
	plan, _ = h.exec.Plan(ctx, prod)
	if g := plan.Gates[0]; !g.Met || g.RunID != pre.ID {
		t.Fatalf("plan gate after preflight run %d: %+v", pre.ID, g)
	}
	if got := h.done(h.start(prod).ID); got.State != dayops.RunSucceeded {
		t.Fatalf("gated deploy: %s %q", got.State, got.Reason)
	}

	// Expired after within.
	offset.Store(int64(25 * time.Hour))
	refused(prod, dayops.KindConflict, "which is too long", "run preflight production")

	// Override: a reason is needed, and the grant.
	withOverride := func(who, reason string) dayops.RunRequest {
		r := prod
		r.Actor, r.Override, r.Params = actor(who), reason, map[string]string{"version": "v2"}
		return r
	}
	refused(withOverride("erin", "hotfix for INC-7"), dayops.KindForbidden, "erin (console:erin) has no role that allows override:day1:deploy-web:production",
		"may not override the missing phase gates of deploy-web production")
	refused(withOverride("frank", "   "), dayops.KindConflict, `an override needs a reason: write override="why it cannot wait"`)
	r := h.done(h.start(withOverride("frank", "hotfix for INC-7")).ID)
	if reason, gates := r.GateOverride(); r.State != dayops.RunSucceeded || reason != "hotfix for INC-7" || gates != "preflight production" {
		t.Fatalf("overridden run: %s, override %q of %q", r.State, reason, gates)
	}
	evs, err := h.store.AuditEvents(ctx, dayops.AuditFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var gateRows []string
	for _, ev := range evs {
		if ev.Action == "gate" || ev.RunID == r.ID && ev.Action == "run.start" {
			gateRows = append(gateRows, ev.Actor+" "+ev.Action+" "+map[bool]string{true: "allowed", false: "refused"}[ev.Allowed]+": "+ev.Reason)
		}
	}
	want := []string{
		"console:frank run.start allowed: start deploy-web:production at",
		"console:frank gate allowed: override of preflight production: hotfix for INC-7 (role lead allows override:day1:deploy-web:production)",
		"console:frank gate refused: an override needs a reason",
		"console:erin gate refused: erin (console:erin) has no role that allows override",
		"console:erin gate refused: deploy-web production cannot start",
	}
	for _, w := range want {
		found := false
		for _, g := range gateRows {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no audit row %q in\n%s", w, strings.Join(gateRows, "\n"))
		}
	}
	if !strings.Contains(strings.Join(gateRows, "\n"), "overriding the phase gates preflight production: hotfix for INC-7") {
		t.Errorf("run.start does not record the override:\n%s", strings.Join(gateRows, "\n"))
	}
	// A rollback returns to what ran before: the expired gate does not hold it up.
	rb, err := h.exec.Rollback(ctx, "web", "production", actor("erin"), thread)
	if err != nil {
		t.Fatalf("rollback with the gate expired: %v", err)
	}
	if got := h.done(rb.ID); got.State != dayops.RunSucceeded || got.Params["version"] != "v1" {
		t.Errorf("rollback: %s %q", got.State, got.Reason)
	}
}

// TestPlannerListsGates: with no database a plan names the gates and says
// it cannot tell whether they are met.
func TestPlannerListsGates(t *testing.T) {
	h := newHarness(t, files(gatedFiles), nil)
	p, err := executor.NewPlanner(executor.Options{Catalogs: h.cats})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan(context.Background(), dayops.RunRequest{Definition: "deploy-web", Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Gates) != 1 || !plan.GatesUnknown || plan.Gates[0].Met || plan.Gates[0].Command != "run preflight production" {
		t.Errorf("planner gates: %+v unknown %v", plan.Gates, plan.GatesUnknown)
	}
}
