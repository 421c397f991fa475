package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dayops/dayops"
)

func checkListen(s string) (string, string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Sprintf("%q is not host:port, e.g. 127.0.0.1:8080 or :8080", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Sprintf("%q: the port must be a number from 0 to 65535", s)
	}
	if host != "" && net.ParseIP(host) == nil && !hostName.MatchString(host) {
		return "", fmt.Sprintf("%q: %q is not an IP address or host name", s, host)
	}
	return s, ""
}

var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

func checkMode(s string) (string, string) {
	if s != SlackSocket && s != SlackHTTP {
		return "", fmt.Sprintf("%q is not one of socket, http", s)
	}
	return s, ""
}

var commandName = regexp.MustCompile(`^/[a-z0-9_-]{1,31}$`)

func checkCommand(s string) (string, string) {
	if !commandName.MatchString(s) {
		return "", fmt.Sprintf("%q is not a slash command: a / then up to 31 lowercase letters, digits, - or _, e.g. %s", s, DefaultPrefix)
	}
	return s, ""
}

var channelName = regexp.MustCompile(`^#?[a-z0-9][a-z0-9._-]{0,79}$|^[CG][A-Z0-9]{2,}$`)

func checkChannel(s string) (string, string) {
	if !channelName.MatchString(s) {
		return "", fmt.Sprintf("%q is not a channel: a channel ID (C0123ABC) or a name (#deploys)", s)
	}
	return s, ""
}

var branchBad = regexp.MustCompile(`\.\.|[\x00-\x20~^:?*\[\\]|^-|^/|/$|\.lock$|@\{`)

func checkBranch(s string) (string, string) {
	if s == "" || branchBad.MatchString(s) {
		return "", fmt.Sprintf("%q is not a branch name, e.g. main", s)
	}
	return s, ""
}

