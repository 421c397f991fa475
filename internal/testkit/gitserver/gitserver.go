package gitserver

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Branch is the branch the server's repository is created with.
const Branch = "main"

// RepoName is the repository's folder under the project root and the last
// element of its URL.
const RepoName = "ops.git"

// The fixed author and committer of every commit the helpers make.
const (
	AuthorName  = "dayops test"
	AuthorEmail = "test@dayops.invalid"
)

// Server is a bare git repository served over HTTP, with a work clone to
// change it. It is safe for concurrent use by the test and the code under
// test; the commit helpers themselves are serialised.
type Server struct {
	tb   testing.TB
	git  string // the git executable
	root string // GIT_PROJECT_ROOT
	bare string
	work string

	mu   sync.Mutex // serialises git commands on the work clone and Start/Stop
	ts   *httptest.Server
	addr string

	clock    atomic.Int64 // seconds added to the fixed commit time, one per commit
	token    atomic.Pointer[string]
	requests atomic.Int64
	handler  http.Handler
}

// New creates an empty bare repository (branch main, no commits yet) and a
// work clone, and starts serving the repository over HTTP. Everything is
// removed when the test ends. The test is skipped when git is not installed.
func New(tb testing.TB) *Server {
	tb.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		tb.Skip("git is not installed")
	}
	root := tb.TempDir()
	s := &Server{
		tb:   tb,
		git:  git,
		root: root,
		bare: filepath.Join(root, RepoName),
		work: filepath.Join(tb.TempDir(), "work"),
	}
	s.Git("", "init", "-q", "--bare", "-b", Branch, s.bare)
	s.Git("", "init", "-q", "-b", Branch, s.work)
	s.Git(s.work, "remote", "add", "origin", s.bare)
	backend := &cgi.Handler{
		Path: git,
		Args: []string{"http-backend"},
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_CONFIG_NOSYSTEM=1",
		},
		Stderr: io.Discard,
		Logger: log.New(io.Discard, "", 0),
	}
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if tok := s.token.Load(); tok != nil && !authorized(r, *tok) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	})
	s.ts = httptest.NewServer(s.handler)
	s.addr = s.ts.Listener.Addr().String()
	tb.Cleanup(s.Stop)
	return s
}

// authorized accepts "Bearer TOKEN" or Basic credentials whose password is
// TOKEN (any user name, as GitHub's x-access-token).
func authorized(r *http.Request, token string) bool {
	h := r.Header.Get("Authorization")
	var got string
	switch {
	case strings.HasPrefix(h, "Bearer "):
		got = strings.TrimPrefix(h, "Bearer ")
	case strings.HasPrefix(h, "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h, "Basic "))
		if err != nil {
			return false
		}
		_, got, _ = strings.Cut(string(raw), ":")
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// RequireToken makes the server answer 401 to requests without token (as a
// bearer token or a basic-auth password). "" turns the check off.
func (s *Server) RequireToken(token string) {
	if token == "" {
		s.token.Store(nil)
		return
	}
	s.token.Store(&token)
}

// URL is the repository's HTTP URL. It stays the same across Stop and Start.
func (s *Server) URL() string { return "http://" + s.addr + "/" + RepoName }

// Path is the bare repository's folder, usable as a local path URL.
func (s *Server) Path() string { return s.bare }

// WorkDir is the work clone commits are made in. A test may commit there
// with other tools and then call Push.
func (s *Server) WorkDir() string { return s.work }

// Requests is the number of HTTP requests served so far (refused ones too).
func (s *Server) Requests() int64 { return s.requests.Load() }

// Stop closes the HTTP server: clients get "connection refused" until Start.
func (s *Server) Stop() {
	s.mu.Lock()
	ts := s.ts
	s.ts = nil
	s.mu.Unlock()
	if ts != nil {
		ts.CloseClientConnections()
		ts.Close()
	}
}

// Start serves the repository again on the same address after Stop.
func (s *Server) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ts != nil {
		return
	}
	var l net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if l, err = net.Listen("tcp", s.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		s.tb.Fatalf("gitserver: listening again on %s: %v", s.addr, err)
	}
	ts := httptest.NewUnstartedServer(s.handler)
	ts.Listener.Close()
	ts.Listener = l
	ts.Start()
	s.ts = ts
}

// File is one change of a commit.
type File struct {
	Path    string      // slash-separated, relative to the repository root
	Content string      // ignored when Delete; the target of a symbolic link
	Mode    fs.FileMode // 0 means 0644; 0755 makes an executable; fs.ModeSymlink a link
	Delete  bool
}

// Commit writes files (path → content, mode 0644) in the work clone, commits
// them and pushes the branch. It returns the new commit's SHA.
func (s *Server) Commit(message string, files map[string]string) string {
	s.tb.Helper()
	return s.CommitFiles(message, mapFiles(files)...)
}

// CommitFiles commits changes with modes and deletions, pushes the branch
// and returns the new commit's SHA. A commit without changes is allowed.
func (s *Server) CommitFiles(message string, files ...File) string {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	sha := s.commit(message, files)
	s.Git(s.work, "push", "-q", "origin", "HEAD:refs/heads/"+Branch)
	return sha
}

// ForcePush replaces the branch's head commit by a new commit with files on
// top of its parent (or a new root commit) and force-pushes it, as after
// `git commit --amend && git push --force`. It returns the new SHA.
func (s *Server) ForcePush(message string, files map[string]string) string {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tryGit(s.work, "rev-parse", "-q", "--verify", "HEAD~1") != "" {
		s.Git(s.work, "reset", "-q", "--hard", "HEAD~1")
	} else {
		s.Git(s.work, "checkout", "-q", "--orphan", "rewrite-"+fmt.Sprint(s.clock.Load()))
		s.Git(s.work, "rm", "-q", "-rf", "--ignore-unmatch", ".")
	}
	sha := s.commit(message, mapFiles(files))
	s.Git(s.work, "push", "-q", "--force", "origin", "HEAD:refs/heads/"+Branch)
	return sha
}

// PushPullRequest commits files on top of the branch's head and pushes the
// commit to ref only (refs/pull/N/head, as GitHub keeps a pull request's
// head); the branch is left as it was. It returns the commit's SHA.
func (s *Server) PushPullRequest(ref string, files map[string]string) string {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Git(s.work, "checkout", "-q", "-B", "pull-request-work")
	sha := s.commit("pull request", mapFiles(files))
	s.Git(s.work, "push", "-q", "--force", "origin", "HEAD:"+ref)
	s.Git(s.work, "checkout", "-q", Branch)
	return sha
}

// Push pushes the work clone's head to the branch, creating it again after
// DeleteBranch.
func (s *Server) Push() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Git(s.work, "push", "-q", "--force", "origin", "HEAD:refs/heads/"+Branch)
}

// DeleteBranch removes the branch from the served repository.
func (s *Server) DeleteBranch() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Git(s.bare, "update-ref", "-d", "refs/heads/"+Branch)
}

