package bottest

import (
	"regexp"
	"testing"
	"time"

	"github.com/dayops/dayops"
)

// The test world: a catalog, roles and actors.

// The people of the test world.
var (
	Alice = dayops.Actor{ID: "console:alice", Name: "alice"} // sre
	Bob   = dayops.Actor{ID: "console:bob", Name: "bob"}     // sre
	Carol = dayops.Actor{ID: "console:carol", Name: "carol"} // dev: day1 staging, read
	Dave  = dayops.Actor{ID: "console:dave", Name: "dave"}   // no role
)

// Policy is the test world's roles: sre may do everything, dev may deploy
// to staging, freeze it and read, and the automated triggers may run day2 definitions
// and deploy to staging.
func Policy() dayops.Policy {
	return dayops.Policy{Roles: []dayops.Role{
		{Name: "sre", Members: []string{"console:alice", "console:bob"}, Allow: []string{"*"}},
		{Name: "dev", Members: []string{"console:carol"}, Allow: []string{"day1:*:staging", "read", "lock:staging"}},
		{Name: "automation", Members: []string{"trigger:alert", "trigger:schedule", "trigger:incident", "trigger:pull_request"},
			Allow: []string{"day2:*", "day1:*:staging"}},
	}}
}

// Catalog is the test world's catalog: preflight (day0), deploy-web (day1,
// service web; production needs one sre approval) and restart-web (day2).
func Catalog(t testing.TB) *dayops.Catalog {
	t.Helper()
	src := func(file string) dayops.Source {
		return dayops.Source{File: file, Revision: "0123456789abcdef0123", Content: []byte(file)}
	}
	defs := []*dayops.Definition{
		{Phase: dayops.Day0, Name: "preflight", Description: "Check tools and disk space",
			Steps: []dayops.Step{{Name: "Check tools", Kind: dayops.StepKindRun, Run: "./scripts/preflight.sh"}}, Source: src("ops/day0/preflight.yaml")},
		{Phase: dayops.Day1, Name: "deploy-web", Description: "Deploy the web service", Service: "web",
			Environments: []dayops.Environment{{Name: "staging"}, {Name: "production", Approvals: &dayops.ApprovalRule{Count: 1, From: []string{"sre"}}}},
			Params: []dayops.Param{{Name: "version", Description: "Image tag", Type: dayops.ParamString,
				Pattern: regexp.MustCompile(`^v\d+\.\d+\.\d+$`), Required: true}},
			Concurrency: "deploy-web-${{ env }}", Timeout: 30 * time.Minute, Secrets: []string{"KUBE_TOKEN"},
			Steps: []dayops.Step{
				{Name: "Back up the database", Kind: dayops.StepKindRun, Run: "./scripts/backup-db.sh", Timeout: 10 * time.Minute, Retries: 2},
				{Name: "Verify", Kind: dayops.StepKindHTTP, HTTP: &dayops.HTTPCheck{URL: "http://127.0.0.1/healthz"}},
			},
			Rollback: []dayops.Step{{Name: "Roll back", Kind: dayops.StepKindRun, Run: "./scripts/rollback.sh"}},
			Triggers: dayops.Triggers{Schedule: []dayops.ScheduleTrigger{{Cron: "0 3 * * *"}}},
			Source:   src("ops/day1/deploy-web.yaml")},
		{Phase: dayops.Day2, Name: "restart-web", Description: "Restart the web service",
			Environments: []dayops.Environment{{Name: "staging"}, {Name: "production"}},
			Steps:        []dayops.Step{{Name: "Restart", Kind: dayops.StepKindRun, Run: "./scripts/restart.sh"}}, Source: src("ops/day2/restart-web.yaml")},
	}
	cat, err := dayops.NewCatalog("0123456789abcdef0123", defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}
