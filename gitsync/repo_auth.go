package gitsync

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/dayops/dayops"
)

// remote is the configured origin: the URL handed to go-git and the
// credentials for it.
type remote struct {
	url   string // local paths made absolute
	kind  string // "file", "http" (http and https) or "ssh"
	auth  transport.AuthMethod
	local bool
	// secret is the credential that was written in the URL, if any: it is
	// passed as auth and masked, never stored.
	secret string
}

// newRemote checks the URL and builds its credentials: a token for HTTPS
// (sent as GitHub's x-access-token basic auth), a private key for SSH with
// host keys checked against known_hosts (never ignored), nothing for a
// local path.
func newRemote(opts Options) (*remote, error) {
	if opts.URL == "" {
		return nil, dayops.Errorf(dayops.KindInvalid, "the ops repo URL is empty: set repo.url (an https or ssh URL, or a local path)")
	}
	if p, ok, err := localPath(opts.URL); err != nil {
		return nil, fmt.Errorf("resolving %s: %w", opts.URL, err)
	} else if ok {
		return &remote{url: p, kind: "file", local: true}, nil
	}
	ep, err := transport.NewEndpoint(opts.URL)
	if err != nil {
		return nil, dayops.Errorf(dayops.KindInvalid, "the ops repo URL %s is not a git URL: use https://host/org/repo.git, ssh://git@host/org/repo.git, git@host:org/repo.git or a local path", redactURL(opts.URL, opts.Token))
	}
	r := &remote{url: opts.URL}
	switch ep.Protocol {
	case "http", "https":
		r.kind = "http"
		if opts.SSHKeyPath != "" {
			return nil, dayops.Errorf(dayops.KindInvalid, "an SSH key is set but the ops repo URL %s is not an ssh URL: use a token for https", redactURL(opts.URL, opts.Token))
		}
		if opts.Token != "" {
			r.auth = &githttp.BasicAuth{Username: "x-access-token", Password: opts.Token}
		}
		if err := r.credentialsFromURL(opts); err != nil {
			return nil, err
		}
	case "ssh":
		r.kind = "ssh"
		if ep.Password != "" {
			return nil, dayops.Errorf(dayops.KindInvalid, "the ops repo URL %s holds a password, but dayops signs in to ssh with a key only: remove the password from the URL", redactURL(opts.URL, opts.Token))
		}
		if opts.Token != "" {
			return nil, dayops.Errorf(dayops.KindInvalid, "a token is set but the ops repo URL %s is an ssh URL: use an SSH key, or an https URL for the token", redactURL(opts.URL, opts.Token))
		}
		if opts.SSHKeyPath == "" {
			return nil, dayops.Errorf(dayops.KindInvalid, "the ops repo URL %s is an ssh URL but no SSH key is set: set DAYOPS_REPO_SSH_KEY to a private key file", redactURL(opts.URL, opts.Token))
		}
		user := ep.User
		if user == "" {
			user = gitssh.DefaultUsername
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, opts.SSHKeyPath, "")
		if err != nil {
			return nil, dayops.Errorf(dayops.KindInvalid, "reading the SSH key %s: %v (it must be an unencrypted private key)", opts.SSHKeyPath, err)
		}
		known := opts.KnownHostsPath
		if known == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, dayops.Errorf(dayops.KindInvalid, "no known_hosts file: set the known hosts path (%v)", err)
			}
			known = filepath.Join(home, ".ssh", "known_hosts")
		}
		if _, err := os.Stat(known); err != nil {
			return nil, dayops.Errorf(dayops.KindInvalid, "the known_hosts file %s cannot be read (%v): add the ops repo's host key to it, e.g. with ssh-keyscan", known, err)
		}
		cb, err := gitssh.NewKnownHostsCallback(known)
		if err != nil {
			return nil, dayops.Errorf(dayops.KindInvalid, "reading known_hosts %s: %v", known, err)
		}
		keys.HostKeyCallback = cb
		r.auth = keys
	default:
		return nil, dayops.Errorf(dayops.KindInvalid, "the ops repo URL %s uses %s: use https, ssh or a local path", redactURL(opts.URL, opts.Token), ep.Protocol)
	}
	return r, nil
}

// redactURL strips credentials from a URL for messages.
func redactURL(url, token string) string {
	return dayops.NewRedactor(token).Redact(url)
}

// credentialsFromURL moves credentials written in an https URL
// (https://user:token@host/org/repo.git, or a token as the user name) into
// the auth of every fetch, and leaves r.url without them: the URL is stored
// in the cache's git config and shown in logs, and a credential must be in
// neither.
func (r *remote) credentialsFromURL(opts Options) error {
	u, err := url.Parse(opts.URL)
	if err != nil || u.User == nil {
		return nil
	}
	if opts.Token != "" {
		return dayops.Errorf(dayops.KindInvalid, "the ops repo URL %s holds credentials and a token is set as well: keep only the token (DAYOPS_REPO_TOKEN) and remove the credentials from the URL", redactURL(opts.URL, opts.Token))
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	r.auth = &githttp.BasicAuth{Username: user, Password: pass}
	r.secret = pass
	if pass == "" {
		r.secret = user // a token given as the user name
	}
	u.User = nil
	r.url = u.String()
	return nil
}
