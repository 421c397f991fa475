package gitsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// go-git's file:// transport runs the git-upload-pack binary. dayops needs
// no git binary at run time, so local repositories are served in process by
// go-git's own upload-pack. gitsync is the only go-git user in dayops, and
// the protocol table is written here once, before any goroutine reads it.
func init() {
	client.InstallProtocol("file", server.NewClient(localLoader{}))
}

// localLoader opens a local repository, bare or with a work tree, for the
// in-process upload-pack.
type localLoader struct{}

// Load implements server.Loader.
func (localLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	dir := ep.Path
	if st, err := os.Stat(filepath.Join(dir, ".git")); err == nil && st.IsDir() {
		dir = filepath.Join(dir, ".git")
	} else if _, err := os.Stat(filepath.Join(dir, "objects")); err != nil {
		return nil, transport.ErrRepositoryNotFound
	}
	return filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRU(8*cache.MiByte)), nil
}

// remoteName is the name of the one remote of the cache repository.
const remoteName = "origin"

// repo is the local cache of the ops repo: a bare repository (no work tree)
// in CacheDir/repo.git. go-git storage is not safe for concurrent use, so the
// cache has two handles on the same folder: fetcher, used only by the sync
// cycle (which is serialised), writes packs and refs; reader, guarded by
// readMu, reads objects for loads, exports and DefinitionAt, so that a slow
// fetch never blocks a run's checkout. Packs are immutable and a new pack is
// made visible to the reader by reindexing it after each fetch.
type repo struct {
	dir       string
	url       string // credential-free display form is made by the Syncer's redactor
	branch    string
	remoteRef plumbing.ReferenceName
	refspec   config.RefSpec
	auth      transport.AuthMethod
	maxPacks  int

	fetcher *git.Repository

	readMu sync.Mutex
	reader *filesystem.Storage
}

// openRepo opens the cache repository in dir, creating it on first use, and
// points its remote at url and branch.
func openRepo(dir, url, branch string, auth transport.AuthMethod) (*repo, error) {
	if err := makePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("creating the repository cache: %w", err)
	}
	r := &repo{
		dir:       dir,
		url:       url,
		branch:    branch,
		remoteRef: plumbing.NewRemoteReferenceName(remoteName, branch),
		auth:      auth,
		maxPacks:  defaultMaxPacks,
	}
	r.refspec = config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(branch), r.remoteRef))
	if err := r.refspec.Validate(); err != nil {
		return nil, fmt.Errorf("branch %q: %w", branch, err)
	}
	st := newStorage(dir)
	fetcher, err := git.Open(st, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		fetcher, err = git.Init(st, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the repository cache %s: %w", dir, err)
	}
	r.fetcher = fetcher
	cfg, err := fetcher.Config()
	if err != nil {
		return nil, fmt.Errorf("reading the repository cache's config: %w", err)
	}
	cfg.Remotes = map[string]*config.RemoteConfig{remoteName: {
		Name:  remoteName,
		URLs:  []string{url},
		Fetch: []config.RefSpec{r.refspec},
	}}
	if err := fetcher.SetConfig(cfg); err != nil {
		return nil, fmt.Errorf("writing the repository cache's config: %w", err)
	}
	r.reader = newStorage(dir)
	return r, nil
}

// newStorage opens the cache repository's storage. A few pack files stay
// open between reads: opening the pack for every object would dominate the
// cost of loading a revision.
func newStorage(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(16*cache.MiByte),
		filesystem.Options{MaxOpenDescriptors: 16})
}

// servingRef keeps the served revision reachable, so that a repack never
// drops it even when the branch was force-pushed away from it.
const servingRef = plumbing.ReferenceName("refs/dayops/serving")

// pin records h as the served revision.
func (r *repo) pin(h plumbing.Hash) error {
	return r.fetcher.Storer.SetReference(plumbing.NewHashReference(servingRef, h))
}

// served is the revision pinned by the last swap, if any: the last good
// revision of an earlier process.
func (r *repo) served() (plumbing.Hash, bool) {
	ref, err := r.fetcher.Storer.Reference(servingRef)
	if err != nil || ref.Type() != plumbing.HashReference {
		return plumbing.ZeroHash, false
	}
	return ref.Hash(), true
}

// defaultMaxPacks is how many pack files the cache may gather (each fetch
// that brings objects adds one) before they are repacked into one: object
// lookups cost one index search per pack.
const defaultMaxPacks = 64

