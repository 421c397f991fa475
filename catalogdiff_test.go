package dayops

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func diffCatalog(t *testing.T, rev string, defs ...*Definition) *Catalog {
	t.Helper()
	cat, err := NewCatalog(rev, defs)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// deployDef is a day1 definition; edit changes a copy.
func deployDef(content string, edit func(d *Definition)) *Definition {
	d := &Definition{Phase: Day1, Name: "deploy-web", Service: "web",
		Environments: []Environment{{Name: "staging"}, {Name: "production", Approvals: &ApprovalRule{Count: 2, From: []string{"sre"}}}},
		Secrets:      []string{"KUBE_TOKEN"},
		Steps: []Step{{Name: "Deploy", Kind: StepKindRun, Run: "./deploy.sh"},
			{Name: "Verify", Kind: StepKindHTTP, HTTP: &HTTPCheck{URL: "https://web/healthz"}}},
		Rollback: []Step{{Name: "Undo", Kind: StepKindRun, Run: "./undo.sh"}},
		Triggers: Triggers{PullRequest: []PullRequestTrigger{{Repo: "org/web", On: PRMerged, Branches: []string{"main"}, Environment: "staging"}},
			Schedule: []ScheduleTrigger{{Cron: "0 3 * * *"}}},
		Source: Source{File: "ops/deploy-web.yaml", Content: []byte(content)}}
	if edit != nil {
		edit(d)
	}
	return d
}

func restartDef(content string) *Definition {
	return &Definition{Phase: Day2, Name: "restart-web", Steps: []Step{{ID: "go", Kind: StepKindRun, Run: "true"}},
		Triggers: Triggers{Incident: []IncidentTrigger{{Channel: regexp.MustCompile("^inc-"), Match: regexp.MustCompile("(?i)web"), Auto: true, Cooldown: 30 * time.Minute, Budget: 3}},
			Alert: []AlertTrigger{{AlertName: "WebDown", Labels: map[string]string{"service": "web", "env": "prod"}}}},
		Source: Source{File: "ops/restart-web.yaml", Content: []byte(content)}}
}

func TestSummarize(t *testing.T) {
	want := DefinitionSummary{Name: "deploy-web", Phase: Day1, File: "ops/deploy-web.yaml",
		Steps: []string{"Deploy (run)", "Verify (http)"}, Rollback: []string{"Undo (run)"},
		Approvals: []string{"production: 2 from sre"},
		Triggers:  []string{"pull_request org/web merged into main → staging", "schedule 0 3 * * *"},
		Allow:     []string{"day1:deploy-web:staging", "day1:deploy-web:production"}, Secrets: []string{"KUBE_TOKEN"}}
	if diff := cmp.Diff(want, Summarize(deployDef("a", nil))); diff != "" {
		t.Errorf("deploy-web (-want +got):\n%s", diff)
	}
	want = DefinitionSummary{Name: "restart-web", Phase: Day2, File: "ops/restart-web.yaml", Steps: []string{"go (run)"},
		Triggers: []string{"incident in ^inc- matching (?i)web (runs by itself: cooldown 30m0s, budget 3 an hour)", "alert WebDown {env=prod, service=web} (offered)"},
		Allow:    []string{"day2:restart-web"}}
	if diff := cmp.Diff(want, Summarize(restartDef("a"))); diff != "" {
		t.Errorf("restart-web (-want +got):\n%s", diff)
	}
}

func TestCatalogChanges(t *testing.T) {
	old := diffCatalog(t, "aaaaaaaaaaaaaaaa", deployDef("v1", nil), restartDef("r1"))
	for _, tc := range []struct {
		name           string
		old, new       *Catalog
		added, removed []string
		changed        map[string][]string
	}{
		{"nothing before", nil, old, []string{"deploy-web", "restart-web"}, nil, map[string][]string{}},
		{"the same", old, old, nil, nil, map[string][]string{}},
		{"a comment", old, diffCatalog(t, "b", deployDef("v1 # note", nil), restartDef("r1")), nil, nil,
			map[string][]string{"deploy-web": {"formatting or comments only"}}},
		{"steps, approvals and triggers", old, diffCatalog(t, "b", deployDef("v2", func(d *Definition) {
			d.Steps[0].Run = "./deploy.sh --fast"
			d.Environments[1].Approvals = &ApprovalRule{Count: 1, From: []string{"sre"}}
			d.Triggers.PullRequest[0].Labels = []string{"ship"}
		}), restartDef("r1")), nil, nil, map[string][]string{"deploy-web": {"steps", "approvals", "triggers"}}},
		{"a loosened remediation guard", old, diffCatalog(t, "b", deployDef("v1", nil), func() *Definition {
			d := restartDef("r2")
			d.Triggers.Incident[0].Budget = 100
			return d
		}()), nil, nil, map[string][]string{"restart-web": {"triggers"}}},
		{"an environment's url and a move", old, diffCatalog(t, "b", deployDef("v2", func(d *Definition) {
			d.Environments[0].URL = "https://web.staging.example.com"
			d.Source.File = "ops/day1/deploy-web.yaml"
		}), restartDef("r1")), nil, nil, map[string][]string{"deploy-web": {"environments", "moved from ops/deploy-web.yaml"}}},
		{"added and removed", old, diffCatalog(t, "b", deployDef("v1", nil), &Definition{Phase: Day0, Name: "preflight",
			Steps: []Step{{Name: "Check", Kind: StepKindRun}}, Source: Source{File: "ops/preflight.yaml"}}),
			[]string{"preflight"}, []string{"restart-web"}, map[string][]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := CatalogChanges(tc.old, tc.new)
			names := func(l []DefinitionSummary) []string {
				var out []string
				for _, s := range l {
					out = append(out, s.Name)
				}
				return out
			}
			changed := map[string][]string{}
			for _, s := range c.Changed {
				changed[s.Name] = s.What
			}
			if diff := cmp.Diff(tc.added, names(c.Added)); diff != "" {
				t.Errorf("added (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.removed, names(c.Removed)); diff != "" {
				t.Errorf("removed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.changed, changed); diff != "" {
				t.Errorf("changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCatalogChangesMarkdown(t *testing.T) {
	old := diffCatalog(t, "aaaaaaaaaaaaaaaaaaaa", deployDef("v1", nil), restartDef("r1"))
	evil := restartDef("r2")
	evil.Steps[0].ID, evil.Steps[0].Name = "", "@everyone `rm -rf` **now**\n# heading"
	c := CatalogChanges(old, diffCatalog(t, "bbbbbbbbbbbbbbbbbbbb", evil))
	got := c.Markdown()
	want := "### dayops: what this changes in the catalog\n\n" +
		"0 added, 1 removed, 1 changed at `bbbbbbbbbbbb`, against `aaaaaaaaaaaa`.\n\n" +
		"#### Changed\n\n" +
		"**restart-web** (day2, `ops/restart-web.yaml`) — changed: steps\n" +
		"- steps: `@everyone 'rm -rf' **now** # heading (run)`\n" +
		"- triggers: `incident in ^inc- matching (?i)web (runs by itself: cooldown 30m0s, budget 3 an hour)`, `alert WebDown {env=prod, service=web} (offered)`\n" +
		"- roles need: `day2:restart-web`\n\n" +
		"\n#### Removed\n\n" +
		"**deploy-web** (day1, `ops/deploy-web.yaml`)\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("markdown (-want +got):\n%s", diff)
	}
	if got := CatalogChanges(old, old).Markdown(); !strings.Contains(got, "No definition is added, removed or changed.") {
		t.Errorf("no changes: %q", got)
	}

	// Many definitions: bounded, and it says how many are left out.
	var defs []*Definition
	for i := range 300 {
		d := restartDef("x")
		d.Name, d.Source.File = fmt.Sprintf("restart-%03d", i), fmt.Sprintf("ops/r%03d.yaml", i)
		defs = append(defs, d)
	}
	big := CatalogChanges(nil, diffCatalog(t, "c", defs...))
	for _, limit := range []int{2000, MaxChangesMarkdown} {
		md := big.markdown(limit)
		if len(md) > limit {
			t.Errorf("limit %d: %d bytes", limit, len(md))
		}
		shown := strings.Count(md, "**restart-")
		if !strings.Contains(md, fmt.Sprintf("… and %d more definition(s) not shown", 300-shown)) || shown == 0 {
			t.Errorf("limit %d: %d shown, and the end says %q", limit, shown, md[max(0, len(md)-120):])
		}
	}
}
