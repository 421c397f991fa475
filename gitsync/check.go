package gitsync

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/dayops/dayops"
)

// Check is what a revision of the ops repo that is not served (a pull
// request's head) would load as.
type Check struct {
	Revision string          // the full commit SHA checked
	Catalog  *dayops.Catalog // nil when it does not load
	// Problems are the loader's, "file:line:col: message", file the path
	// from the repository root (ops/web.yaml); empty when Catalog is set.
	Problems []string
	// Located are the same problems with their positions, for annotations
	// at a file and line.
	Located []Problem
}

// checkRef is where a checked ref is fetched to in the cache, apart from
// the branch and the served revision; it is removed after the check.
const checkRef = plumbing.ReferenceName("refs/dayops/check")

// pullRef matches the refs a check may fetch: a pull request's head or
// merge commit, or a branch.
var pullRef = regexp.MustCompile(`^refs/(?:pull/[1-9][0-9]*/(?:head|merge)|heads/[A-Za-z0-9._/-]+)$`)

// Check fetches ref from the ops repo's remote — a full commit SHA, or a
// ref such as refs/pull/12/head — and loads and validates its definitions,
// without changing what is served: the served catalog, the branch and the
// sync state stay as they are. A revision whose definitions do not load is
// a Check with Problems, not an error; the error is for a ref that is not
// valid or cannot be fetched. It waits for a running sync to finish.
func (s *Syncer) Check(ctx context.Context, ref string) (Check, error) {
	sha := isFullSHA(ref)
	if !sha && (!pullRef.MatchString(ref) || strings.Contains(ref, "..") || strings.HasSuffix(ref, ".lock")) {
		return Check{}, dayops.Errorf(dayops.KindInvalid,
			"%q is not something to check: give a full 40-character commit SHA or a ref such as refs/pull/12/head", dayops.Truncate(ref, 80))
	}
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-ctx.Done():
		return Check{}, dayops.Errorf(dayops.KindUnavailable, "the check of %s was cancelled while a sync ran", dayops.Truncate(ref, 80))
	}
	var h plumbing.Hash
	if sha {
		h = plumbing.NewHash(ref)
		if _, err := s.repo.commit(h); err != nil {
			// Not fetched yet: ask the remote for that very commit.
			if h, err = s.fetchCheck(ctx, ref); err != nil {
				return Check{}, err
			}
		}
	} else {
		var err error
		if h, err = s.fetchCheck(ctx, ref); err != nil {
			return Check{}, err
		}
	}
	cat, problems, err := s.loadCommit(h)
	if err != nil {
		return Check{}, &dayops.Error{Kind: dayops.KindInternal, Op: "gitsync.check", Message: "reading revision " + dayops.ShortRevision(h.String()), Err: err}
	}
	c := Check{Revision: h.String(), Catalog: cat, Located: problems}
	for _, p := range problems {
		c.Problems = append(c.Problems, p.String())
	}
	return c, nil
}

// fetchCheck fetches one ref (or commit) into checkRef and returns the
// commit it names; checkRef is removed again, so that only the branch and
// the served revision keep objects alive in the cache.
func (s *Syncer) fetchCheck(ctx context.Context, ref string) (plumbing.Hash, error) {
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	spec := config.RefSpec("+" + ref + ":" + checkRef.String())
	if err := spec.Validate(); err != nil {
		return plumbing.ZeroHash, dayops.Errorf(dayops.KindInvalid, "%q cannot be fetched: %v", dayops.Truncate(ref, 80), err)
	}
	defer func() { _ = s.repo.fetcher.Storer.RemoveReference(checkRef) }()
	err := s.repo.fetcher.FetchContext(fctx, &git.FetchOptions{
		RemoteName: remoteName, RefSpecs: []config.RefSpec{spec}, Auth: s.repo.auth, Tags: git.NoTags, Force: true,
	})
	switch {
	case errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, git.NoMatchingRefSpecError{}):
		return plumbing.ZeroHash, dayops.Errorf(dayops.KindNotFound, "the ops repo has no %s: is the pull request still open, and the number right?", dayops.Truncate(ref, 80))
	case err != nil && isFullSHA(ref):
		return plumbing.ZeroHash, &dayops.Error{Kind: dayops.KindNotFound, Op: "gitsync.check",
			Message: fmt.Sprintf("commit %s is not in the ops repo's cache and the remote did not send it: check its ref instead, e.g. refs/pull/12/head", dayops.ShortRevision(ref)),
			Err:     errors.New(s.redact.Redact(err.Error()))}
	case err != nil:
		f := classifyFetch(err, s.remote.url, s.branch, s.redact)
		return plumbing.ZeroHash, f.err
	default:
		s.repo.readMu.Lock()
		s.repo.reader.Reindex()
		s.repo.readMu.Unlock()
		defer func() {
			if err := s.repo.maintain(); err != nil {
				s.log.Warn("repository cache maintenance failed", "err", err)
			}
		}()
	}
	r, err := s.repo.fetcher.Storer.Reference(checkRef)
	if err != nil || r.Type() != plumbing.HashReference {
		return plumbing.ZeroHash, fmt.Errorf("fetched %s but found no commit for it: %w", ref, err)
	}
	if _, err := s.repo.commit(r.Hash()); err != nil {
		return plumbing.ZeroHash, dayops.Errorf(dayops.KindInvalid, "%s is not a commit", dayops.Truncate(ref, 80))
	}
	return r.Hash(), nil
}
