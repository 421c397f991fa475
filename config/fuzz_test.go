package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: any file gives a Config or problems, never a panic; a Config
// always has its defaults, and a problem always names a key and says what
// is wrong.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "dayops.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	for _, s := range []string{
		"", "listen: [", "slack: {mode: sokcet}", "repo: &a {url: x}\nslack: *a", "roles: {sre: {members: [\"slack:U1AB\"], allow: [\"dya1:*\"]}}",
		"targets: {web: [web-1]}", "secrets: {A: b}", "a: &a [*a, *a]", "vars: {? [a]: b}", "channels: {'(': {allow: [x]}}",
		"shutdown_grace: 0s", "web: {trusted_proxies: [::1, 10.0.0.0/8]}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		cfg, problems := parse([]byte(file), env(map[string]string{"DAYOPS_REPO_URL": "/srv/ops", "DAYOPS_SSH_KEY_WEB": testKeyPEM}), true)
		if len(problems) > 0 {
			for _, p := range problems {
				if p.Key == "" && p.Line == 0 || p.Message == "" {
					t.Errorf("problem without a key or a message: %+v", p)
				}
			}
			return
		}
		if cfg.Listen == "" || cfg.Repo.Interval <= 0 || cfg.Timezone == nil || cfg.Slack.IncidentChannels == nil || !strings.HasPrefix(cfg.Slack.Command, "/") {
			t.Errorf("a configuration without its defaults: %+v", cfg)
		}
		for _, r := range cfg.Policy.Roles {
			if len(r.Members) == 0 || len(r.Allow) == 0 {
				t.Errorf("role %s accepted without members or grants", r.Name)
			}
		}
		for _, c := range cfg.Policy.Channels {
			if c.Pattern == nil {
				t.Error("a channel rule without its pattern")
			}
		}
	})
}
