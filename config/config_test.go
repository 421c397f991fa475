package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dayops/dayops"
)

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// testSecrets are the secrets of the example environment; no printing may
// show any of them.
var testSecrets = map[string]string{
	"DAYOPS_SLACK_BOT_TOKEN":       "xoxb-1111-bot-token-value",
	"DAYOPS_SLACK_APP_TOKEN":       "xapp-2222-app-token-value",
	"DAYOPS_SLACK_SIGNING_SECRET":  "signing-secret-3333",
	"DAYOPS_REPO_TOKEN":            "ghp_repo_token_4444",
	"DAYOPS_GITHUB_TOKEN":          "ghp_github_token_5555",
	"DAYOPS_GITHUB_WEBHOOK_SECRET": "webhook-secret-6666",
	"DAYOPS_WEB_PASSWORD":          "web-password-7777",
	"DAYOPS_WEB_LINK_KEY":          "web-link-key-8888",
	"DAYOPS_ALERTMANAGER_TOKEN":    "alertmanager-token-9999",
	"DAYOPS_SSH_KEY_WEB":           "-----BEGIN OPENSSH PRIVATE KEY-----\nssh-key-0000\n",
}

var cmpConfig = cmp.Options{
	cmp.AllowUnexported(Secret{}),
	cmp.Comparer(func(a, b *regexp.Regexp) bool { return a.String() == b.String() }),
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

func TestLoadExample(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "dayops.yaml"), env(testSecrets))
	if err != nil {
		t.Fatal(err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	key := NewSecret(testSecrets["DAYOPS_SSH_KEY_WEB"])
	want := &Config{
		File: filepath.Join("testdata", "dayops.yaml"), Listen: "0.0.0.0:8080", Database: "/var/lib/dayops/dayops.db",
		BaseURL: "https://dayops.example.com",
		Repo: Repo{URL: "https://github.com/acme/ops.git", Branch: "release", Path: "ops", Interval: 30 * time.Second,
			Token: NewSecret(testSecrets["DAYOPS_REPO_TOKEN"])},
		Slack: Slack{Mode: SlackHTTP, BotToken: NewSecret(testSecrets["DAYOPS_SLACK_BOT_TOKEN"]),
			AppToken: NewSecret(testSecrets["DAYOPS_SLACK_APP_TOKEN"]), SigningSecret: NewSecret(testSecrets["DAYOPS_SLACK_SIGNING_SECRET"]),
			APIURL: "http://127.0.0.1:9999/api", Command: "/acme-ops", NotifyChannel: "#deploys",
			IncidentChannels: regexp.MustCompile(`^(inc|sev)-`)},
		GitHub: GitHub{APIURL: "https://github.example.com/api/v3", Token: NewSecret(testSecrets["DAYOPS_GITHUB_TOKEN"]),
			WebhookSecret: NewSecret(testSecrets["DAYOPS_GITHUB_WEBHOOK_SECRET"]),
			Repos:         map[string]GitHubRepo{"acme/api": {Service: "api"}, "acme/web": {Service: "web"}}, AllowForks: true, OpsRepo: "acme/ops",
			Environments: map[string]GitHubEnvironment{"production": {RequireReview: true, RequireChecks: true}, "staging": {}}},
		Policy: dayops.Policy{
			Roles: []dayops.Role{
				{Name: "sre", Members: []string{"slack:U012ABC", "slack-group:S0SRE", "github:alice", "github-team:acme/sre"}, Allow: []string{"*"}},
				{Name: "dev", Members: []string{"slack-group:S0DEV", "console:carol"}, Allow: []string{"day1:*:staging", "day2:diagnose-*", "read", "lock:staging", "unlock:staging", "override:day1:*:staging"}},
				{Name: "robots", Members: []string{"trigger:alert", "trigger:schedule"}, Allow: []string{"day2:restart-*"}},
			},
			Channels: []dayops.ChannelRule{{Pattern: regexp.MustCompile(`^inc-`), Allow: []string{"day2:*"}}},
		},
		Web: Web{LinkTTL: 24 * time.Hour, ProxyHeader: "X-Forwarded-User",
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.10/32")},
			Password:       NewSecret(testSecrets["DAYOPS_WEB_PASSWORD"]), LinkKey: NewSecret(testSecrets["DAYOPS_WEB_LINK_KEY"])},
		ShutdownGrace: 2 * time.Minute,
		Targets: map[string]Target{
			"web-1": {Host: "10.0.1.1", Port: 22, User: "deploy", KeyEnv: "DAYOPS_SSH_KEY_WEB", Key: key, Environments: []string{"production"}},
			"web-2": {Host: "web-2.internal", Port: 2222, User: "deploy", KeyEnv: "DAYOPS_SSH_KEY_WEB", Key: key},
		},
		TargetGroups:      map[string][]string{"web": {"web-1", "web-2"}},
		KnownHosts:        "/etc/dayops/known_hosts",
		LogRetention:      720 * time.Hour,
		Timezone:          paris,
		AlertmanagerToken: NewSecret(testSecrets["DAYOPS_ALERTMANAGER_TOKEN"]),
		RunAs:             "dayops-steps",
		Vars:              map[string]string{"REGISTRY": "registry.example.com", "region": "eu-west-1"},
	}
	if diff := cmp.Diff(want, cfg, cmpConfig); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"DAYOPS_REPO_URL": "/srv/ops"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Listen: DefaultListen, Database: "dayops.db",
		Repo:          Repo{URL: "/srv/ops", Branch: "main", Path: "ops", Interval: time.Minute},
		Slack:         Slack{Command: DefaultPrefix, IncidentChannels: regexp.MustCompile(`^inc-`)},
		Web:           Web{LinkTTL: 168 * time.Hour},
		ShutdownGrace: 5 * time.Minute, LogRetention: 2160 * time.Hour, Timezone: time.UTC,
	}
	if diff := cmp.Diff(want, cfg, cmpConfig); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if DefaultPrefix != "/"+"ops" {
		t.Errorf("DefaultPrefix = %q, SPEC §2 says the default slash command is /ops", DefaultPrefix)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	file := `
listen: 127.0.0.1:1
database: file.db
base_url: https://file.example.com
repo: {url: https://file.example.com/ops.git, branch: file, path: file, interval: 1h}
slack: {mode: http, api_url: https://file.example.com/api}
github: {api_url: https://file.example.com/gh}
ssh: {known_hosts: /file/known_hosts}
schedule: {timezone: Asia/Tokyo}
steps: {run_as: fileuser}
`
	cfg, problems := parse([]byte(file), env(map[string]string{
		"DAYOPS_LISTEN": ":9090", "DAYOPS_DATABASE": "env.db", "DAYOPS_BASE_URL": "https://env.example.com",
		"DAYOPS_REPO_URL": "/env/ops", "DAYOPS_REPO_BRANCH": "env", "DAYOPS_REPO_PATH": ".", "DAYOPS_REPO_INTERVAL": "2m",
		"DAYOPS_REPO_SSH_KEY": "/env/id_ed25519", "DAYOPS_SLACK_MODE": "socket", "DAYOPS_SLACK_API_URL": "https://env.example.com/api",
		"DAYOPS_GITHUB_API_URL": "https://env.example.com/gh", "DAYOPS_SSH_KNOWN_HOSTS": "/env/known_hosts",
		"DAYOPS_TIMEZONE": "America/New_York", "DAYOPS_STEPS_RUN_AS": "1001:1001",
		"DAYOPS_SLACK_BOT_TOKEN": "xoxb-1", "DAYOPS_SLACK_APP_TOKEN": "xapp-1",
	}), true)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	got := []string{cfg.Listen, cfg.Database, cfg.BaseURL, cfg.Repo.URL, cfg.Repo.Branch, cfg.Repo.Path, cfg.Repo.Interval.String(),
		cfg.Repo.SSHKeyPath, cfg.Slack.Mode, cfg.Slack.APIURL, cfg.GitHub.APIURL, cfg.KnownHosts, cfg.Timezone.String(), cfg.RunAs}
	want := []string{":9090", "env.db", "https://env.example.com", "/env/ops", "env", ".", "2m0s",
		"/env/id_ed25519", "socket", "https://env.example.com/api", "https://env.example.com/gh", "/env/known_hosts", "America/New_York", "1001:1001"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment over file (-want +got):\n%s", diff)
	}
}

func TestSlackMode(t *testing.T) {
	base := map[string]string{"DAYOPS_REPO_URL": "/srv/ops"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no tokens: Slack off", with(), ""},
		{"an app token: socket", with("DAYOPS_SLACK_BOT_TOKEN", "xoxb-1", "DAYOPS_SLACK_APP_TOKEN", "xapp-1"), SlackSocket},
		{"a signing secret only: http", with("DAYOPS_SLACK_BOT_TOKEN", "xoxb-1", "DAYOPS_SLACK_SIGNING_SECRET", "s", "DAYOPS_BASE_URL", "https://x.example.com"), SlackHTTP},
		{"http asked for with an app token", with("DAYOPS_SLACK_MODE", "http", "DAYOPS_SLACK_BOT_TOKEN", "xoxb-1", "DAYOPS_SLACK_APP_TOKEN", "xapp-1", "DAYOPS_SLACK_SIGNING_SECRET", "s", "DAYOPS_BASE_URL", "https://x.example.com"), SlackHTTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("", env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Slack.Mode != tt.want {
				t.Errorf("mode = %q, want %q", cfg.Slack.Mode, tt.want)
			}
		})
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dayops.yaml")
	file := "slack:\n  mode: sokcet\nrepo:\n  url: /srv/ops\n  interval: \"5\"\nlisten: nowhere\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, env(map[string]string{"DAYOPS_TIMEZONE": "Mars/Olympus"}))
	if dayops.KindOf(err) != dayops.KindInvalid {
		t.Fatalf("Load = %v, want an invalid error", err)
	}
	want := "config.load: the configuration (" + path + ") has 4 problems:\n" +
		"  line 2: slack.mode: \"sokcet\" is not one of socket, http\n" +
		"  line 5: repo.interval: \"5\" is not a duration, e.g. 1m\n" +
		"  line 6: listen: \"nowhere\" is not host:port, e.g. 127.0.0.1:8080 or :8080\n" +
		"  DAYOPS_TIMEZONE: \"Mars/Olympus\" is not a time zone, e.g. UTC or Europe/Paris"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("vars: {A: \""+strings.Repeat("x", maxFileSize)+"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.yaml"), "reading the configuration: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"},
		{"too large", big, "the configuration " + big + " is larger than 1048576 bytes: is it the right file?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path, env(map[string]string{"DAYOPS_REPO_URL": "/srv/ops"}))
			if err == nil || dayops.UserMessage(err, "") != tt.want {
				t.Errorf("Load = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestLoadSettings: the manifest is printed before the Slack app and its
// tokens exist, so LoadSettings does not ask for them; Load does.
func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dayops.yaml")
	file := "base_url: https://dayops.example.com\nrepo: {url: /srv/ops}\nslack: {mode: http}\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadSettings(path, env(nil))
	if err != nil {
		t.Fatalf("LoadSettings: %v", err)
	}
	if cfg.Slack.Mode != SlackHTTP || cfg.BaseURL != "https://dayops.example.com" {
		t.Errorf("LoadSettings = mode %q, base_url %q", cfg.Slack.Mode, cfg.BaseURL)
	}
	if _, err := Load(path, env(nil)); err == nil || !strings.Contains(err.Error(), "DAYOPS_SLACK_SIGNING_SECRET") {
		t.Errorf("Load without the signing secret = %v, want the missing secret named", err)
	}
	if err := os.WriteFile(path, []byte(file+"web: {password: hunter2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSettings(path, env(nil)); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "DAYOPS_WEB_PASSWORD") {
		t.Errorf("LoadSettings with a password in the file = %v, want it refused without the value", err)
	}
}

func TestGitHubOpsRepo(t *testing.T) {
	tests := []struct{ url, file, want string }{
		{"https://github.com/acme/runbooks.git", "", "acme/runbooks"},
		{"https://token@github.com/acme/runbooks", "", "acme/runbooks"},
		{"git@github.com:acme/runbooks.git", "", "acme/runbooks"},
		{"ssh://git@github.com/acme/runbooks.git", "", "acme/runbooks"},
		{"https://gitlab.com/acme/runbooks.git", "", ""},
		{"/srv/ops", "", ""},
		{"http://127.0.0.1:9/ops.git", "github: {ops_repo: acme/ops-repo}\n", "acme/ops-repo"},
	}
	for _, tc := range tests {
		path := filepath.Join(t.TempDir(), "dayops.yaml")
		if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, env(map[string]string{"DAYOPS_REPO_URL": tc.url}))
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if cfg.GitHub.OpsRepo != tc.want {
			t.Errorf("%s: ops repo %q, want %q", tc.url, cfg.GitHub.OpsRepo, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "dayops.yaml")
	if err := os.WriteFile(path, []byte("github: {ops_repo: not-a-repo}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, env(map[string]string{"DAYOPS_REPO_URL": "/srv/ops", "DAYOPS_GITHUB_TOKEN": "ghp_x"}))
	if err == nil || !strings.Contains(err.Error(), "github.ops_repo") || !strings.Contains(err.Error(), "DAYOPS_GITHUB_WEBHOOK_SECRET") {
		t.Errorf("a bad ops_repo and half the credentials: %v", err)
	}
}

// TestTargetKeyFromAFile: a target's key_env holds the private key, or the
// path of a file holding it; a path that holds no key is refused, naming it
// and never showing what it holds.
func TestTargetKeyFromAFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	pem := "-----BEGIN OPENSSH PRIVATE KEY-----\nssh-key-from-file\n-----END OPENSSH PRIVATE KEY-----\n"
	notKey := filepath.Join(dir, "notes.txt")
	for path, content := range map[string]string{keyFile: pem, notKey: "hunter2 is not a key"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "dayops.yaml")
	if err := os.WriteFile(file, []byte("ssh: {known_hosts: /etc/ssh/ssh_known_hosts}\ntargets: {web-1: {host: 10.0.0.1, user: deploy, key_env: DAYOPS_SSH_KEY_WEB}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		value, want, problem string
	}{
		{pem, pem, ""},
		{keyFile, pem, ""},
		{notKey, "", "holds no PEM private key"},
		{filepath.Join(dir, "missing"), "", "neither a private key nor the path of a readable file"},
		{dir, "", "not a private key file"},
	} {
		cfg, err := LoadSettings(file, env(map[string]string{"DAYOPS_REPO_URL": "/srv/ops", "DAYOPS_SSH_KEY_WEB": tc.value}))
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("%s: %v", tc.value, err)
		case tc.problem == "" && cfg.Targets["web-1"].Key.Value() != tc.want:
			t.Errorf("%s: key %q", tc.value, cfg.Targets["web-1"].Key.Value())
		case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem) || !strings.Contains(err.Error(), "targets.web-1.key_env") || strings.Contains(err.Error(), "hunter2")):
			t.Errorf("%s: %v, want %q", tc.value, err, tc.problem)
		}
	}
}
