package gitsync

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/dayops/dayops"
)

// History keeps the record of every sync. The storage package implements it;
// cmd/dayops connects the two.
type History interface {
	RecordSync(ctx context.Context, r *dayops.SyncRecord) error
}

// DefinitionAt returns the named definition as it was at revision (a full
// commit SHA of the ops repo), for "what changed" diffs. Catalogs of the last
// few revisions asked for are kept. It returns a not_found error when the
// revision is unknown or has no such definition, and an invalid error when
// that revision's definitions did not load.
func (s *Syncer) DefinitionAt(ctx context.Context, revision, name string) (*dayops.Definition, error) {
	cat := s.Catalog()
	if cat == nil || cat.Revision() != revision {
		var err error
		if cat, err = s.catalogAt(ctx, revision); err != nil {
			return nil, err
		}
	}
	def, ok := cat.Lookup(name)
	if !ok {
		return nil, dayops.Errorf(dayops.KindNotFound, "no definition named %q at revision %s", dayops.Truncate(name, 60), dayops.ShortRevision(revision))
	}
	return def, nil
}

func (s *Syncer) catalogAt(ctx context.Context, revision string) (*dayops.Catalog, error) {
	if cat := s.revisions.get(revision); cat != nil {
		return cat, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := s.repo.resolve(revision)
	if err != nil {
		return nil, err
	}
	cat, problems, err := s.loadRevision(h)
	if err != nil {
		return nil, &dayops.Error{Kind: dayops.KindInternal, Op: "gitsync.definition_at", Message: "reading revision " + dayops.ShortRevision(revision), Err: err}
	}
	if cat == nil {
		first := "no catalog"
		if len(problems) > 0 {
			first = problems[0]
		}
		return nil, dayops.Errorf(dayops.KindInvalid, "the definitions at revision %s do not load (%d problem(s); first: %s)", dayops.ShortRevision(revision), len(problems), first)
	}
	s.revisions.put(cat)
	return cat, nil
}

// loadRevision loads and validates the definitions of commit h straight
// from its git tree. The error is for git faults; definition problems are
// returned as "file:line:col: message" strings.
func (s *Syncer) loadRevision(h plumbing.Hash) (*dayops.Catalog, []string, error) {
	cat, problems, err := s.loadCommit(h)
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = p.String()
	}
	return cat, out, err
}

// loadCommit is loadRevision with the problems at their positions; a
// revision without a catalog always has at least one.
func (s *Syncer) loadCommit(h plumbing.Hash) (*dayops.Catalog, []Problem, error) {
	c, err := s.repo.commit(h)
	if err != nil {
		return nil, nil, fmt.Errorf("reading commit %s: %w", h, err)
	}
	fsys := newTreeFS(s.repo, c.TreeHash, c.Committer.When)
	problems, err := fsys.checkTreeEntries()
	if err != nil {
		return nil, nil, err
	}
	var cat *dayops.Catalog
	if len(problems) == 0 {
		cat, problems = LoadFS(fsys, s.path, h.String())
	}
	if cat == nil && len(problems) == 0 {
		problems = []Problem{{File: s.path, Message: "no definitions could be loaded"}}
	}
	return cat, problems, nil
}

// revisionCache keeps the catalogs of the last few revisions DefinitionAt
// was asked about, most recent first.
type revisionCache struct {
	mu   sync.Mutex
	max  int
	list []*dayops.Catalog
}

func (c *revisionCache) get(revision string) *dayops.Catalog {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, cat := range c.list {
		if cat.Revision() == revision {
			copy(c.list[1:i+1], c.list[:i])
			c.list[0] = cat
			return cat
		}
	}
	return nil
}

func (c *revisionCache) put(cat *dayops.Catalog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, have := range c.list {
		if have.Revision() == cat.Revision() {
			return
		}
	}
	c.list = append([]*dayops.Catalog{cat}, c.list...)
	if len(c.list) > c.max {
		c.list = c.list[:c.max]
	}
}

func errInvalidRevision(revision string) error {
	return dayops.Errorf(dayops.KindNotFound, "revision %q is not a commit of the ops repo: give a full 40-character commit SHA", dayops.Truncate(revision, 60))
}

func errUnknownRevision(revision string, cause error) error {
	return &dayops.Error{Kind: dayops.KindNotFound, Op: "gitsync.resolve", Message: fmt.Sprintf("revision %s is not in the ops repo (it may have been force-pushed away before it was fetched)", dayops.ShortRevision(revision)), Err: cause}
}