// Head is the branch's commit in the served repository, "" when the branch
// does not exist.
func (s *Server) Head() string {
	return s.tryGit(s.bare, "rev-parse", "-q", "--verify", "refs/heads/"+Branch+"^{commit}")
}

// CommitMany adds n commits to the branch at once with git fast-import, each
// changing history/log.txt, and returns the last SHA. The work clone follows.
func (s *Server) CommitMany(n int) string {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	parent := s.Head()
	for i := range n {
		t := baseTime + s.clock.Add(1)
		msg := fmt.Sprintf("change %d", i)
		content := fmt.Sprintf("change %d\n", i)
		fmt.Fprintf(&b, "commit refs/heads/%s\n", Branch)
		fmt.Fprintf(&b, "author %s <%s> %d +0000\n", AuthorName, AuthorEmail, t)
		fmt.Fprintf(&b, "committer %s <%s> %d +0000\n", AuthorName, AuthorEmail, t)
		fmt.Fprintf(&b, "data %d\n%s\n", len(msg), msg)
		if i == 0 && parent != "" {
			fmt.Fprintf(&b, "from %s\n", parent)
		}
		fmt.Fprintf(&b, "M 100644 inline history/log.txt\ndata %d\n%s\n", len(content), content)
	}
	cmd := s.command(s.bare, "fast-import", "--quiet")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		s.tb.Fatalf("gitserver: git fast-import: %v\n%s", err, out)
	}
	s.Git(s.work, "fetch", "-q", "origin")
	s.Git(s.work, "reset", "-q", "--hard", "origin/"+Branch)
	return s.Head()
}

// baseTime is the fixed commit time; each commit adds one second so that
// equal trees still make different commits.
const baseTime = 1_700_000_000

