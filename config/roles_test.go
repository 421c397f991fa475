package config

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
)

func TestBadRoles(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"member by display name", `roles: {sre: {members: ["Alice"], allow: ["*"]}}`, []string{
			`line 1: roles.sre.members[0]: "Alice" is not a member: write slack:USER_ID, slack-group:GROUP_ID, github:LOGIN, github-team:ORG/TEAM, console:NAME or trigger:KIND`,
		}},
		{"member kind misspelt", `roles: {sre: {members: ["slak:U012ABC"], allow: ["*"]}}`, []string{
			`line 1: roles.sre.members[0]: "slak:U012ABC" is not a member: write slack:USER_ID, slack-group:GROUP_ID, github:LOGIN, github-team:ORG/TEAM, console:NAME or trigger:KIND (did you mean slack:U012ABC?)`,
		}},
		{"slack member by name", `roles: {sre: {members: ["slack:alice"], allow: ["*"]}}`, []string{
			`line 1: roles.sre.members[0]: "slack:alice" is not a member: write slack:USER_ID, a Slack user ID such as slack:U012ABC (never a display name)`,
		}},
		{"slack group by handle", `roles: {sre: {members: ["slack-group:@sre"], allow: ["*"]}}`, []string{
			`line 1: roles.sre.members[0]: "slack-group:@sre" is not a member: write slack-group:GROUP_ID, a Slack user group ID such as slack-group:S0SRE`,
		}},
		{"github team without org", `roles: {sre: {members: ["github-team:sre"], allow: ["*"]}}`, []string{
			`line 1: roles.sre.members[0]: "github-team:sre" is not a member: write github-team:ORG/TEAM, such as github-team:acme/sre`,
		}},
		{"unknown trigger", `roles: {bots: {members: ["trigger:cron"], allow: ["day2:*"]}}`, []string{
			`line 1: roles.bots.members[0]: "trigger:cron" is not a member: write one of trigger:pull_request, trigger:alert, trigger:incident, trigger:schedule`,
		}},
		{"no members", `roles: {sre: {allow: ["*"]}}`, []string{
			`line 1: roles.sre.members: is empty: list who has this role, e.g. ["slack:U012ABC"]`,
		}},
		{"no allow", `roles: {sre: {members: ["slack:U1AB"], allow: []}}`, []string{
			`line 1: roles.sre.allow: is empty: list what this role may do, e.g. ["day1:*:staging", read]`,
		}},
		{"phase misspelt", `roles: {dev: {members: ["slack:U1AB"], allow: ["dya1:*:staging"]}}`, []string{
			`line 1: roles.dev.allow[0]: "dya1:*:staging": "dya1" matches no phase (day0, day1, day2) — did you mean day1?`,
		}},
		{"a definition name alone", `roles: {dev: {members: ["slack:U1AB"], allow: ["deploy-web"]}}`, []string{
			`line 1: roles.dev.allow[0]: "deploy-web" is not an allow pattern: write *, read, PHASE:NAME[:ENV] (e.g. day1:*:staging), lock:ENV, unlock:ENV or override:PHASE:NAME[:ENV]`,
		}},
		{"too many parts", `roles: {dev: {members: ["slack:U1AB"], allow: ["day1:a:b:c"]}}`, []string{
			`line 1: roles.dev.allow[0]: "day1:a:b:c" is not an allow pattern: write *, read, PHASE:NAME[:ENV] (e.g. day1:*:staging), lock:ENV, unlock:ENV or override:PHASE:NAME[:ENV]`,
		}},
		{"empty part", `roles: {dev: {members: ["slack:U1AB"], allow: ["day1::staging"]}}`, []string{
			`line 1: roles.dev.allow[0]: "day1::staging" has an empty part: write *, read, PHASE:NAME[:ENV] (e.g. day1:*:staging), lock:ENV, unlock:ENV or override:PHASE:NAME[:ENV]`,
		}},
		{"bad glob", `roles: {dev: {members: ["slack:U1AB"], allow: ["day1:[a-:staging"]}}`, []string{
			`line 1: roles.dev.allow[0]: "day1:[a-:staging": "[a-" is not a valid glob (*, ? and [a-z] are)`,
		}},
		{"lock with a definition", `roles: {dev: {members: ["slack:U1AB"], allow: ["lock:deploy-web:staging"]}}`, []string{
			`line 1: roles.dev.allow[0]: "lock:deploy-web:staging": write lock:ENV, e.g. lock:staging or lock:*`,
		}},
		{"override alone", `roles: {dev: {members: ["slack:U1AB"], allow: ["override"]}}`, []string{
			`line 1: roles.dev.allow[0]: "override": write override:PHASE:NAME[:ENV], e.g. override:day1:*:staging`,
		}},
		{"override of nothing", `roles: {dev: {members: ["slack:U1AB"], allow: ["override:day1"]}}`, []string{
			`line 1: roles.dev.allow[0]: "override:day1" is not an allow pattern: write *, read, PHASE:NAME[:ENV] (e.g. day1:*:staging), lock:ENV, unlock:ENV or override:PHASE:NAME[:ENV]`,
		}},
		{"role name", `roles: {SRE: {members: ["slack:U1AB"], allow: ["*"]}}`, []string{
			`line 1: roles.SRE: "SRE" is not a role name: lowercase letters, digits, - and _, e.g. sre`,
		}},
		{"role unknown key", `roles: {sre: {members: ["slack:U1AB"], allow: ["*"], approve: ["*"]}}`, []string{
			`line 1: roles.sre.approve: unknown key (known: allow, members)`,
		}},
		{"roles a list", "roles: [sre]", []string{`line 1: roles: is a list, expected a mapping of names`}},
		{"channel regexp", `channels: {'^inc-(': {allow: ["day2:*"]}}`, []string{
			"line 1: channels.^inc-(: \"^inc-(\" is not a regular expression: missing closing ): `^inc-(`",
		}},
		{"channel allow", `channels: {'^inc-': {allow: ["dya2:*"]}}`, []string{
			`line 1: channels.^inc-.allow[0]: "dya2:*": "dya2" matches no phase (day0, day1, day2) — did you mean day2?`,
		}},
		{"channel without allow", `channels: {'^inc-': {}}`, []string{
			`line 1: channels.^inc-.allow: is empty: list what may run in these channels, e.g. ["day2:*"]`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, problemsOf(tt.file, nil)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPolicyFromFile checks that the roles of the file decide as SPEC §6
// says once compiled: the policy is the one the executor and the bot use.
func TestPolicyFromFile(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "dayops.yaml"), env(testSecrets))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Policy
	devUser := dayops.Actor{ID: "slack:U0DEV1", Groups: []string{"slack-group:S0DEV"}}
	sre := dayops.Actor{ID: "slack:U012ABC"}
	stranger := dayops.Actor{ID: "slack:U0NOBODY"}
	alert := dayops.Actor{ID: "trigger:alert"}
	general := dayops.Thread{Door: "slack", Name: "general"}
	incident := dayops.Thread{Door: "slack", Name: "inc-db"}
	tests := []struct {
		name  string
		who   dayops.Actor
		where dayops.Thread
		act   dayops.Action
		want  bool
	}{
		{"dev deploys to staging", devUser, general, dayops.Action{Kind: dayops.ActRun, Phase: dayops.Day1, Name: "deploy-web", Environment: "staging"}, true},
		{"dev may not deploy to production", devUser, general, dayops.Action{Kind: dayops.ActRun, Phase: dayops.Day1, Name: "deploy-web", Environment: "production"}, false},
		{"dev freezes staging", devUser, general, dayops.Action{Kind: dayops.ActLock, Environment: "staging"}, true},
		{"dev may not freeze production", devUser, general, dayops.Action{Kind: dayops.ActLock, Environment: "production"}, false},
		{"dev reads", devUser, general, dayops.Action{Kind: dayops.ActRead}, true},
		{"sre deploys to production", sre, general, dayops.Action{Kind: dayops.ActRun, Phase: dayops.Day1, Name: "deploy-web", Environment: "production"}, true},
		{"incident channels allow only day2", sre, incident, dayops.Action{Kind: dayops.ActRun, Phase: dayops.Day1, Name: "deploy-web", Environment: "production"}, false},
		{"a stranger may do nothing", stranger, general, dayops.Action{Kind: dayops.ActRead}, false},
		{"the alert trigger restarts", alert, general, dayops.Action{Kind: dayops.ActRun, Phase: dayops.Day2, Name: "restart-api"}, true},
		{"the alert trigger does only what it is granted", alert, general, dayops.Action{Kind: dayops.ActRun, Phase: dayops.Day2, Name: "drop-database"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := p.Authorize(tt.who, tt.where, tt.act); v.Allowed != tt.want {
				t.Errorf("Authorize = %+v, want allowed %v", v, tt.want)
			}
		})
	}
}