// maintain repacks the cache when fetches have gathered too many packs.
// Objects reachable from neither the branch nor the served revision (commits
// force-pushed away long ago) are dropped. Readers wait meanwhile.
func (r *repo) maintain() error {
	packs, err := r.fetcher.Storer.(storer.PackedObjectStorer).ObjectPacks()
	if err != nil || len(packs) <= r.maxPacks {
		return err
	}
	r.readMu.Lock()
	defer r.readMu.Unlock()
	if err := r.fetcher.RepackObjects(&git.RepackConfig{}); err != nil {
		return fmt.Errorf("repacking %d packs: %w", len(packs), err)
	}
	// Both handles cached the old packs' indexes and descriptors.
	old := []*filesystem.Storage{r.reader, r.fetcher.Storer.(*filesystem.Storage)}
	st := newStorage(r.dir)
	fetcher, err := git.Open(st, nil)
	if err != nil {
		return fmt.Errorf("reopening the repository cache: %w", err)
	}
	r.fetcher, r.reader = fetcher, newStorage(r.dir)
	for _, s := range old {
		_ = s.Close()
	}
	return nil
}

// close closes both storage handles.
func (r *repo) close() error {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	err := r.reader.Close()
	if ferr := r.fetcher.Storer.(*filesystem.Storage).Close(); err == nil {
		err = ferr
	}
	return err
}

// fetch fetches the branch (the whole history, so that force-pushes, old
// revisions and later fetches need nothing special) and returns its head,
// and whether anything was fetched. An unchanged branch costs one round
// trip: the ref advertisement.
func (r *repo) fetch(ctx context.Context) (plumbing.Hash, bool, error) {
	err := r.fetcher.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{r.refspec},
		Auth:       r.auth,
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, false, err
	}
	fetched := err == nil
	if fetched {
		// New objects may be in a new pack: let the reader see it.
		r.readMu.Lock()
		r.reader.Reindex()
		r.readMu.Unlock()
	}
	h, ok := r.localHead()
	if !ok {
		return plumbing.ZeroHash, false, fmt.Errorf("fetch succeeded but %s is missing", r.remoteRef)
	}
	return h, fetched, nil
}

// localHead is the branch head as last fetched.
func (r *repo) localHead() (plumbing.Hash, bool) {
	ref, err := r.fetcher.Storer.Reference(r.remoteRef)
	if err != nil || ref.Type() != plumbing.HashReference {
		return plumbing.ZeroHash, false
	}
	return ref.Hash(), true
}

// commit reads a commit object. The returned commit must not be asked for
// its tree or parents (that would read storage outside readMu).
func (r *repo) commit(h plumbing.Hash) (*object.Commit, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	return object.GetCommit(r.reader, h)
}

// tree reads a tree object; its entries are decoded and safe to share.
func (r *repo) tree(h plumbing.Hash) (*object.Tree, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	return object.GetTree(r.reader, h)
}

// blobSize is the size of a blob without reading its content.
func (r *repo) blobSize(h plumbing.Hash) (int64, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	return r.reader.EncodedObjectSize(h)
}

// readBlob returns a blob's content.
func (r *repo) readBlob(h plumbing.Hash) ([]byte, error) {
	var b []byte
	err := r.copyBlob(h, func(rd io.Reader, size int64) error {
		buf := bytes.NewBuffer(make([]byte, 0, size))
		_, err := buf.ReadFrom(rd)
		b = buf.Bytes()
		return err
	})
	return b, err
}

// copyBlob streams a blob's content to fn.
func (r *repo) copyBlob(h plumbing.Hash, fn func(rd io.Reader, size int64) error) error {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	obj, err := r.reader.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return err
	}
	rd, err := obj.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	return fn(rd, obj.Size())
}

// resolve turns a full commit SHA into a hash of a commit in the cache.
func (r *repo) resolve(revision string) (plumbing.Hash, error) {
	if !isFullSHA(revision) {
		return plumbing.ZeroHash, errInvalidRevision(revision)
	}
	h := plumbing.NewHash(revision)
	if _, err := r.commit(h); errors.Is(err, plumbing.ErrObjectNotFound) {
		return plumbing.ZeroHash, errUnknownRevision(revision, err)
	} else if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading commit %s: %w", revision, err)
	}
	return h, nil
}

func isFullSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// localPath reports whether url names a local repository rather than a
// remote one, and returns its absolute path.
func localPath(url string) (string, bool, error) {
	if p, ok := strings.CutPrefix(url, "file://"); ok {
		abs, err := filepath.Abs(p)
		return abs, true, err
	}
	if strings.Contains(url, "://") {
		return "", false, nil
	}
	// "host:path" and "user@host:path" are scp-like ssh addresses; a path
	// that starts with / or . is always local.
	if !strings.HasPrefix(url, "/") && !strings.HasPrefix(url, ".") {
		if i := strings.Index(url, ":"); i > 0 && !strings.Contains(url[:i], "/") {
			return "", false, nil
		}
	}
	abs, err := filepath.Abs(url)
	return abs, true, err
}

// makePrivateDir creates dir, and makes it (new or left by an older
// version) readable by its owner only: the cache holds the ops repo's
// history, which other users of the machine have no business reading.
func makePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}
