package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/gitsync"
)

func runSync(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("sync")
	fs := newFlags(v.name)
	repo := fs.String("repo", io.Getenv("DAYOPS_REPO_URL"), "ops repo `URL`: https, ssh or a local path (env DAYOPS_REPO_URL)")
	branch := fs.String("branch", envOr(io, "DAYOPS_REPO_BRANCH", "main"), "branch to follow")
	path := fs.String("path", envOr(io, "DAYOPS_REPO_PATH", "ops"), "folder of definitions inside the repo")
	cache := fs.String("cache", "", "clone cache `folder` (default: a folder under the user cache dir)")
	db := databaseFlag(fs, io)
	record := fs.Bool("record", false, "also record the sync in the database's sync history")
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
		*cache = filepath.Join(base, "dayops", "sync")
	}
	opts := gitsync.Options{
		URL: *repo, Branch: *branch, Path: *path, CacheDir: *cache,
		Token: io.Getenv("DAYOPS_REPO_TOKEN"), SSHKeyPath: io.Getenv("DAYOPS_REPO_SSH_KEY"),
		VerifyKeysPath: *verifyKeys,
	}
	if *record {
		st, ok := openStore(ctx, io, *db)
		if !ok {
			return exitFail
		}
		defer st.Close()
		opts.History = st
	}
	s, err := gitsync.New(opts)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops sync: %s\n", dayops.UserMessage(err, err.Error()))
		return exitUsage
	}
	defer s.Close()
	rec, err := s.Sync(ctx)
	printSync(io, rec)
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
