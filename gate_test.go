package dayops_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// TestMayOverride: only an override: grant (or *) lets one start a run with
// missing phase gates; running it is not enough, and an override grant
// grants nothing else.
func TestMayOverride(t *testing.T) {
	p := dayops.Policy{Roles: []dayops.Role{
		{Name: "admin", Members: []string{"console:root"}, Allow: []string{"*"}},
		{Name: "lead", Members: []string{"console:lead"}, Allow: []string{"day1:*", "override:day1:deploy-*:production"}},
		{Name: "dev", Members: []string{"console:dev"}, Allow: []string{"day1:*"}},
		{Name: "odd", Members: []string{"console:odd"}, Allow: []string{"override:day1:*"}},
	}}
	def := &dayops.Definition{Name: "deploy-web", Phase: dayops.Day1}
	for _, tc := range []struct {
		who, env string
		allowed  bool
	}{
		{"console:root", "production", true},
		{"console:lead", "production", true},
		{"console:lead", "staging", false}, // the grant names production
		{"console:dev", "production", false},
		{"console:odd", "production", true},
	} {
		v := p.MayOverride(dayops.Actor{ID: tc.who}, dayops.Thread{}, def, tc.env)
		if v.Allowed != tc.allowed {
			t.Errorf("%s overriding %s: allowed %v (%s), want %v", tc.who, tc.env, v.Allowed, v.Reason, tc.allowed)
		}
	}
	// The override grant alone does not let odd run anything.
	if v := p.Authorize(dayops.Actor{ID: "console:odd"}, dayops.Thread{}, dayops.Action{Kind: dayops.ActRun, Phase: dayops.Day1, Name: "deploy-web"}); v.Allowed {
		t.Errorf("override:day1:* allowed running: %s", v.Reason)
	}
}

// TestMayAnswer: the checklist's roles answer; with others the requester
// does not.
func TestMayAnswer(t *testing.T) {
	p := dayops.Policy{Roles: []dayops.Role{
		{Name: "sre", Members: []string{"console:alice", "console:bob"}, Allow: []string{"*"}},
		{Name: "dev", Members: []string{"console:dev"}, Allow: []string{"*"}},
	}}
	run := &dayops.Run{ID: 4, Actor: dayops.Actor{ID: "console:alice"}}
	for _, tc := range []struct {
		who     string
		others  bool
		allowed bool
		reason  string
	}{
		{"console:alice", false, true, "role sre"},
		{"console:alice", true, false, "someone else"},
		{"console:bob", true, true, "role sre"},
		{"console:dev", false, false, "answers must come from role sre"},
	} {
		v := p.MayAnswer(dayops.Actor{ID: tc.who}, run, dayops.Checklist{From: []string{"sre"}, Others: tc.others})
		if v.Allowed != tc.allowed || !strings.Contains(v.Reason, tc.reason) {
			t.Errorf("%s (others %v): allowed %v (%s), want %v with %q", tc.who, tc.others, v.Allowed, v.Reason, tc.allowed, tc.reason)
		}
	}
}

func TestGateStatusString(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	req := dayops.Requirement{Definition: "preflight", Within: 24 * time.Hour}
	for _, tc := range []struct {
		g    dayops.GateStatus
		want string
	}{
		{dayops.GateStatus{Requirement: req, Environment: "production", Met: true, RunID: 3, PassedAt: now.Add(-2 * time.Hour)},
			"preflight production within 24h: met by run 3, passed 2h ago"},
		{dayops.GateStatus{Requirement: req, Environment: "production", Command: "run preflight production"},
			"preflight production within 24h: missing: run preflight production"},
		{dayops.GateStatus{Requirement: req, RunID: 2, PassedAt: now.Add(-25 * time.Hour), Command: "run preflight"},
			"preflight within 24h: missing (run 2 passed 25h ago, which is too long): run preflight"},
	} {
		if got := tc.g.String(now); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}
