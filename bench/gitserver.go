package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// branch is the branch of every bench repository.
const branch = "main"

// gitEnv is the environment of every git command: no user or system
// configuration, no prompts, fixed identities.
func gitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=dayops bench", "GIT_AUTHOR_EMAIL=bench@dayops.invalid",
		"GIT_COMMITTER_NAME=dayops bench", "GIT_COMMITTER_EMAIL=bench@dayops.invalid",
	)
}

// git runs the git CLI in dir ("" for the current folder) and returns its
// trimmed standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// gitServer is a bare repository served over HTTP by `git http-backend` on a
// loopback address. Commits are written straight into it with
// `git fast-import`, as a push would land.
type gitServer struct {
	bare  string
	url   string
	srv   *http.Server
	clock int64 // seconds added to the fixed commit time, one per commit
	head  string
}

// startGitServer creates dir/ops.git and serves it on 127.0.0.1.
func startGitServer(ctx context.Context, dir string) (*gitServer, error) {
	g := &gitServer{bare: filepath.Join(dir, "ops.git")}
	if _, err := git(ctx, "", "init", "-q", "--bare", "-b", branch, g.bare); err != nil {
		return nil, err
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, err
	}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + dir,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_CONFIG_NOSYSTEM=1",
		},
		Stderr: io.Discard,
		Logger: log.New(io.Discard, "", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g.url = "http://" + ln.Addr().String() + "/ops.git"
	g.srv = &http.Server{Handler: backend, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go g.srv.Serve(ln)
	return g, nil
}

// close stops serving.
func (g *gitServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.srv.Shutdown(ctx)
}

// commitTime is the fixed time of the first commit.
const commitTime = 1_700_000_000

// commit writes one commit on top of the branch with files (path ->
// content); a non-empty clear is a folder emptied first, so that the commit
// holds only the given files there. It returns the new SHA.
func (g *gitServer) commit(ctx context.Context, message string, files map[string]string, clear string) (string, error) {
	var b strings.Builder
	g.writeCommit(&b, message, files, clear)
	return g.fastImport(ctx, b.String())
}

// history writes a commit with files, then n commits each changing
// history/log.txt, in one stream, and returns the last SHA. One stream
// matters: fast-import started on top of an existing pack looks every new
// object up in the packs, which costs seconds for thousands of commits.
func (g *gitServer) history(ctx context.Context, files map[string]string, n int) (string, error) {
	var b strings.Builder
	g.writeCommit(&b, "definitions", files, "")
	for i := range n {
		g.writeCommit(&b, fmt.Sprintf("change %d", i), map[string]string{"history/log.txt": fmt.Sprintf("change %d\n", i)}, "")
	}
	return g.fastImport(ctx, b.String())
}

// writeCommit appends one commit to a fast-import stream; the first commit
// of a stream names the branch head as its parent, the next ones follow it.
func (g *gitServer) writeCommit(b *strings.Builder, message string, files map[string]string, clear string) {
	first := b.Len() == 0
	g.clock++
	fmt.Fprintf(b, "commit refs/heads/%s\n", branch)
	fmt.Fprintf(b, "committer dayops bench <bench@dayops.invalid> %d +0000\n", commitTime+g.clock)
	fmt.Fprintf(b, "data %d\n%s\n", len(message), message)
	if first && g.head != "" {
		fmt.Fprintf(b, "from %s\n", g.head)
	}
	if clear != "" {
		fmt.Fprintf(b, "D %s\n", clear)
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(b, "M 100644 inline %s\ndata %d\n%s\n", p, len(files[p]), files[p])
	}
	b.WriteString("\n")
}

// fastImport feeds stream to `git fast-import` in the bare repository and
// records the new head.
func (g *gitServer) fastImport(ctx context.Context, stream string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "fast-import", "--quiet")
	cmd.Dir = g.bare
	cmd.Env = gitEnv()
	cmd.Stdin = strings.NewReader(stream)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("git fast-import: %w: %s", err, out)
	}
	head, err := git(ctx, g.bare, "rev-parse", "refs/heads/"+branch)
	if err != nil {
		return "", err
	}
	g.head = head
	return head, nil
}
