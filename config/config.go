package config

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dayops/dayops"
)

// DefaultPrefix is the default slack.command, the chat command that starts
// a command in Slack and in pull request comments. It equals
// commands.DefaultPrefix, which config may not import (a test in cmd/dayops checks).
const DefaultPrefix = "/ops"

// Defaults of SPEC §2.
const (
	DefaultListen           = "127.0.0.1:8080"
	DefaultDatabase         = "dayops.db"
	DefaultBranch           = "main"
	DefaultPath             = "ops"
	DefaultInterval         = time.Minute
	DefaultShutdownGrace    = 5 * time.Minute
	DefaultLinkTTL          = 168 * time.Hour
	DefaultLogRetention     = 2160 * time.Hour
	DefaultIncidentChannels = "^inc-"
)

// Slack modes.
const (
	SlackSocket = "socket"
	SlackHTTP   = "http"
)

// maxFileSize bounds the configuration file: it is written by people.
const maxFileSize = 1 << 20

// Config is the server configuration: the file and the environment, typed
// and validated. Secret fields print as "[set]" or "[unset]".
type Config struct {
	File     string // the file it was read from ("" for none)
	Listen   string // HTTP address, host:port
	Database string // SQLite path, or postgres://… without its password
	// DatabasePassword is the password DAYOPS_DATABASE's PostgreSQL URL
	// held (never the file's); DatabaseURL puts it back to open the database.
	DatabasePassword Secret
	BaseURL          string        // public URL of the server, no trailing slash; "" when unset
	Repo             Repo          // the ops repo
	Slack            Slack         // the Slack app
	GitHub           GitHub        // the GitHub integration
	Policy           dayops.Policy // roles and channel rules, compiled
	Web              Web           // the run pages
	ShutdownGrace    time.Duration // how long SIGTERM lets running steps finish
	// Targets are the SSH targets by name; TargetGroups the groups of
	// targets by name (a group lists target names).
	Targets           map[string]Target
	TargetGroups      map[string][]string
	KnownHosts        string         // ssh.known_hosts: known_hosts file
	LogRetention      time.Duration  // retention.logs
	Timezone          *time.Location // schedule.timezone
	AlertmanagerToken Secret         // bearer token of /hooks/alertmanager
	RunAs             string         // steps.run_as: the OS user steps run as
	// Vars are the server variables of the file (vars). The environment's
	// DAYOPS_VAR_<NAME> override them; the caller adds those, and the
	// DAYOPS_SECRET_<NAME> step secrets, because getenv cannot list the
	// environment.
	Vars map[string]string
}

// Repo is the ops repo to follow.
type Repo struct {
	URL        string        // https, ssh or a local path
	Branch     string        // default main
	Path       string        // folder of definitions inside the repo, default ops
	Interval   time.Duration // poll interval, default 1m
	Token      Secret        // DAYOPS_REPO_TOKEN: HTTPS token
	SSHKeyPath string        // DAYOPS_REPO_SSH_KEY: path of an SSH private key
}

// Slack is the Slack app.
type Slack struct {
	// Mode is SlackSocket or SlackHTTP; "" when no Slack token is set (Slack off).
	Mode             string
	BotToken         Secret         // DAYOPS_SLACK_BOT_TOKEN (xoxb-…)
	AppToken         Secret         // DAYOPS_SLACK_APP_TOKEN (xapp-…), Socket Mode
	SigningSecret    Secret         // DAYOPS_SLACK_SIGNING_SECRET, HTTP mode
	APIURL           string         // Web API base URL; "" for Slack's
	Command          string         // the slash command, default DefaultPrefix
	NotifyChannel    string         // channel for pull-request-triggered and scheduled runs
	IncidentChannels *regexp.Regexp // incident channel names, default ^inc-
}

// Enabled reports whether GitHub is configured: its token and webhook
// secret are set.
func (g GitHub) Enabled() bool { return g.Token.IsSet() && g.WebhookSecret.IsSet() }

// Enabled reports whether Slack is configured.
func (s Slack) Enabled() bool { return s.Mode != "" }

