// Package gitserver serves a real git repository for tests: a bare
// repository made with the git CLI in a temporary folder, served over HTTP by
// git http-backend behind net/http/cgi, and a work clone, driven by the git
// CLI with a fixed author, to commit, force-push and delete branches from.
//
// It is a test helper: every failure ends the test through testing.TB. The
// git CLI is needed (tests are skipped without it); the code under test never
// runs git itself.
package gitserver
