package gitsync

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/dayops/dayops"
)

// Options configure a Syncer.
type Options struct {
	URL            string        // https or ssh URL, or a local path (file:// or a plain path)
	Branch         string        // default "main"
	Path           string        // folder of definitions in the repo, default "ops"
	CacheDir       string        // where the bare clone and the exports live; give each server its own
	Interval       time.Duration // poll interval, default 1m
	Token          string        // HTTPS token (sent as x-access-token basic auth)
	SSHKeyPath     string        // unencrypted private key for ssh URLs
	KnownHostsPath string        // default ~/.ssh/known_hosts; host keys are always checked
	VerifyKeysPath string        // armored PGP public keys; "" = no signature verification
	History        History       // records every sync; nil records nothing
	Events         Events        // told about updates, stalls, faults and recoveries; may be nil
	Now            func() time.Time
	Logger         *slog.Logger
}

// Syncer keeps the catalog of the ops repo in sync with one branch. Every
// cycle runs the same ordered steps — fetch, compare, load, validate, swap —
// and only a valid revision is swapped in; readers get the last good catalog
// through Catalog at any time. It is safe for concurrent use.
type Syncer struct {
	branch    string
	path      string // definitions folder inside the repo, "." for the root
	interval  time.Duration
	now       func() time.Time
	log       *slog.Logger
	redact    *dayops.Redactor
	history   History
	events    Events
	remote    *remote
	repo      *repo
	keys      *keyRing // nil: no signature verification
	exports   *exports
	revisions revisionCache

	catalog atomic.Pointer[dayops.Catalog]
	trigger chan struct{}
	loads   atomic.Int64 // revisions loaded by sync cycles

	unlock    func() error // releases the cache folder's lock
	closeOnce sync.Once
	closeErr  error

	turn       chan struct{} // holds one token: one cycle at a time; guards the fields below
	attempted  plumbing.Hash // the last revision loaded, valid or stalled
	stalled    []string      // the problems of attempted when it is stalled
	fault      string        // the class of the ongoing fetch fault, "" when fetching works
	faultSince time.Time
	failures   int // failed cycles in the ongoing fault
}