// GitHub is the GitHub integration.
type GitHub struct {
	APIURL        string                // REST base URL; "" for GitHub's
	Token         Secret                // DAYOPS_GITHUB_TOKEN
	WebhookSecret Secret                // DAYOPS_GITHUB_WEBHOOK_SECRET
	Repos         map[string]GitHubRepo // "org/name" -> what it deploys
	AllowForks    bool                  // whether pull requests from forks may trigger runs
	// OpsRepo is the ops repo's "owner/name" on GitHub: pushes to its
	// branch sync at once and its pull requests are validated. Default:
	// read from repo.url when that is a github.com URL; "" when it is not
	// on GitHub.
	OpsRepo string
	// Environments are what a run from a pull request needs of it, per
	// environment (github.environments); the ops repo cannot weaken them.
	Environments map[string]GitHubEnvironment
}

// GitHubEnvironment is what a run from a pull request in one environment
// needs of the pull request, read from GitHub when the run is asked for.
type GitHubEnvironment struct {
	RequireReview bool // approved by someone other than its author
	RequireChecks bool // its required checks passed
}

// GitHubRepo is an application repository allowed to trigger runs.
type GitHubRepo struct {
	Service string // the service it deploys
}

// MinLinkKeyLength is the shortest DAYOPS_WEB_LINK_KEY accepted.
const MinLinkKeyLength = 16

// Web is the run pages.
type Web struct {
	LinkTTL        time.Duration  // lifetime of signed run-page links
	ProxyHeader    string         // login by this reverse-proxy header…
	TrustedProxies []netip.Prefix // …only from these addresses
	Password       Secret         // DAYOPS_WEB_PASSWORD
	LinkKey        Secret         // DAYOPS_WEB_LINK_KEY
}

// Target is an SSH target.
type Target struct {
	Host   string
	Port   int
	User   string
	KeyEnv string // the environment variable holding its private key
	Key    Secret // that variable's value
	// Environments, when set, are the only environments whose runs may use
	// the target (runs without an environment may not).
	Environments []string
	// TrustOnFirstUse accepts the host's key when ssh.known_hosts has no key
	// for it, and adds it there; a different key is still refused.
	TrustOnFirstUse bool
}

// Load reads the configuration file at path (none when path is "") and the
// environment through getenv. On any problem it returns a *dayops.Error of
// kind invalid whose message lists every problem, each with its key.
func Load(path string, getenv func(string) string) (*Config, error) {
	return load(path, getenv, true)
}

// LoadSettings is Load without the checks that credentials are present
// (the Slack tokens its mode needs, the SSH keys of targets), for tools such
// as `dayops slack-manifest` that run before the Slack app, and so its
// tokens, exist. Everything else is checked as by Load; a secret written in
// the file is still an error.
func LoadSettings(path string, getenv func(string) string) (*Config, error) {
	return load(path, getenv, false)
}

func load(path string, getenv func(string) string, credentials bool) (*Config, error) {
	var data []byte
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, dayops.Errorf(dayops.KindInvalid, "reading the configuration: %v", err)
		}
		data, err = io.ReadAll(io.LimitReader(f, maxFileSize+1))
		f.Close()
		if err != nil {
			return nil, dayops.Errorf(dayops.KindInvalid, "reading the configuration %s: %v", path, err)
		}
		if len(data) > maxFileSize {
			return nil, dayops.Errorf(dayops.KindInvalid, "the configuration %s is larger than %d bytes: is it the right file?", path, maxFileSize)
		}
	}
	cfg, problems := parse(data, getenv, credentials)
	if len(problems) > 0 {
		return nil, problemsError(path, problems)
	}
	cfg.File = path
	return cfg, nil
}

func problemsError(path string, problems []Problem) error {
	name := path
	if name == "" {
		name = "the environment"
	}
	var b strings.Builder
	if len(problems) == 1 {
		fmt.Fprintf(&b, "the configuration (%s) has a problem:", name)
	} else {
		fmt.Fprintf(&b, "the configuration (%s) has %d problems:", name, len(problems))
	}
	for _, p := range problems {
		b.WriteString("\n  " + p.String())
	}
	return &dayops.Error{Kind: dayops.KindInvalid, Op: "config.load", Message: b.String()}
}

// parse is Load on the file's bytes.
func parse(data []byte, getenv func(string) string, credentials bool) (*Config, []Problem) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	d := &decoder{}
	cfg := &Config{}
	var root yaml.Node
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&root); err != nil {
			return nil, []Problem{{Key: "file", Message: "is not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
		}
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			return nil, []Problem{{Key: "file", Line: extra.Line, Message: "holds more than one YAML document (---): keep one"}}
		}
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		d.file(root.Content[0], cfg)
	}
	d.environment(getenv, cfg)
	d.defaults(cfg)
	d.check(cfg)
	if credentials {
		d.checkCredentials(cfg)
	}
	return cfg, d.problems
}

