package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// problemsOf parses file with env (plus a repo URL, which every
// configuration needs) and returns the problems as strings.
func problemsOf(file string, environ map[string]string) []string {
	m := map[string]string{"DAYOPS_REPO_URL": "/srv/ops"}
	for k, v := range environ {
		m[k] = v
	}
	_, problems := parse([]byte(file), env(m), true)
	out := make([]string, 0, len(problems))
	for _, p := range problems {
		out = append(out, p.String())
	}
	return out
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
		want []string
	}{
		// The file itself.
		{"not YAML", "listen: [", nil, []string{`file: is not valid YAML: line 1: did not find expected node content`}},
		{"two documents", "listen: :1\n---\nlisten: :2\n", nil, []string{`line 2: file: holds more than one YAML document (---): keep one`}},
		{"not a mapping", "- listen\n", nil, []string{`line 1: : is a list, expected a mapping of keys`}},
		{"unknown key", "lisen: :8080\n", nil, []string{`line 1: lisen: unknown key — did you mean "listen"? (known: alertmanager, base_url, channels, database, github, listen, repo, retention, roles, schedule, secrets, shutdown_grace, slack, ssh, steps, targets, vars, web)`}},
		{"unknown nested key", "slack: {mod: http}\n", nil, []string{`line 1: slack.mod: unknown key — did you mean "mode"? (known: api_url, app_token, bot_token, command, incident_channels, mode, notify_channel, signing_secret)`}},
		{"a key twice", "listen: :1\nlisten: :2\n", nil, []string{`line 2: listen: is given twice`}},
		{"an alias", "repo: &r {url: x}\nslack: *r\n", nil, []string{`line 2: slack: aliases (*name) are not supported in the configuration: write the value out`}},
		{"a section that is a word", "repo: main\n", nil, []string{`line 1: repo: is "main", expected a mapping of keys`}},

		// listen, base_url, database
		{"listen without port", "listen: localhost\n", nil, []string{`line 1: listen: "localhost" is not host:port, e.g. 127.0.0.1:8080 or :8080`}},
		{"listen port", "listen: ':99999'\n", nil, []string{`line 1: listen: ":99999": the port must be a number from 0 to 65535`}},
		{"listen host", "listen: 'a b:80'\n", nil, []string{`line 1: listen: "a b:80": "a b" is not an IP address or host name`}},
		{"listen from the environment", "", map[string]string{"DAYOPS_LISTEN": "8080"}, []string{`DAYOPS_LISTEN: "8080" is not host:port, e.g. 127.0.0.1:8080 or :8080`}},
		{"base_url scheme", "base_url: ftp://x\n", nil, []string{`line 1: base_url: "ftp://x" is not an http or https URL, e.g. https://dayops.example.com`}},
		{"base_url relative", "base_url: dayops.example.com\n", nil, []string{`line 1: base_url: "dayops.example.com" is not an http or https URL, e.g. https://dayops.example.com`}},
		{"base_url with credentials", "base_url: https://u:hunter2@x.example.com\n", nil, []string{`line 1: base_url: must not hold a user name or password: credentials come from the environment`}},
		{"base_url with a query", "base_url: https://x.example.com/?a=1\n", nil, []string{`line 1: base_url: "https://x.example.com/?a=1" must not have a query or fragment`}},
		{"postgres password in the file", "database: postgres://dayops:hunter2@db/dayops\n", nil, []string{`line 1: database: holds a password, and secrets are never read from the file: remove it from the URL and set PGPASSWORD (or the whole URL in DAYOPS_DATABASE) in the environment`}},
		{"postgres password parameter in the file", "database: postgres://dayops@db/dayops?password=hunter2\n", nil, []string{`line 1: database: holds a password, and secrets are never read from the file: remove it from the URL and set PGPASSWORD (or the whole URL in DAYOPS_DATABASE) in the environment`}},
		{"postgres URL without a host", "database: postgres:///dayops\n", nil, []string{`line 1: database: "postgres:///dayops" is not a PostgreSQL URL: write it as postgres://USER@HOST:PORT/DATABASE?sslmode=require (the password in DAYOPS_DATABASE or PGPASSWORD)`}},
		{"postgres URL malformed in the environment", "", map[string]string{"DAYOPS_DATABASE": "postgres://dayops:hunter2@db:port/dayops"}, []string{`DAYOPS_DATABASE: "postgres://***@db:port/dayops" is not a PostgreSQL URL: write it as postgres://USER@HOST:PORT/DATABASE?sslmode=require (the password in DAYOPS_DATABASE or PGPASSWORD)`}},
		{"postgres URL malformed with a password parameter", "", map[string]string{"DAYOPS_DATABASE": "postgres://db:port/dayops?password=hunter2&sslmode=disable"}, []string{`DAYOPS_DATABASE: "postgres://db:port/dayops?password=***&sslmode=disable" is not a PostgreSQL URL: write it as postgres://USER@HOST:PORT/DATABASE?sslmode=require (the password in DAYOPS_DATABASE or PGPASSWORD)`}},

		// repo
		{"repo.url with a token", "repo: {url: 'https://x-access-token:ghp_abc123@github.com/acme/ops.git'}\n", nil, []string{
			`line 1: repo.url: holds a password or token, and secrets are never read from the file: remove it from the URL and set DAYOPS_REPO_TOKEN in the environment`,
		}},
		{"repo.url missing", "", map[string]string{"DAYOPS_REPO_URL": ""}, []string{`repo.url: is missing: set repo.url in the file or DAYOPS_REPO_URL to the ops repo (https, ssh or a local path)`}},
		{"repo.interval not a duration", "repo: {interval: \"5\"}\n", nil, []string{`line 1: repo.interval: "5" is not a duration, e.g. 1m`}},
		{"repo.interval zero", "repo: {interval: 0s}\n", nil, []string{`line 1: repo.interval: "0s" must be more than zero`}},
		{"repo.interval negative", "", map[string]string{"DAYOPS_REPO_INTERVAL": "-1m"}, []string{`DAYOPS_REPO_INTERVAL: "-1m" must be more than zero`}},
		{"repo.interval a list", "repo: {interval: [1m]}\n", nil, []string{`line 1: repo.interval: is a list, expected a single value`}},
		{"repo.branch", "repo: {branch: 'a..b'}\n", nil, []string{`line 1: repo.branch: "a..b" is not a branch name, e.g. main`}},
		{"repo.branch space", "", map[string]string{"DAYOPS_REPO_BRANCH": "my branch"}, []string{`DAYOPS_REPO_BRANCH: "my branch" is not a branch name, e.g. main`}},
		{"repo.path outside", "repo: {path: ../etc}\n", nil, []string{`line 1: repo.path: "../etc" must be a folder inside the repo, e.g. ops (or . for its root)`}},
		{"repo.path absolute", "repo: {path: /etc}\n", nil, []string{`line 1: repo.path: "/etc" must be a folder inside the repo, e.g. ops (or . for its root)`}},

		// slack
		{"slack.mode", "slack: {mode: sokcet}\n", nil, []string{`line 1: slack.mode: "sokcet" is not one of socket, http`}},
		{"DAYOPS_SLACK_MODE", "", map[string]string{"DAYOPS_SLACK_MODE": "HTTP"}, []string{`DAYOPS_SLACK_MODE: "HTTP" is not one of socket, http`}},
		{"socket without an app token", "slack: {mode: socket}\n", map[string]string{"DAYOPS_SLACK_BOT_TOKEN": "xoxb-1"}, []string{`slack.mode: socket needs an app-level token: set DAYOPS_SLACK_APP_TOKEN (xapp-…), or use slack.mode http`}},
		{"http without a signing secret or base_url", "slack: {mode: http}\n", map[string]string{"DAYOPS_SLACK_BOT_TOKEN": "xoxb-1"}, []string{
			`base_url: is missing: slack.mode http needs it for Slack's request URLs (base_url/slack/commands…); set base_url or DAYOPS_BASE_URL`,
			`slack.mode: http needs the signing secret: set DAYOPS_SLACK_SIGNING_SECRET`,
		}},
		{"no bot token", "", map[string]string{"DAYOPS_SLACK_APP_TOKEN": "xapp-1"}, []string{`DAYOPS_SLACK_BOT_TOKEN: is not set: Slack (slack.mode socket) needs the app's bot token (xoxb-…)`}},
		{"short link key", "", map[string]string{"DAYOPS_WEB_LINK_KEY": "abc"}, []string{
			"DAYOPS_WEB_LINK_KEY: has 3 characters: use at least 16 random ones (it signs run links and logins), e.g. from `openssl rand -hex 32`"}},
		{"tokens swapped", "", map[string]string{"DAYOPS_SLACK_APP_TOKEN": "xoxb-1", "DAYOPS_SLACK_BOT_TOKEN": "xapp-1"}, []string{
			`DAYOPS_SLACK_BOT_TOKEN: does not start with xoxb-: copy the right token from the Slack app's settings`,
			`DAYOPS_SLACK_APP_TOKEN: does not start with xapp-: copy the right token from the Slack app's settings`,
		}},
		{"slack.command without slash", "slack: {command: ops}\n", nil, []string{`line 1: slack.command: "ops" is not a slash command: a / then up to 31 lowercase letters, digits, - or _, e.g. ` + DefaultPrefix}},
		{"slack.command upper case", "slack: {command: /Ops}\n", nil, []string{`line 1: slack.command: "/Ops" is not a slash command: a / then up to 31 lowercase letters, digits, - or _, e.g. ` + DefaultPrefix}},
		{"slack.notify_channel", "slack: {notify_channel: 'deploys and more'}\n", nil, []string{`line 1: slack.notify_channel: "deploys and more" is not a channel: a channel ID (C0123ABC) or a name (#deploys)`}},
		{"slack.incident_channels", "slack: {incident_channels: '^inc-('}\n", nil, []string{"line 1: slack.incident_channels: \"^inc-(\" is not a regular expression: missing closing ): `^inc-(`"}},
		{"slack.api_url", "", map[string]string{"DAYOPS_SLACK_API_URL": "slack.com/api"}, []string{`DAYOPS_SLACK_API_URL: "slack.com/api" is not an http or https URL, e.g. https://dayops.example.com`}},

		// github
		{"github.repos name", "github: {repos: {api: {service: api}}}\n", nil, []string{`line 1: github.repos.api: "api" is not a repository: write it as owner/name, e.g. org/api`}},
		{"github.repos service missing", "github: {repos: {org/api: {}}}\n", nil, []string{`line 1: github.repos.org/api.service: is missing: name the service this repository deploys, e.g. {service: api}`}},
		{"github.repos service bad", "github: {repos: {org/api: {service: API}}}\n", nil, []string{`line 1: github.repos.org/api.service: "API" is not a service name: lowercase letters, digits and -`}},
		{"github.repos not a mapping", "github: {repos: [org/api]}\n", nil, []string{`line 1: github.repos: is a list, expected a mapping of names`}},
		{"github.allow_forks", "github: {allow_forks: yes}\n", nil, []string{`line 1: github.allow_forks: "yes" is not true or false`}},
		{"github.allow_forks quoted", "github: {allow_forks: 'true'}\n", nil, []string{`line 1: github.allow_forks: "true" is not true or false`}},
		{"github.environments name", "github: {environments: {Prod: {require_review: true}}}\n", nil, []string{`line 1: github.environments.Prod: "Prod" is not an environment name: lowercase letters, digits, - and _, e.g. production`}},
		{"github.environments unknown key", "github: {environments: {production: {require_reviews: true}}}\n", nil, []string{`line 1: github.environments.production.require_reviews: unknown key — did you mean "require_review"? (known: require_checks, require_review)`}},
		{"github.environments not a bool", "github: {environments: {production: {require_checks: yes}}}\n", nil, []string{`line 1: github.environments.production.require_checks: "yes" is not true or false`}},
		{"github.api_url", "github: {api_url: 'github.example.com'}\n", nil, []string{`line 1: github.api_url: "github.example.com" is not an http or https URL, e.g. https://dayops.example.com`}},

		// web
		{"web.link_ttl", "web: {link_ttl: 7d}\n", nil, []string{`line 1: web.link_ttl: "7d" is not a duration, e.g. 1m`}},
		{"web.proxy_header", "web: {proxy_header: 'X User', trusted_proxies: [10.0.0.1]}\n", nil, []string{`line 1: web.proxy_header: "X User" is not an HTTP header name, e.g. X-Forwarded-User`}},
		{"web.trusted_proxies", "web: {proxy_header: X-User, trusted_proxies: [10.0.0.0/33, proxy.local]}\n", nil, []string{
			`line 1: web.trusted_proxies[0]: "10.0.0.0/33" is not an IP address or CIDR range, e.g. 10.0.0.1 or 10.0.0.0/8`,
			`line 1: web.trusted_proxies[1]: "proxy.local" is not an IP address or CIDR range, e.g. 10.0.0.1 or 10.0.0.0/8`,
		}},
		{"web.proxy_header without proxies", "web: {proxy_header: X-User}\n", nil, []string{`web.trusted_proxies: is missing: web.proxy_header is trusted only from the addresses listed here, e.g. [10.0.0.0/8]`}},
		{"web.trusted_proxies without header", "web: {trusted_proxies: [10.0.0.1]}\n", nil, []string{`web.proxy_header: is missing: web.trusted_proxies is set, so name the header they send, e.g. X-Forwarded-User`}},

		// shutdown_grace, retention, schedule, ssh, steps, vars
		{"shutdown_grace", "shutdown_grace: soon\n", nil, []string{`line 1: shutdown_grace: "soon" is not a duration, e.g. 5m (0 cancels running steps at once)`}},
		{"shutdown_grace negative", "shutdown_grace: -1s\n", nil, []string{`line 1: shutdown_grace: "-1s" is not a duration, e.g. 5m (0 cancels running steps at once)`}},
		{"retention.logs", "retention: {logs: 90 days}\n", nil, []string{`line 1: retention.logs: "90 days" is not a duration, e.g. 1m`}},
		{"retention unknown", "retention: {runs: 1h}\n", nil, []string{`line 1: retention.runs: unknown key (known: logs)`}},
		{"schedule.timezone", "schedule: {timezone: Paris}\n", nil, []string{`line 1: schedule.timezone: "Paris" is not a time zone, e.g. UTC or Europe/Paris`}},
		{"schedule.timezone Local", "schedule: {timezone: Local}\n", nil, []string{`line 1: schedule.timezone: "Local" is not a time zone, e.g. UTC or Europe/Paris`}},
		{"ssh unknown", "ssh: {known_host: x}\n", nil, []string{`line 1: ssh.known_host: unknown key — did you mean "known_hosts"? (known: known_hosts)`}},
		{"steps.run_as root", "steps: {run_as: root}\n", nil, []string{`line 1: steps.run_as: steps must never run as root: name an unprivileged user, e.g. dayops-steps`}},
		{"steps.run_as uid 0", "", map[string]string{"DAYOPS_STEPS_RUN_AS": "0:0"}, []string{`DAYOPS_STEPS_RUN_AS: steps must never run as root: name an unprivileged user, e.g. dayops-steps`}},
		{"steps.run_as form", "steps: {run_as: 'a b'}\n", nil, []string{`line 1: steps.run_as: "a b" is not a user: a name or uid, optionally :group, e.g. dayops-steps`}},
		{"vars name", "vars: {my-var: x}\n", nil, []string{`line 1: vars.my-var: "my-var" is not a variable name: letters, digits and _, e.g. REGISTRY`}},
		{"vars value a list", "vars: {A: [x]}\n", nil, []string{`line 1: vars.A: is a list, expected a single value`}},

		// secrets in the file
		{"slack tokens in the file", "slack: {bot_token: xoxb-1, app_token: xapp-1, signing_secret: s}\n", nil, []string{
			`line 1: slack.bot_token: is a secret, and secrets are never read from the file: remove it and set DAYOPS_SLACK_BOT_TOKEN in the environment`,
			`line 1: slack.app_token: is a secret, and secrets are never read from the file: remove it and set DAYOPS_SLACK_APP_TOKEN in the environment`,
			`line 1: slack.signing_secret: is a secret, and secrets are never read from the file: remove it and set DAYOPS_SLACK_SIGNING_SECRET in the environment`,
		}},
		{"repo token in the file", "repo: {token: t, ssh_key: /k}\n", nil, []string{
			`line 1: repo.token: is a secret, and secrets are never read from the file: remove it and set DAYOPS_REPO_TOKEN in the environment`,
			`line 1: repo.ssh_key: is a secret, and secrets are never read from the file: remove it and set DAYOPS_REPO_SSH_KEY in the environment`,
		}},
		{"github secrets in the file", "github: {token: t, webhook_secret: w}\n", nil, []string{
			`line 1: github.token: is a secret, and secrets are never read from the file: remove it and set DAYOPS_GITHUB_TOKEN in the environment`,
			`line 1: github.webhook_secret: is a secret, and secrets are never read from the file: remove it and set DAYOPS_GITHUB_WEBHOOK_SECRET in the environment`,
		}},
		{"web secrets in the file", "web: {password: p, link_key: k}\n", nil, []string{
			`line 1: web.password: is a secret, and secrets are never read from the file: remove it and set DAYOPS_WEB_PASSWORD in the environment`,
			`line 1: web.link_key: is a secret, and secrets are never read from the file: remove it and set DAYOPS_WEB_LINK_KEY in the environment`,
		}},
		{"alertmanager token in the file", "alertmanager: {token: t}\n", nil, []string{`line 1: alertmanager.token: is a secret, and secrets are never read from the file: remove it and set DAYOPS_ALERTMANAGER_TOKEN in the environment`}},
		{"step secrets in the file", "secrets:\n  kube_token: abc\n  DB_PASSWORD: def\n", nil, []string{
			`line 2: secrets.kube_token: is a secret, and secrets are never read from the file: remove it and set DAYOPS_SECRET_KUBE_TOKEN in the environment`,
			`line 3: secrets.DB_PASSWORD: is a secret, and secrets are never read from the file: remove it and set DAYOPS_SECRET_DB_PASSWORD in the environment`,
		}},
		{"step secrets as a list", "secrets: [KUBE_TOKEN]\n", nil, []string{`line 1: secrets: secrets are never read from the file: remove secrets and set DAYOPS_SECRET_<NAME> in the environment for each`}},
		{"ssh key in a target", "targets: {web-1: {host: h, user: u, key: abc, key_env: DAYOPS_SSH_KEY_WEB}}\nssh: {known_hosts: /k}\n", map[string]string{"DAYOPS_SSH_KEY_WEB": testKeyPEM}, []string{
			`line 1: targets.web-1.key: is a secret, and secrets are never read from the file: remove it, put the private key in an environment variable such as DAYOPS_SSH_KEY_WEB and name it in key_env`,
		}},

		// targets
		{"target fields", "targets: {web-1: {port: 0}}\nssh: {known_hosts: /k}\n", nil, []string{
			`line 1: targets.web-1.port: "0" is not a port: a number from 1 to 65535`,
			`line 1: targets.web-1.host: is missing: the address dayops connects to`,
			`line 1: targets.web-1.user: is missing: the user dayops logs in as`,
			`line 1: targets.web-1.key_env: is missing: name the environment variable that holds the private key, e.g. DAYOPS_SSH_KEY_WEB`,
		}},
		{"target key_env not held", "targets: {web-1: {host: h, user: u, key_env: SSH_KEY}}\nssh: {known_hosts: /k}\n", nil, []string{
			`line 1: targets.web-1.key_env: "SSH_KEY" must start with DAYOPS_ and contain KEY (e.g. DAYOPS_SSH_KEY_WEB), so that dayops takes it out of the environment its steps see`,
		}},
		{"target key_env unset", "targets: {web-1: {host: h, user: u, key_env: DAYOPS_SSH_KEY_WEB}}\nssh: {known_hosts: /k}\n", nil, []string{
			`targets.web-1.key_env: DAYOPS_SSH_KEY_WEB is not set in the environment: set it to the private key of web-1`,
		}},
		{"target environments", "targets: {web-1: {host: h, user: u, key_env: DAYOPS_SSH_KEY_WEB, environments: [Prod]}}\nssh: {known_hosts: /k}\n", map[string]string{"DAYOPS_SSH_KEY_WEB": testKeyPEM}, []string{
			`line 1: targets.web-1.environments[0]: "Prod" is not an environment name: lowercase letters, digits, - and _`,
		}},
		{"target group of unknown", "targets:\n  web-1: {host: h, user: u, key_env: DAYOPS_SSH_KEY_WEB}\n  web: [web-1, web1, db]\nssh: {known_hosts: /k}\n", map[string]string{"DAYOPS_SSH_KEY_WEB": testKeyPEM}, []string{
			`line 3: targets.web[1]: "web1" is not a target defined in targets — did you mean "web-1"?`,
			`line 3: targets.web[2]: "db" is not a target defined in targets`,
		}},
		{"target empty group", "targets: {web: []}\nssh: {known_hosts: /k}\n", nil, []string{`line 1: targets.web: is an empty group: list its targets, e.g. [web-1, web-2]`}},
		{"target a word", "targets: {web: h}\nssh: {known_hosts: /k}\n", nil, []string{`line 1: targets.web: is "h", expected a target {host: …, user: …} or a group [web-1, web-2]`}},
		{"targets without known_hosts", "targets: {web-1: {host: h, user: u, key_env: DAYOPS_SSH_KEY_WEB, trust_on_first_use: true}}\n", map[string]string{"DAYOPS_SSH_KEY_WEB": testKeyPEM}, []string{
			`ssh.known_hosts: is missing: SSH targets need a known_hosts file with their host keys (ssh-keyscan -t ed25519 HOST >> FILE, then compare the fingerprints); set ssh.known_hosts or DAYOPS_SSH_KNOWN_HOSTS`,
		}},
		{"target trust_on_first_use", "targets: {web-1: {host: h, user: u, key_env: DAYOPS_SSH_KEY_WEB, trust_on_first_use: yes please}}\nssh: {known_hosts: /k}\n", map[string]string{"DAYOPS_SSH_KEY_WEB": testKeyPEM}, []string{
			`line 1: targets.web-1.trust_on_first_use: "yes please" is not true or false`,
		}},
		{"target name", "targets: {Web_1: {host: h, user: u, key_env: DAYOPS_SSH_KEY_WEB}}\nssh: {known_hosts: /k}\n", map[string]string{"DAYOPS_SSH_KEY_WEB": testKeyPEM}, []string{`line 1: targets.Web_1: "Web_1" is not a target name: lowercase letters, digits, ., - and _, e.g. web-1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, problemsOf(tt.file, tt.env)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// testKeyPEM stands for a private key in a target's key_env.
const testKeyPEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----\n"