// New opens (or creates) the repository cache in opts.CacheDir and checks
// the configuration. It does not fetch: call Sync or Run.
func New(opts Options) (*Syncer, error) {
	if opts.CacheDir == "" {
		return nil, dayops.Errorf(dayops.KindInvalid, "gitsync needs a cache folder for the ops repo clone")
	}
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.Path == "" {
		opts.Path = "ops"
	}
	p := path.Clean(strings.Trim(filepath.ToSlash(opts.Path), "/"))
	if p == "" || !fs.ValidPath(p) {
		return nil, dayops.Errorf(dayops.KindInvalid, "repo.path %q must be a folder inside the repository, like ops", opts.Path)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	rem, err := newRemote(opts)
	if err != nil {
		return nil, err
	}
	s := &Syncer{
		branch:    opts.Branch,
		path:      p,
		interval:  opts.Interval,
		now:       opts.Now,
		log:       opts.Logger.With("repo", dayops.NewRedactor(opts.Token, rem.secret).Redact(rem.url), "branch", opts.Branch),
		redact:    dayops.NewRedactor(opts.Token, rem.secret),
		history:   opts.History,
		events:    opts.Events,
		remote:    rem,
		revisions: revisionCache{max: 8},
		trigger:   make(chan struct{}, 1),
		turn:      make(chan struct{}, 1),
	}
	if opts.VerifyKeysPath != "" {
		if s.keys, err = readKeyRing(opts.VerifyKeysPath); err != nil {
			return nil, err
		}
	}
	var exclusive bool
	if s.unlock, exclusive, err = lockCache(opts.CacheDir); err != nil {
		return nil, err
	}
	if s.repo, err = openRepo(filepath.Join(opts.CacheDir, "repo.git"), rem.url, opts.Branch, rem.auth); err != nil {
		_ = s.unlock()
		return nil, err
	}
	if s.exports, err = newExports(filepath.Join(opts.CacheDir, "exports"), s.repo, s.log, exclusive); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.restoreServing()
	return s, nil
}

// restoreServing serves, from the start, the revision an earlier process
// served last (pinned in the cache), so that a restart while the branch head
// is broken still serves the last good catalog instead of none. The first
// sync then compares the head against it as usual.
func (s *Syncer) restoreServing() {
	h, ok := s.repo.served()
	if !ok {
		return
	}
	cat, problems, err := s.loadRevision(h)
	if err != nil || len(problems) > 0 || cat == nil {
		// Another repo.path, or a cache that lost the objects: start empty.
		s.log.Info("not restoring the previously served revision", "revision", h.String(), "problems", len(problems), "err", err)
		return
	}
	s.catalog.Store(cat)
	s.attempted = h
	s.exports.setCurrent(h)
	s.log.Info("serving the previously served revision until the first sync", "revision", h.String(), "definitions", cat.Len())
}

// Close releases the repository cache and its lock. Exports handed out
// stay on disk until the next New on the same folder.
func (s *Syncer) Close() error {
	s.closeOnce.Do(func() {
		s.turn <- struct{}{}
		defer func() { <-s.turn }()
		if s.repo != nil {
			s.closeErr = s.repo.close()
		}
		if err := s.unlock(); s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// Catalog is the last good catalog, nil before the first valid revision.
func (s *Syncer) Catalog() *dayops.Catalog { return s.catalog.Load() }

// Ready reports whether a valid catalog is loaded.
func (s *Syncer) Ready() bool { return s.catalog.Load() != nil }

// Checkout returns a clean, read-only export of the ops repo's tree at
// revision (a full commit SHA), so that a run reads only the files of the
// revision it was planned with, whatever is pushed meanwhile. Call release
// when the run no longer needs it; exports are shared and removed when
// unused (the served revision's is kept).
func (s *Syncer) Checkout(ctx context.Context, revision string) (dir string, release func(), err error) {
	h, err := s.repo.resolve(revision)
	if err != nil {
		return "", nil, err
	}
	c, err := s.repo.commit(h)
	if err != nil {
		return "", nil, fmt.Errorf("reading commit %s: %w", revision, err)
	}
	return s.exports.checkout(ctx, h, c.TreeHash)
}

// fetchTimeout bounds one fetch, so that a server that stops answering
// cannot hold the sync forever (go-git's HTTP client has no timeout).
const fetchTimeout = 5 * time.Minute

// cycle is the state of one sync as it goes through the steps.
type cycle struct {
	rec      dayops.SyncRecord
	head     plumbing.Hash
	fault    *fault
	cat      *dayops.Catalog
	problems []string
	done     bool
}

// cycleSteps are the steps of a sync, in order. A step ends the cycle by
// setting done.
var cycleSteps = []struct {
	name string
	run  func(*Syncer, context.Context, *cycle)
}{
	{"fetch", (*Syncer).fetchStep},
	{"compare", (*Syncer).compareStep},
	{"load", (*Syncer).loadStep},
	{"validate", (*Syncer).validateStep},
	{"swap", (*Syncer).swapStep},
}

// Sync runs one cycle and records it in History. The error is non-nil only
// when the ops repo could not be fetched (outcome failed); an invalid
// revision is a completed sync whose record has outcome invalid and the
// problems in Errors.
func (s *Syncer) Sync(ctx context.Context) (dayops.SyncRecord, error) {
	start := time.Now()
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-ctx.Done():
		const msg = "the sync was cancelled while another one ran"
		cur := s.Catalog()
		return dayops.SyncRecord{Time: s.now(), Outcome: dayops.SyncFailed, Serving: cur.Revision(), Definitions: cur.Len(), Errors: []string{msg}},
			dayops.Errorf(dayops.KindUnavailable, msg)
	}
	c := &cycle{rec: dayops.SyncRecord{Time: s.now()}}
	last := ""
	for _, step := range cycleSteps {
		last = step.name
		step.run(s, ctx, c)
		if c.done {
			break
		}
	}
	s.log.Debug("sync cycle ended", "step", last)
	cur := s.Catalog()
	c.rec.Serving = cur.Revision()
	c.rec.Definitions = cur.Len()
	c.rec.Duration = time.Since(start)
	var err error
	if c.fault != nil {
		c.rec.Outcome = dayops.SyncFailed
		c.rec.Errors = append([]string{c.fault.err.Message}, c.rec.Errors...)
		err = c.fault.err
	}
	s.record(ctx, &c.rec)
	return c.rec, err
}

// fetchStep fetches the branch. On a fault it reports the fault once; a
// process that starts during an outage still loads the head it fetched
// before, if it has one.
func (s *Syncer) fetchStep(ctx context.Context, c *cycle) {
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	head, fetched, err := s.repo.fetch(fctx)
	if err != nil {
		f := classifyFetch(err, s.remote.url, s.branch, s.redact)
		c.fault = &f
		if ctx.Err() == nil { // a shutdown is not an outage
			s.noteFault(f)
		}
		if local, ok := s.repo.localHead(); ok && s.Catalog() == nil && s.attempted.IsZero() {
			s.log.Info("ops repo unreachable, loading the cached head", "revision", local.String())
			c.head = local
			return
		}
		c.done = true
		return
	}
	s.noteRecovery()
	if fetched {
		if err := s.repo.maintain(); err != nil {
			s.log.Warn("repository cache maintenance failed", "err", err)
		}
	}
	c.head = head
	c.rec.Revision = head.String()
}

// compareStep ends the cycle when the head is the revision already loaded:
// an unchanged branch costs one fetch and nothing else.
func (s *Syncer) compareStep(_ context.Context, c *cycle) {
	if c.head != s.attempted {
		return
	}
	c.done = true
	if s.stalled != nil {
		c.rec.Outcome = dayops.SyncInvalid
		c.rec.Errors = slices.Clone(s.stalled)
		return
	}
	c.rec.Outcome = dayops.SyncUnchanged
}

// loadStep checks the head's signature (when keys are configured) and loads
// its definitions from the git tree.
func (s *Syncer) loadStep(_ context.Context, c *cycle) {
	s.loads.Add(1)
	if s.keys != nil {
		commit, err := s.repo.commit(c.head)
		if err != nil {
			c.problems = []string{fmt.Sprintf("reading commit %s: %v", dayops.ShortRevision(c.head.String()), err)}
			return
		}
		if err := s.keys.verify(commit); err != nil {
			c.problems = []string{dayops.UserMessage(err, "")}
			return
		}
	}
	cat, problems, err := s.loadRevision(c.head)
	if err != nil {
		s.log.Error("reading revision from the repository cache", "revision", c.head.String(), "err", err)
		c.problems = []string{fmt.Sprintf("reading revision %s from the repository cache failed: %v", dayops.ShortRevision(c.head.String()), err)}
		return
	}
	c.cat, c.problems = cat, problems
}

// validateStep stalls a revision with problems: the last good catalog keeps
// serving and the problems are published once for this revision.
func (s *Syncer) validateStep(_ context.Context, c *cycle) {
	if c.cat != nil && len(c.problems) == 0 {
		return
	}
	c.done = true
	s.attempted = c.head
	s.stalled = slices.Clone(c.problems)
	c.rec.Outcome = dayops.SyncInvalid
	c.rec.Errors = slices.Clone(c.problems)
	rev := c.head.String()
	s.log.Warn("ops repo revision stalled", "revision", rev, "problems", len(c.problems), "first", c.problems[0])
	s.publish(Event{
		Kind:     EventInvalid,
		Revision: rev,
		Serving:  s.Catalog().Revision(),
		Problems: slices.Clone(c.problems),
		Message: fmt.Sprintf("ops repo revision %s is stalled with %d problem(s); still serving %s",
			dayops.ShortRevision(rev), len(c.problems), servingName(s.Catalog())),
	})
}

// swapStep makes the new catalog the one every reader gets.
func (s *Syncer) swapStep(_ context.Context, c *cycle) {
	prev := s.Catalog()
	s.catalog.Store(c.cat)
	s.attempted = c.head
	s.stalled = nil
	s.exports.setCurrent(c.head)
	if err := s.repo.pin(c.head); err != nil {
		s.log.Warn("pinning the served revision", "revision", c.head.String(), "err", err)
	}
	c.rec.Outcome = dayops.SyncUpdated
	rev := c.head.String()
	s.log.Info("ops repo updated", "revision", rev, "definitions", c.cat.Len(), "previous", prev.Revision())
	s.publish(Event{
		Kind:     EventUpdated,
		Revision: rev,
		Serving:  rev,
		Previous: prev.Revision(),
		Message:  fmt.Sprintf("ops repo updated to %s (%d definitions)", dayops.ShortRevision(rev), c.cat.Len()),
	})
}

func servingName(c *dayops.Catalog) string {
	if c == nil {
		return "no catalog yet"
	}
	return dayops.ShortRevision(c.Revision())
}

// noteFault reports a fault the first time it happens, not every cycle.
func (s *Syncer) noteFault(f fault) {
	s.failures++
	if s.fault == f.class {
		s.log.Debug("ops repo fetch still failing", "class", f.class, "failures", s.failures)
		return
	}
	if s.fault == "" {
		s.faultSince = s.now()
	}
	s.fault = f.class
	s.log.Warn("ops repo fetch failed", "class", f.class, "err", f.err.Error())
	s.publish(Event{Kind: EventFault, Serving: s.Catalog().Revision(), Message: f.err.Message})
}

// noteRecovery reports the end of a fault.
func (s *Syncer) noteRecovery() {
	if s.fault == "" {
		return
	}
	msg := fmt.Sprintf("fetching the ops repo works again after %d failed sync(s) since %s",
		s.failures, s.faultSince.UTC().Format(time.RFC3339))
	s.log.Info("ops repo fetch recovered", "failures", s.failures)
	s.fault, s.failures = "", 0
	s.publish(Event{Kind: EventRecovered, Serving: s.Catalog().Revision(), Message: msg})
}

func (s *Syncer) publish(ev Event) {
	if s.events == nil {
		return
	}
	ev.Time = s.now()
	ev.Message = s.redact.Redact(ev.Message)
	s.events.SyncEvent(ev)
}

// record writes the sync to History even when ctx was cancelled mid-sync.
func (s *Syncer) record(ctx context.Context, rec *dayops.SyncRecord) {
	s.log.Debug("ops repo synced", "outcome", string(rec.Outcome), "revision", rec.Revision, "duration", rec.Duration)
	if s.history == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.history.RecordSync(ctx, rec); err != nil {
		s.log.Error("recording the sync", "err", err)
	}
}