// secretVar names the variable that holds a secret refused in the file.
var secretVars = map[string]string{
	"repo.token":            "DAYOPS_REPO_TOKEN",
	"repo.ssh_key":          "DAYOPS_REPO_SSH_KEY",
	"slack.bot_token":       "DAYOPS_SLACK_BOT_TOKEN",
	"slack.app_token":       "DAYOPS_SLACK_APP_TOKEN",
	"slack.signing_secret":  "DAYOPS_SLACK_SIGNING_SECRET",
	"github.token":          "DAYOPS_GITHUB_TOKEN",
	"github.webhook_secret": "DAYOPS_GITHUB_WEBHOOK_SECRET",
	"web.password":          "DAYOPS_WEB_PASSWORD",
	"web.link_key":          "DAYOPS_WEB_LINK_KEY",
	"alertmanager.token":    "DAYOPS_ALERTMANAGER_TOKEN",
}

// refuse reports a secret written in the file. The value is never repeated.
func (d *decoder) refuse(n *yaml.Node, key string) {
	d.addf(n, key, "is a secret, and secrets are never read from the file: remove it and set %s in the environment", secretVars[key])
}

func (d *decoder) refused(key string) field {
	return func(n *yaml.Node, _ string) { d.refuse(n, key) }
}

// file reads the top-level mapping.
func (d *decoder) file(n *yaml.Node, cfg *Config) {
	at := func(n *yaml.Node, key, s string, check func(string) (string, string)) string {
		v, problem := check(s)
		if problem != "" {
			d.addf(n, key, "%s", problem)
		}
		return v
	}
	dur := func(dst *time.Duration) field {
		return func(n *yaml.Node, key string) {
			if s, ok := d.scalar(n, key); ok {
				v, problem := parseDuration(s)
				if problem != "" {
					d.addf(n, key, "%s", problem)
				}
				*dst = v
			}
		}
	}
	d.mapping(n, "", map[string]field{
		"listen": func(n *yaml.Node, key string) { cfg.Listen = at(n, key, d.str(n, key), checkListen) },
		"database": func(n *yaml.Node, key string) {
			dsn, password, problem := splitDatabase(d.str(n, key))
			switch {
			case problem != "":
				d.addf(n, key, "%s", problem)
			case password != "":
				d.addf(n, key, "holds a password, and secrets are never read from the file: remove it from the URL and set PGPASSWORD (or the whole URL in DAYOPS_DATABASE) in the environment")
			default:
				cfg.Database = dsn
			}
		},
		"base_url": func(n *yaml.Node, key string) {
			if s, ok := d.scalar(n, key); ok {
				cfg.BaseURL = at(n, key, s, parseHTTPURL)
			}
		},
		"repo": func(n *yaml.Node, key string) {
			d.mapping(n, key, map[string]field{
				"url": func(n *yaml.Node, key string) {
					cfg.Repo.URL = d.str(n, key)
					if u, err := url.Parse(cfg.Repo.URL); err == nil && u.User != nil {
						if _, has := u.User.Password(); has {
							d.addf(n, key, "holds a password or token, and secrets are never read from the file: remove it from the URL and set DAYOPS_REPO_TOKEN in the environment")
							cfg.Repo.URL = ""
						}
					}
				},
				"branch":   func(n *yaml.Node, key string) { cfg.Repo.Branch = at(n, key, d.str(n, key), checkBranch) },
				"path":     func(n *yaml.Node, key string) { cfg.Repo.Path = at(n, key, d.str(n, key), checkRepoPath) },
				"interval": dur(&cfg.Repo.Interval),
				"token":    d.refused("repo.token"),
				"ssh_key":  d.refused("repo.ssh_key"),
			})
		},
		"slack": func(n *yaml.Node, key string) {
			d.mapping(n, key, map[string]field{
				"mode": func(n *yaml.Node, key string) { cfg.Slack.Mode = at(n, key, d.str(n, key), checkMode) },
				"api_url": func(n *yaml.Node, key string) {
					if s, ok := d.scalar(n, key); ok {
						cfg.Slack.APIURL = at(n, key, s, parseHTTPURL)
					}
				},
				"command":        func(n *yaml.Node, key string) { cfg.Slack.Command = at(n, key, d.str(n, key), checkCommand) },
				"notify_channel": func(n *yaml.Node, key string) { cfg.Slack.NotifyChannel = at(n, key, d.str(n, key), checkChannel) },
				"incident_channels": func(n *yaml.Node, key string) {
					if s, ok := d.scalar(n, key); ok {
						cfg.Slack.IncidentChannels = d.regexp(n, key, s)
					}
				},
				"bot_token":      d.refused("slack.bot_token"),
				"app_token":      d.refused("slack.app_token"),
				"signing_secret": d.refused("slack.signing_secret"),
			})
		},
		"github": func(n *yaml.Node, key string) {
			d.mapping(n, key, map[string]field{
				"api_url": func(n *yaml.Node, key string) {
					if s, ok := d.scalar(n, key); ok {
						cfg.GitHub.APIURL = at(n, key, s, parseHTTPURL)
					}
				},
				"repos":        func(n *yaml.Node, key string) { cfg.GitHub.Repos = d.githubRepos(n, key) },
				"allow_forks":  func(n *yaml.Node, key string) { cfg.GitHub.AllowForks = d.boolean(n, key) },
				"environments": func(n *yaml.Node, key string) { cfg.GitHub.Environments = d.githubEnvironments(n, key) },
				"ops_repo": func(n *yaml.Node, key string) {
					cfg.GitHub.OpsRepo = at(n, key, d.str(n, key), checkRepoName)
				},
				"token":          d.refused("github.token"),
				"webhook_secret": d.refused("github.webhook_secret"),
			})
		},
		"roles":    func(n *yaml.Node, key string) { cfg.Policy.Roles = d.roles(n, key) },
		"channels": func(n *yaml.Node, key string) { cfg.Policy.Channels = d.channels(n, key) },
		"web": func(n *yaml.Node, key string) {
			d.mapping(n, key, map[string]field{
				"link_ttl":        dur(&cfg.Web.LinkTTL),
				"proxy_header":    func(n *yaml.Node, key string) { cfg.Web.ProxyHeader = at(n, key, d.str(n, key), checkHeader) },
				"trusted_proxies": func(n *yaml.Node, key string) { cfg.Web.TrustedProxies = d.proxies(n, key) },
				"password":        d.refused("web.password"),
				"link_key":        d.refused("web.link_key"),
			})
		},
		"shutdown_grace": func(n *yaml.Node, key string) {
			if s, ok := d.scalar(n, key); ok {
				v, err := time.ParseDuration(strings.TrimSpace(s))
				if err != nil || v < 0 {
					d.addf(n, key, "%q is not a duration, e.g. 5m (0 cancels running steps at once)", s)
				}
				cfg.ShutdownGrace = v
				if v == 0 && err == nil {
					cfg.ShutdownGrace = -1 // given as zero: keep it from the default
				}
			}
		},
		"targets": func(n *yaml.Node, key string) { cfg.Targets, cfg.TargetGroups = d.targets(n, key) },
		"ssh": func(n *yaml.Node, key string) {
			d.mapping(n, key, map[string]field{
				"known_hosts": func(n *yaml.Node, key string) { cfg.KnownHosts = d.str(n, key) },
			})
		},
		"retention": func(n *yaml.Node, key string) {
			d.mapping(n, key, map[string]field{"logs": dur(&cfg.LogRetention)})
		},
		"schedule": func(n *yaml.Node, key string) {
			d.mapping(n, key, map[string]field{
				"timezone": func(n *yaml.Node, key string) {
					if s, ok := d.scalar(n, key); ok {
						cfg.Timezone = d.timezone(n, key, s)
					}
				},
			})
		},
		"alertmanager": func(n *yaml.Node, key string) {
			d.mapping(n, key, map[string]field{"token": d.refused("alertmanager.token")})
		},
		"secrets": func(n *yaml.Node, key string) {
			if n.Kind != yaml.MappingNode {
				d.addf(n, key, "secrets are never read from the file: remove %s and set DAYOPS_SECRET_<NAME> in the environment for each", key)
				return
			}
			d.entries(n, key, func(name string, v *yaml.Node, key string) {
				d.addf(v, key, "is a secret, and secrets are never read from the file: remove it and set DAYOPS_SECRET_%s in the environment", envSuffix(name))
			})
		},
		"steps": func(n *yaml.Node, key string) {
			d.mapping(n, key, map[string]field{
				"run_as": func(n *yaml.Node, key string) { cfg.RunAs = at(n, key, d.str(n, key), checkRunAs) },
			})
		},
		"vars": func(n *yaml.Node, key string) {
			cfg.Vars = map[string]string{}
			d.entries(n, key, func(name string, v *yaml.Node, key string) {
				if !varName.MatchString(name) {
					d.addf(v, key, "%q is not a variable name: letters, digits and _, e.g. REGISTRY", name)
					return
				}
				if s, ok := d.scalar(v, key); ok {
					cfg.Vars[name] = s
				}
			})
		},
	})
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envSuffix spells a name as the tail of an environment variable.
func envSuffix(name string) string {
	if varName.MatchString(name) {
		return strings.ToUpper(name)
	}
	return "<NAME>"
}

// environment applies the environment's overrides and reads the secrets.
func (d *decoder) environment(getenv func(string) string, cfg *Config) {
	fromEnv := func(name string, dst *string, check func(string) (string, string)) {
		s := getenv(name)
		if s == "" {
			return
		}
		if check != nil {
			v, problem := check(s)
			if problem != "" {
				d.addf(nil, name, "%s", problem)
				return
			}
			s = v
		}
		*dst = s
	}
	secretFromEnv := func(name string, dst *Secret) {
		if s := getenv(name); s != "" {
			*dst = NewSecret(s)
		}
	}
	fromEnv("DAYOPS_LISTEN", &cfg.Listen, checkListen)
	if s := getenv("DAYOPS_DATABASE"); s != "" {
		// The environment may carry the password: it is kept as a Secret.
		if dsn, password, problem := splitDatabase(s); problem != "" {
			d.addf(nil, "DAYOPS_DATABASE", "%s", problem)
		} else {
			cfg.Database, cfg.DatabasePassword = dsn, NewSecret(password)
		}
	}
	fromEnv("DAYOPS_BASE_URL", &cfg.BaseURL, parseHTTPURL)
	fromEnv("DAYOPS_REPO_URL", &cfg.Repo.URL, nil)
	fromEnv("DAYOPS_REPO_BRANCH", &cfg.Repo.Branch, checkBranch)
	fromEnv("DAYOPS_REPO_PATH", &cfg.Repo.Path, checkRepoPath)
	if s := getenv("DAYOPS_REPO_INTERVAL"); s != "" {
		v, problem := parseDuration(s)
		if problem != "" {
			d.addf(nil, "DAYOPS_REPO_INTERVAL", "%s", problem)
		}
		cfg.Repo.Interval = v
	}
	secretFromEnv("DAYOPS_REPO_TOKEN", &cfg.Repo.Token)
	fromEnv("DAYOPS_REPO_SSH_KEY", &cfg.Repo.SSHKeyPath, nil)
	fromEnv("DAYOPS_SLACK_MODE", &cfg.Slack.Mode, checkMode)
	secretFromEnv("DAYOPS_SLACK_BOT_TOKEN", &cfg.Slack.BotToken)
	secretFromEnv("DAYOPS_SLACK_APP_TOKEN", &cfg.Slack.AppToken)
	secretFromEnv("DAYOPS_SLACK_SIGNING_SECRET", &cfg.Slack.SigningSecret)
	fromEnv("DAYOPS_SLACK_API_URL", &cfg.Slack.APIURL, parseHTTPURL)
	fromEnv("DAYOPS_GITHUB_API_URL", &cfg.GitHub.APIURL, parseHTTPURL)
	secretFromEnv("DAYOPS_GITHUB_TOKEN", &cfg.GitHub.Token)
	secretFromEnv("DAYOPS_GITHUB_WEBHOOK_SECRET", &cfg.GitHub.WebhookSecret)
	secretFromEnv("DAYOPS_WEB_PASSWORD", &cfg.Web.Password)
	secretFromEnv("DAYOPS_WEB_LINK_KEY", &cfg.Web.LinkKey)
	fromEnv("DAYOPS_SSH_KNOWN_HOSTS", &cfg.KnownHosts, nil)
	if s := getenv("DAYOPS_TIMEZONE"); s != "" {
		cfg.Timezone = d.timezone(nil, "DAYOPS_TIMEZONE", s)
	}
	secretFromEnv("DAYOPS_ALERTMANAGER_TOKEN", &cfg.AlertmanagerToken)
	fromEnv("DAYOPS_STEPS_RUN_AS", &cfg.RunAs, checkRunAs)
	for name, t := range cfg.Targets {
		if t.KeyEnv != "" {
			key, ok := d.targetKey(name, t.KeyEnv, getenv(t.KeyEnv))
			t.Key = NewSecret(key)
			if !ok {
				t.KeyEnv = "" // its problem is said: not "is not set" as well
			}
			cfg.Targets[name] = t
		}
	}
}

// defaults fills what neither the file nor the environment set.
func (d *decoder) defaults(cfg *Config) {
	or := func(dst *string, def string) {
		if *dst == "" {
			*dst = def
		}
	}
	or(&cfg.Listen, DefaultListen)
	or(&cfg.Database, DefaultDatabase)
	or(&cfg.Repo.Branch, DefaultBranch)
	or(&cfg.Repo.Path, DefaultPath)
	or(&cfg.Slack.Command, DefaultPrefix)
	if cfg.Repo.Interval == 0 {
		cfg.Repo.Interval = DefaultInterval
	}
	switch cfg.ShutdownGrace {
	case 0:
		cfg.ShutdownGrace = DefaultShutdownGrace
	case -1:
		cfg.ShutdownGrace = 0
	}
	if cfg.Web.LinkTTL == 0 {
		cfg.Web.LinkTTL = DefaultLinkTTL
	}
	if cfg.LogRetention == 0 {
		cfg.LogRetention = DefaultLogRetention
	}
	if cfg.Timezone == nil {
		cfg.Timezone = time.UTC
	}
	if cfg.Slack.IncidentChannels == nil {
		cfg.Slack.IncidentChannels = regexp.MustCompile(DefaultIncidentChannels)
	}
	if cfg.GitHub.OpsRepo == "" && !d.has("github.ops_repo") {
		cfg.GitHub.OpsRepo = githubRepoOf(cfg.Repo.URL)
	}
	if cfg.Slack.Mode == "" && cfg.Slack.AppToken.IsSet() {
		cfg.Slack.Mode = SlackSocket
	} else if cfg.Slack.Mode == "" && (cfg.Slack.BotToken.IsSet() || cfg.Slack.SigningSecret.IsSet()) {
		cfg.Slack.Mode = SlackHTTP
	}
}

// checkCredentials checks that the credentials the settings need are set.
func (d *decoder) checkCredentials(cfg *Config) {
	switch cfg.Slack.Mode {
	case SlackSocket:
		if !cfg.Slack.AppToken.IsSet() {
			d.addf(nil, "slack.mode", "socket needs an app-level token: set DAYOPS_SLACK_APP_TOKEN (xapp-…), or use slack.mode http")
		}
	case SlackHTTP:
		if !cfg.Slack.SigningSecret.IsSet() {
			d.addf(nil, "slack.mode", "http needs the signing secret: set DAYOPS_SLACK_SIGNING_SECRET")
		}
	}
	if cfg.Slack.Enabled() && !cfg.Slack.BotToken.IsSet() {
		d.addf(nil, "DAYOPS_SLACK_BOT_TOKEN", "is not set: Slack (slack.mode %s) needs the app's bot token (xoxb-…)", cfg.Slack.Mode)
	}
	for _, name := range slices.Sorted(mapKeys(cfg.Targets)) {
		if t := cfg.Targets[name]; t.KeyEnv != "" && !t.Key.IsSet() {
			d.addf(nil, "targets."+name+".key_env", "%s is not set in the environment: set it to the private key of %s", t.KeyEnv, name)
		}
	}
}

// String summarises the configuration for the start-up log. Secrets show
// only whether they are set.
func (c *Config) String() string {
	slack := "off"
	if c.Slack.Enabled() {
		slack = fmt.Sprintf("%s mode, command %s, bot token %s, app token %s, signing secret %s",
			c.Slack.Mode, c.Slack.Command, c.Slack.BotToken, c.Slack.AppToken, c.Slack.SigningSecret)
	}
	database := c.Database
	if c.DatabasePassword.IsSet() {
		database += " (password " + c.DatabasePassword.String() + ")"
	}
	return fmt.Sprintf("listen %s; database %s; base_url %q; repo %s branch %s path %s every %s (token %s); slack %s; %d roles, %d channel rules; %d targets; shutdown_grace %s",
		c.Listen, database, c.BaseURL, dayops.NewRedactor().Redact(c.Repo.URL), c.Repo.Branch, c.Repo.Path, c.Repo.Interval, c.Repo.Token,
		slack, len(c.Policy.Roles), len(c.Policy.Channels), len(c.Targets), c.ShutdownGrace)
}