func (s *Server) commit(message string, files []File) string {
	s.tb.Helper()
	for _, f := range files {
		p := filepath.Join(s.work, filepath.FromSlash(f.Path))
		if f.Delete {
			if err := os.RemoveAll(p); err != nil {
				s.tb.Fatalf("gitserver: %v", err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.tb.Fatalf("gitserver: %v", err)
		}
		if f.Mode&fs.ModeSymlink != 0 {
			_ = os.Remove(p)
			if err := os.Symlink(f.Content, p); err != nil {
				s.tb.Fatalf("gitserver: %v", err)
			}
			continue
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, []byte(f.Content), mode); err != nil {
			s.tb.Fatalf("gitserver: %v", err)
		}
		if err := os.Chmod(p, mode); err != nil {
			s.tb.Fatalf("gitserver: %v", err)
		}
	}
	s.clock.Add(1)
	s.Git(s.work, "add", "-A")
	s.Git(s.work, "commit", "-q", "--allow-empty", "--no-verify", "-m", message)
	return s.Git(s.work, "rev-parse", "HEAD")
}

func mapFiles(files map[string]string) []File {
	out := make([]File, 0, len(files))
	for p, c := range files {
		out = append(out, File{Path: p, Content: c})
	}
	return out
}

// Git runs git in dir ("" for the current folder) with the helper's fixed
// environment and returns its trimmed standard output; a failure ends the
// test.
func (s *Server) Git(dir string, args ...string) string {
	s.tb.Helper()
	cmd := s.command(dir, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.tb.Fatalf("gitserver: git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// tryGit runs git and returns "" on failure.
func (s *Server) tryGit(dir string, args ...string) string {
	out, err := s.command(dir, args...).Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		s.tb.Fatalf("gitserver: git %s: %v", strings.Join(args, " "), err)
	}
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (s *Server) command(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(s.git, append([]string{"-c", "commit.gpgsign=false", "-c", "core.fsmonitor=false"}, args...)...)
	cmd.Dir = dir
	date := fmt.Sprintf("@%d +0000", baseTime+s.clock.Load())
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME="+AuthorName,
		"GIT_AUTHOR_EMAIL="+AuthorEmail,
		"GIT_COMMITTER_NAME="+AuthorName,
		"GIT_COMMITTER_EMAIL="+AuthorEmail,
		"GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_DATE="+date,
	)
	return cmd
}

// RawEntry is a tree entry written with git's plumbing, so that its name can
// be one that `git add` never writes (.., .git, a name with a slash).
type RawEntry struct {
	Name    string
	Content string // the blob's content
}

// CommitRawEntries commits, on top of the branch head, the head's tree with
// entries added to the folder dir ("" for the root; dir must exist at the
// head and be one level deep), and moves the branch to it. The work clone's
// HEAD follows without a checkout (such a tree cannot be checked out), so
// the next Commit is made from the head's tree without the raw entries. It
// returns the new commit's SHA.
func (s *Server) CommitRawEntries(message, dir string, entries ...RawEntry) string {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	head := s.Git(s.bare, "rev-parse", "refs/heads/"+Branch)
	// mktree writes a tree object from ls-tree lines byte by byte, as
	// git mktree would, but without its checks on names.
	mktree := func(listing string) string {
		var obj bytes.Buffer
		for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
			meta, name, _ := strings.Cut(line, "\t")
			f := strings.Fields(meta) // mode, type, hash
			raw, err := hex.DecodeString(f[2])
			if err != nil {
				s.tb.Fatalf("gitserver: tree line %q: %v", line, err)
			}
			fmt.Fprintf(&obj, "%s %s\x00", strings.TrimPrefix(f[0], "0"), name)
			obj.Write(raw)
		}
		cmd := s.command(s.bare, "hash-object", "-w", "-t", "tree", "--literally", "--stdin")
		cmd.Stdin = &obj
		out, err := cmd.Output()
		if err != nil {
			s.tb.Fatalf("gitserver: git hash-object -t tree: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	treeOf := func(rev string) string { return s.Git(s.bare, "ls-tree", "--full-tree", rev) + "\n" }
	var b strings.Builder
	if dir == "" {
		b.WriteString(treeOf(head))
	} else {
		b.WriteString(treeOf(head + ":" + dir))
	}
	for _, e := range entries {
		cmd := s.command(s.bare, "hash-object", "-w", "--stdin")
		cmd.Stdin = strings.NewReader(e.Content)
		out, err := cmd.Output()
		if err != nil {
			s.tb.Fatalf("gitserver: git hash-object: %v", err)
		}
		fmt.Fprintf(&b, "100644 blob %s\t%s\n", strings.TrimSpace(string(out)), e.Name)
	}
	tree := mktree(b.String())
	if dir != "" {
		var root strings.Builder
		for _, line := range strings.Split(strings.TrimSpace(treeOf(head)), "\n") {
			if strings.HasSuffix(line, "\t"+dir) {
				line = "040000 tree " + tree + "\t" + dir
			}
			root.WriteString(line + "\n")
		}
		tree = mktree(root.String())
	}
	s.clock.Add(1)
	sha := s.Git(s.bare, "commit-tree", tree, "-p", head, "-m", message)
	s.Git(s.bare, "update-ref", "refs/heads/"+Branch, sha)
	s.Git(s.work, "fetch", "-q", "origin")
	s.Git(s.work, "reset", "-q", "--soft", "origin/"+Branch)
	return sha
}
