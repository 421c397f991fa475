package executor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
	"github.com/dayops/dayops/internal/testkit/sshd"
)

var planTargets = &executor.Targets{
	Hosts: map[string]executor.Target{
		"web-1": {Host: "10.0.0.1", User: "deploy"},
		"web-2": {Host: "10.0.0.2", User: "deploy"},
		"db-1":  {Host: "10.0.0.9", User: "deploy", Environments: []string{"production"}},
	},
	Groups:     map[string][]string{"web": {"web-1", "web-2"}},
	KnownHosts: "/nonexistent/known_hosts",
}

// withKeys returns planTargets with a usable key for each target.
func withKeys(t *testing.T) *executor.Targets {
	tg := *planTargets
	tg.Hosts = map[string]executor.Target{}
	key := sshd.NewKey(t)
	for n, h := range planTargets.Hosts {
		h.Key = key
		tg.Hosts[n] = h
	}
	return &tg
}

// TestTargetsResolve: names, groups and the environments a target is
// limited to, with messages that say what is known or allowed.
func TestTargetsResolve(t *testing.T) {
	for _, tt := range []struct {
		targets   *executor.Targets
		name, env string
		hosts     []string
		err       string
	}{
		{planTargets, "web", "staging", []string{"web-1", "web-2"}, ""},
		{planTargets, "web-2", "", []string{"web-2"}, ""},
		{planTargets, "db-1", "production", []string{"db-1"}, ""},
		{planTargets, "db-1", "staging", nil, "target db-1 may be used only by runs in production, not staging"},
		{planTargets, "db-1", "", nil, "target db-1 may be used only by runs in production, and this run has no environment"},
		{planTargets, "web1", "", nil, `on: web1 is not a target or group of the server configuration — did you mean "web"? (known: db-1, web, web-1, web-2)`},
		{nil, "web", "", nil, "on: web needs SSH targets, and the server configuration has none: add targets (and ssh.known_hosts) to it, or give `--config FILE` to dayops run and plan"},
	} {
		hosts, err := tt.targets.Resolve(tt.name, tt.env)
		msg := ""
		if err != nil {
			msg = dayops.UserMessage(err, "")
			if dayops.KindOf(err) != dayops.KindInvalid {
				t.Errorf("%s in %q: kind %s", tt.name, tt.env, dayops.KindOf(err))
			}
		}
		if diff := cmp.Diff([]any{tt.hosts, tt.err}, []any{hosts, msg}); diff != "" {
			t.Errorf("%s in %q (-want +got):\n%s", tt.name, tt.env, diff)
		}
	}
}

// TestPlanShowsHosts: a plan names the hosts of each step with on:, and a
// run is refused before anything runs when a target is unknown or not
// allowed in its environment (a plan says so as a warning).
func TestPlanShowsHosts(t *testing.T) {
	h := newHarness(t, map[string]string{
		"r.yaml": def("restart", `
environments: {staging: {}, production: {}}
steps:
  - name: Restart
    on: web
    parallel: 2
    run: systemctl restart web
  - name: Migrate
    on: db-1
    run: ./migrate
`),
		"u.yaml": def("unknown", "steps:\n  - name: Oops\n    on: wbe\n    run: true\n"),
	}, func(o *executor.Options) { o.Targets = withKeys(t) })
	ctx := context.Background()
	p, err := h.exec.Plan(ctx, dayops.RunRequest{Definition: "restart", Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range p.Steps {
		got = append(got, strings.Join(s.Hosts, ",")+" | "+s.Detail)
	}
	want := []string{"web-1,web-2 | on web (web-1, web-2), 2 at a time: systemctl restart web", "db-1 | on db-1: ./migrate"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("planned steps (-want +got):\n%s", diff)
	}
	const refusal = "step Migrate: target db-1 may be used only by runs in production, not staging"
	p, err = h.exec.Plan(ctx, dayops.RunRequest{Definition: "restart", Environment: "staging"})
	if err != nil || !cmp.Equal(p.Warnings, []string{refusal}) {
		t.Errorf("plan in staging: %v, warnings %q", err, p.Warnings)
	}
	for _, req := range []dayops.RunRequest{
		{Definition: "restart", Environment: "staging", Actor: actor("alice")},
		{Definition: "unknown", Actor: actor("alice")},
	} {
		_, err := h.exec.Start(ctx, req)
		if dayops.KindOf(err) != dayops.KindInvalid || !strings.Contains(dayops.UserMessage(err, ""), "step ") {
			t.Errorf("start %s: %v, want a refusal", req.Definition, err)
		}
	}
	_, err = h.exec.Start(ctx, dayops.RunRequest{Definition: "unknown", Actor: actor("alice")})
	if want := "step Oops: on: wbe is not a target or group of the server configuration — did you mean \"web\"? (known: db-1, web, web-1, web-2)"; dayops.UserMessage(err, "") != want {
		t.Errorf("start unknown: %q, want %q", dayops.UserMessage(err, ""), want)
	}
}

// TestSSHRunnerRefusesBadKeys: a key dayops cannot use is refused at start,
// naming the target and the variable it came from.
func TestSSHRunnerRefusesBadKeys(t *testing.T) {
	tg := withKeys(t)
	web := tg.Hosts["web-2"]
	web.Key, web.KeyEnv = []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n"), "DAYOPS_SSH_KEY_WEB"
	tg.Hosts["web-2"] = web
	_, err := executor.NewSSHRunner(tg)
	want := "the private key of target web-2 (DAYOPS_SSH_KEY_WEB) cannot be used: it is not an unencrypted private key in OpenSSH or PEM format"
	if got := dayops.UserMessage(err, ""); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
