// Package postgres starts a throwaway PostgreSQL cluster for tests: Debian's
// server binaries (/usr/lib/postgresql/VERSION/bin), a new cluster made by
// initdb in a temporary directory (trust authentication, superuser dayops,
// no fsync), listening on 127.0.0.1 and a free port, removed when stopped.
// initdb refuses to run as root, so as root the cluster is made and run as
// the postgres user, in a directory that user owns.
//
// A test package starts one cluster and gives each test its own database:
// its TestMain calls Main, and each test calls Database for a fresh one.
// When PostgreSQL is not installed the tests are skipped ("install
// postgresql"), except under CI=true, where they fail.
package postgres

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Superuser is the cluster's superuser; trust authentication needs no
// password.
const Superuser = "dayops"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	Host string // 127.0.0.1
	Port int

	bin   string
	dir   string // owned by the server's user: data/, the socket, the log
	as    []string
	count atomic.Int64
}

// initdbs is where Debian installs initdb, one per major version.
var initdbs = "/usr/lib/postgresql/*/bin/initdb"

// Bin returns the directory of Debian's newest PostgreSQL server
// binaries, or an error saying what to install.
func Bin() (string, error) {
	found, _ := filepath.Glob(initdbs)
	if len(found) == 0 {
		return "", errors.New("PostgreSQL is not installed: install postgresql (apt-get install -y postgresql) to run the PostgreSQL tests")
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) < version(found[j]) })
	return filepath.Dir(found[len(found)-1]), nil
}

// version is the major version in /usr/lib/postgresql/VERSION/bin/initdb.
func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// Launch makes a new cluster and starts it, for callers without a test (the
// bench); the caller must Stop it.
func Launch() (c *Cluster, err error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dayops-pg-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{Host: "127.0.0.1", bin: bin, dir: dir}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if os.Geteuid() == 0 {
		// initdb refuses root: the postgres user owns and runs the cluster.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running PostgreSQL as root needs the postgres user (the postgresql package makes it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		c.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	if out, err := c.command("initdb", "-D", c.data(), "-A", "trust", "-U", Superuser, "--no-sync", "-E", "UTF8", "--locale", "C").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// A free port may be taken between here and the start; pg_ctl then
	// fails, and another port is tried.
	for try := 0; ; try++ {
		if c.Port, err = freePort(); err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", c.Port, dir)
		out, err := c.command("pg_ctl", "-D", c.data(), "-l", filepath.Join(dir, "log"), "-w", "-o", opts, "start").CombinedOutput()
		if err == nil {
			return c, nil
		}
		if try == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// command runs one of the server's binaries as the cluster's user.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, c.as...), filepath.Join(c.bin, name)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// freePort asks the kernel for a port no one listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the postgres:// URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", Superuser, c.Host, c.Port, name)
}

// CreateDatabase makes a new, empty database and returns its URL.
func (c *Cluster) CreateDatabase(name string) (string, error) {
	out, err := c.command("createdb", "-h", c.Host, "-p", strconv.Itoa(c.Port), "-U", Superuser, name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("createdb %s: %v\n%s", name, err, out)
	}
	return c.URL(name), nil
}

// NewDatabase makes a database with a name no other of the cluster has.
func (c *Cluster) NewDatabase(prefix string) (string, error) {
	return c.CreateDatabase(fmt.Sprintf("%s_%d", sanitize(prefix), c.count.Add(1)))
}

// sanitize makes s a short lower-case identifier.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 40 {
		out = out[:40]
	}
	if out == "" || out[0] >= '0' && out[0] <= '9' {
		out = "t" + out
	}
	return out
}

// Stop stops the server at once and removes the cluster.
func (c *Cluster) Stop() {
	if c.Port != 0 {
		c.command("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop").Run()
	}
	os.RemoveAll(c.dir)
}

// The package's cluster, started by the first Database call of a test
// package whose TestMain is Main.
var (
	mu       sync.Mutex
	shared   *Cluster
	startErr error
	inMain   bool
)

// Main runs the tests of a package (call it from TestMain) and stops the
// package's cluster, if a test started one, before exiting.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that does more: it runs the tests, stops the
// package's cluster and returns the exit code.
func Run(m *testing.M) int {
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
	mu.Unlock()
	return code
}

// Need skips the test when PostgreSQL is not installed (fails under
// CI=true).
func Need(tb testing.TB) {
	tb.Helper()
	if _, err := Bin(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v (CI must install it: see .ci/run)", err)
		} else {
			tb.Skip(err)
		}
	}
}

// Database returns the URL of a new, empty database of the package's
// cluster, starting the cluster on first use.
func Database(tb testing.TB) string {
	tb.Helper()
	Need(tb)
	c := Shared(tb)
	url, err := c.NewDatabase(tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	return url
}

// Shared returns the package's cluster, starting it on first use. The
// package's TestMain must be Main, which stops it.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	Need(tb)
	mu.Lock()
	defer mu.Unlock()
	if !inMain {
		tb.Fatal("the PostgreSQL test harness needs TestMain to call postgres.Main(m) or postgres.Run(m), which remove the cluster afterwards")
	}
	if shared == nil && startErr == nil {
		shared, startErr = Launch()
	}
	if startErr != nil {
		tb.Fatalf("starting PostgreSQL: %v", startErr)
	}
	return shared
}