func checkRepoPath(s string) (string, string) {
	clean := strings.Trim(s, "/")
	if strings.HasPrefix(s, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(clean, "/../") || strings.HasSuffix(clean, "/..") {
		return "", fmt.Sprintf("%q must be a folder inside the repo, e.g. ops (or . for its root)", s)
	}
	if clean == "" {
		clean = "."
	}
	return clean, ""
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

func checkHeader(s string) (string, string) {
	if !headerName.MatchString(s) {
		return "", fmt.Sprintf("%q is not an HTTP header name, e.g. X-Forwarded-User", s)
	}
	return s, ""
}

var runAsForm = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*[$]?(:[a-z_][a-z0-9_.-]*|:[0-9]+)?$|^[0-9]+(:[a-z_][a-z0-9_.-]*|:[0-9]+)?$`)

func checkRunAs(s string) (string, string) {
	if !runAsForm.MatchString(s) {
		return "", fmt.Sprintf("%q is not a user: a name or uid, optionally :group, e.g. dayops-steps", s)
	}
	if user, _, _ := strings.Cut(s, ":"); user == "root" || user == "0" {
		return "", "steps must never run as root: name an unprivileged user, e.g. dayops-steps"
	}
	return s, ""
}

func (d *decoder) regexp(n *yaml.Node, key, s string) *regexp.Regexp {
	re, err := regexp.Compile(s)
	if err != nil {
		d.addf(n, key, "%q is not a regular expression: %v", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return nil
	}
	return re
}

func (d *decoder) timezone(n *yaml.Node, key, s string) *time.Location {
	loc, err := time.LoadLocation(s)
	if err != nil || s == "Local" {
		d.addf(n, key, "%q is not a time zone, e.g. UTC or Europe/Paris", s)
		return nil
	}
	return loc
}

func (d *decoder) proxies(n *yaml.Node, key string) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range d.list(n, key) {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		d.addf(n.Content[i], fmt.Sprintf("%s[%d]", key, i), "%q is not an IP address or CIDR range, e.g. 10.0.0.1 or 10.0.0.0/8", s)
	}
	return out
}

var repoName = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

func checkRepoName(s string) (string, string) {
	if !repoName.MatchString(s) {
		return "", fmt.Sprintf("%q is not a repository: write it as owner/name, e.g. acme/runbooks", s)
	}
	return s, ""
}

func (d *decoder) githubRepos(n *yaml.Node, key string) map[string]GitHubRepo {
	out := map[string]GitHubRepo{}
	d.entries(n, key, func(name string, v *yaml.Node, key string) {
		if !repoName.MatchString(name) {
			d.addf(v, key, "%q is not a repository: write it as owner/name, e.g. org/api", name)
		}
		var r GitHubRepo
		d.mapping(v, key, map[string]field{
			"service": func(n *yaml.Node, key string) { r.Service = d.str(n, key) },
		})
		if r.Service == "" {
			d.addf(v, key+".service", "is missing: name the service this repository deploys, e.g. {service: api}")
		} else if !dayops.NamePattern.MatchString(r.Service) {
			d.addf(v, key+".service", "%q is not a service name: lowercase letters, digits and -", r.Service)
		}
		out[strings.ToLower(name)] = r
	})
	return out
}

func (d *decoder) githubEnvironments(n *yaml.Node, key string) map[string]GitHubEnvironment {
	out := map[string]GitHubEnvironment{}
	d.entries(n, key, func(name string, v *yaml.Node, key string) {
		if !dayops.EnvironmentPattern.MatchString(name) {
			d.addf(v, key, "%q is not an environment name: lowercase letters, digits, - and _, e.g. production", name)
		}
		var e GitHubEnvironment
		d.mapping(v, key, map[string]field{
			"require_review": func(n *yaml.Node, key string) { e.RequireReview = d.boolean(n, key) },
			"require_checks": func(n *yaml.Node, key string) { e.RequireChecks = d.boolean(n, key) },
		})
		out[name] = e
	})
	return out
}

// githubRepoOf is "owner/name" of a github.com repository URL (https or
// ssh), "" for any other.
func githubRepoOf(u string) string {
	var path string
	switch {
	case strings.HasPrefix(u, "git@github.com:"):
		path = strings.TrimPrefix(u, "git@github.com:")
	default:
		p, err := url.Parse(u)
		if err != nil || !strings.EqualFold(p.Hostname(), "github.com") || (p.Scheme != "https" && p.Scheme != "ssh") {
			return ""
		}
		path = strings.TrimPrefix(p.Path, "/")
	}
	path = strings.TrimSuffix(strings.TrimSuffix(path, "/"), ".git")
	if !repoName.MatchString(path) {
		return ""
	}
	return path
}

// check looks at the settings together.
func (d *decoder) check(cfg *Config) {
	if cfg.Repo.URL == "" && !d.has("repo.url") {
		d.addf(nil, "repo.url", "is missing: set repo.url in the file or DAYOPS_REPO_URL to the ops repo (https, ssh or a local path)")
	}
	if cfg.Slack.Mode == SlackHTTP && cfg.BaseURL == "" {
		d.addf(nil, "base_url", "is missing: slack.mode http needs it for Slack's request URLs (base_url/slack/commands…); set base_url or DAYOPS_BASE_URL")
	}
	if gh := cfg.GitHub; gh.Token.IsSet() != gh.WebhookSecret.IsSet() {
		missing := "DAYOPS_GITHUB_WEBHOOK_SECRET"
		if !gh.Token.IsSet() {
			missing = "DAYOPS_GITHUB_TOKEN"
		}
		d.addf(nil, missing, "is missing: the GitHub door needs both DAYOPS_GITHUB_TOKEN (to answer) and DAYOPS_GITHUB_WEBHOOK_SECRET (to trust webhooks); set both, or neither to leave GitHub off")
	}
	prefixes := []struct{ name, prefix string }{{"DAYOPS_SLACK_BOT_TOKEN", "xoxb-"}, {"DAYOPS_SLACK_APP_TOKEN", "xapp-"}}
	for i, s := range []Secret{cfg.Slack.BotToken, cfg.Slack.AppToken} {
		if s.IsSet() && !strings.HasPrefix(s.Value(), prefixes[i].prefix) {
			d.addf(nil, prefixes[i].name, "does not start with %s: copy the right token from the Slack app's settings", prefixes[i].prefix)
		}
	}
	if k := cfg.Web.LinkKey; k.IsSet() && len(k.Value()) < MinLinkKeyLength {
		d.addf(nil, "DAYOPS_WEB_LINK_KEY", "has %d characters: use at least %d random ones (it signs run links and logins), e.g. from `openssl rand -hex 32`", len(k.Value()), MinLinkKeyLength)
	}
	if len(cfg.Targets) > 0 && cfg.KnownHosts == "" {
		d.addf(nil, "ssh.known_hosts", "is missing: SSH targets need a known_hosts file with their host keys (ssh-keyscan -t ed25519 HOST >> FILE, then compare the fingerprints); set ssh.known_hosts or DAYOPS_SSH_KNOWN_HOSTS")
	}
	if cfg.Web.ProxyHeader != "" && len(cfg.Web.TrustedProxies) == 0 && !d.has("web.trusted_proxies") {
		d.addf(nil, "web.trusted_proxies", "is missing: web.proxy_header is trusted only from the addresses listed here, e.g. [10.0.0.0/8]")
	}
	if len(cfg.Web.TrustedProxies) > 0 && cfg.Web.ProxyHeader == "" && !d.has("web.proxy_header") {
		d.addf(nil, "web.proxy_header", "is missing: web.trusted_proxies is set, so name the header they send, e.g. X-Forwarded-User")
	}
}
