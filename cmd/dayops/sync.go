package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/gitsync"
	"github.com/dayops/dayops/storage"
)

func runSync(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("sync")
	fs := newFlags(v.name)
	repo := fs.String("repo", io.Getenv("DAYOPS_REPO_URL"), "ops repo `URL`: https, ssh or a local path (env DAYOPS_REPO_URL)")
	branch := fs.String("branch", envOr(io, "DAYOPS_REPO_BRANCH", "main"), "branch to follow")
	path := fs.String("path", envOr(io, "DAYOPS_REPO_PATH", "ops"), "folder of definitions inside the repo")
	cache := fs.String("cache", "", "clone cache `folder` (default: one per repo and branch under the user cache dir)")
	db := fs.String("database", io.Getenv("DAYOPS_DATABASE"), "record the sync in this database's sync history and show recent ones (env DAYOPS_DATABASE; default: record nothing)")
	verifyKeys := fs.String("verify-keys", "", "`file` of armored PGP public keys: an unsigned or wrongly signed head is refused like an invalid one")
	if _, code, ok := parseArgs(io, v, fs, args, 0, 0); !ok {
		return code
	}
	if *repo == "" {
		fmt.Fprintln(io.Stderr, "dayops sync: --repo is required (or set DAYOPS_REPO_URL)")
		return exitUsage
	}
	if *cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		// One cache per repository and branch: a cache follows one remote.
		key := sha256.Sum256([]byte(*repo + "\x00" + *branch))
		*cache = filepath.Join(base, "dayops", "sync", hex.EncodeToString(key[:8]))
	}
	opts := gitsync.Options{
		URL: *repo, Branch: *branch, Path: *path, CacheDir: *cache,
		Token: io.Getenv("DAYOPS_REPO_TOKEN"), SSHKeyPath: io.Getenv("DAYOPS_REPO_SSH_KEY"),
		VerifyKeysPath: *verifyKeys,
	}
	var st *storage.Store
	if *db != "" {
		var ok bool
		if st, ok = openStore(ctx, io, *db); !ok {
			return exitFail
		}
		defer st.Close()
		opts.History = st
	}
	s, err := gitsync.New(opts)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops sync: %v\n", err)
		if dayops.KindOf(err) == dayops.KindInvalid {
			return exitUsage
		}
		return exitFail
	}
	defer s.Close()
	rec, err := s.Sync(ctx)
	printSync(io, rec)
	if st != nil {
		if hist, herr := st.Syncs(ctx, 5); herr == nil && len(hist) > 0 {
			fmt.Fprintln(io.Stdout, "recent syncs:")
			for _, h := range hist {
				fmt.Fprintf(io.Stdout, "  %s  %-9s %-12s %d definitions  %s\n", h.Time.UTC().Format("2006-01-02 15:04:05Z"),
					h.Outcome, dayops.ShortRevision(h.Revision), h.Definitions, h.Duration.Round(time.Millisecond))
			}
		}
	}
	if err != nil || rec.Outcome == dayops.SyncFailed || rec.Outcome == dayops.SyncInvalid {
		if err != nil && len(rec.Errors) == 0 {
			fmt.Fprintf(io.Stderr, "dayops sync: %s\n", dayops.NewRedactor().Redact(err.Error()))
		}
		return exitFail
	}
	return exitOK
}

func printSync(io IO, rec dayops.SyncRecord) {
	rev := rec.Revision
	if rev == "" {
		rev = "(none)"
	}
	fmt.Fprintf(io.Stdout, "revision %s\noutcome %s in %s\ndefinitions %d\n", rev, rec.Outcome, rec.Duration.Round(time.Millisecond), rec.Definitions)
	if rec.Serving != "" && rec.Serving != rec.Revision {
		fmt.Fprintf(io.Stdout, "serving %s (the last good revision)\n", rec.Serving)
	}
	for _, e := range rec.Errors {
		fmt.Fprintln(io.Stdout, e)
	}
}

func envOr(io IO, name, def string) string {
	if v := io.Getenv(name); v != "" {
		return v
	}
	return def
}
