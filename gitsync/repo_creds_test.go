package gitsync

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dayops/dayops"
)

func TestSyncStoresNoCredentials(t *testing.T) {
	// A token written in the repository URL is used to fetch but lands in
	// no file of the cache, and the cache is private to its owner, also
	// when an older version left it readable by everyone.
	const token = "ghs_url-token-0123456789"
	srv, first := serve(t)
	srv.RequireToken(token)
	cache := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cache, "repo.git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	withCreds := strings.Replace(srv.URL(), "http://", "http://x-access-token:"+token+"@", 1)
	s, _ := newSyncer(t, withCreds, func(o *Options) { o.CacheDir = cache })
	if r := mustSync(t, s, dayops.SyncUpdated); r.Revision != first {
		t.Fatalf("sync with the token in the URL: %+v", r)
	}
	_, release, err := s.Checkout(context.Background(), first)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	err = filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), token) {
			t.Errorf("%s holds the token", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{cache, filepath.Join(cache, "repo.git")} {
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want 0700", dir, st.Mode().Perm())
		}
	}
	config, err := os.ReadFile(filepath.Join(cache, "repo.git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(config), srv.URL()) {
		t.Errorf("the cache's config does not name the repository %s:\n%s", srv.URL(), config)
	}
}

func TestNewRemoteCredentialsInURL(t *testing.T) {
	tests := []struct {
		name, url, token string
		wantURL, wantErr string
	}{
		{"user and token", "https://x-access-token:tok-123456@github.com/org/ops.git", "", "https://github.com/org/ops.git", ""},
		{"token as user", "https://tok-123456@github.com/org/ops.git", "", "https://github.com/org/ops.git", ""},
		{"no credentials", "https://github.com/org/ops.git", "tok-123456", "https://github.com/org/ops.git", ""},
		{"both", "https://u:tok-123456@github.com/org/ops.git", "other-7890", "",
			"the ops repo URL https://***@github.com/org/ops.git holds credentials and a token is set as well: keep only the token (DAYOPS_REPO_TOKEN) and remove the credentials from the URL"},
		{"ssh password", "ssh://git:pw-123456@github.com/org/ops.git", "", "",
			"the ops repo URL ssh://***@github.com/org/ops.git holds a password, but dayops signs in to ssh with a key only: remove the password from the URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newRemote(Options{URL: tt.url, Token: tt.token})
			if tt.wantErr != "" {
				if err == nil || dayops.UserMessage(err, "") != tt.wantErr {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.url != tt.wantURL || r.auth == nil {
				t.Fatalf("url %q auth %v, want %q with auth", r.url, r.auth, tt.wantURL)
			}
		})
	}
}
