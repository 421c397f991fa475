package gitsync

import (
	"context"
	"errors"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dayops/dayops"
)

// fault is a failed fetch. class is stable across cycles ("network",
// "auth", ...) so that one outage is reported once, however its error text
// varies.
type fault struct {
	class string
	err   *dayops.Error // Message is safe to show; Err is the cause, for the log
}

// classifyFetch turns a fetch error into a fault whose message says what is
// wrong and what to do. url is shown redacted; the token never appears.
func classifyFetch(err error, url, branch string, redact *dayops.Redactor) fault {
	u := redact.Redact(url)
	cause := errors.New(redact.Redact(err.Error()))
	mk := func(class string, kind dayops.Kind, msg string) fault {
		return fault{class: class, err: &dayops.Error{Kind: kind, Message: msg, Op: "gitsync.fetch", Err: cause}}
	}
	var noRef git.NoMatchingRefSpecError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return mk("cancelled", dayops.KindUnavailable, "fetching the ops repo from "+u+" was cancelled or timed out")
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return mk("auth", dayops.KindForbidden, "the ops repo "+u+" refused the credentials (authentication required): check the repo token or SSH key and its access to the repository")
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return mk("auth", dayops.KindForbidden, "the ops repo "+u+" denied access (authorization failed): give the repo token or SSH key read access to the repository")
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return mk("repository", dayops.KindNotFound, "no repository at "+u+": check repo.url (a private repository also answers this way to missing credentials)")
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return mk("branch", dayops.KindNotFound, "branch "+branch+" not found on origin: the repository "+u+" is empty; push a first commit")
	case errors.As(err, &noRef):
		return mk("branch", dayops.KindNotFound, "branch "+branch+" not found on origin "+u+": push it or set repo.branch; the last good catalog keeps serving")
	case isHostKeyError(err):
		return mk("host_key", dayops.KindForbidden, "the host key of "+u+" is unknown or changed: add the right key to known_hosts (ssh-keyscan), never skip the check")
	}
	f := mk("network", dayops.KindUnavailable, "cannot fetch the ops repo from "+u+": "+cause.Error())
	f.err.Err = nil // the message already holds the cause
	return f
}

func isHostKeyError(err error) bool {
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	return errors.As(err, &keyErr) || errors.As(err, &revoked)
}
