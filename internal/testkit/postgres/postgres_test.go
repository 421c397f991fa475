package postgres

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestCluster starts the package's cluster, makes two databases and finds
// each one separate and answering; a stopped cluster leaves nothing behind.
func TestCluster(t *testing.T) {
	c := Shared(t)
	var urls []string
	for range 2 {
		urls = append(urls, Database(t))
	}
	if urls[0] == urls[1] {
		t.Fatalf("two databases share the URL %s", urls[0])
	}
	for _, url := range urls {
		if !strings.HasPrefix(url, "postgres://dayops@127.0.0.1:"+strconv.Itoa(c.Port)+"/") {
			t.Errorf("URL %s: want postgres://dayops@127.0.0.1:%d/…", url, c.Port)
		}
		name := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
		out, err := exec.Command(filepath.Join(c.bin, "psql"), "-h", c.Host, "-p", strconv.Itoa(c.Port), "-U", Superuser,
			"-d", name, "-At", "-c", "SELECT current_database()").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != name {
			t.Errorf("psql in %s = %q, %v; want %s", name, out, err, name)
		}
	}
}

// TestLaunchStop removes the cluster's directory and stops its server.
func TestLaunchStop(t *testing.T) {
	Need(t)
	c, err := Launch()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDatabase("one"); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s still there after Stop: %v", c.dir, err)
	}
	if _, err := c.CreateDatabase("two"); err == nil {
		t.Errorf("createdb on a stopped cluster succeeded")
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"TestConformance/run_round_trip", "testconformance_run_round_trip"},
		{"1abc", "t1abc"},
		{"", "t"},
		{strings.Repeat("a", 50), strings.Repeat("a", 40)},
	}
	for _, tc := range tests {
		if got := sanitize(tc.in); got != tc.want {
			t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// recorder is a testing.TB that records Skip and Fatalf instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skip(args ...any)                  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

// TestNeedWithoutPostgres: without the server binaries a test is skipped
// saying what to install, and fails instead under CI=true.
func TestNeedWithoutPostgres(t *testing.T) {
	defer func(old string) { initdbs = old }(initdbs)
	initdbs = filepath.Join(t.TempDir(), "*", "bin", "initdb")
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		Need(r)
		got, other := r.skipped, r.failed
		if ci == "true" {
			got, other = r.failed, r.skipped
		}
		if !strings.Contains(got, "install postgresql (apt-get install -y postgresql)") || other != "" {
			t.Errorf("CI=%q: skipped %q, failed %q; want only the %s", ci, r.skipped, r.failed, map[string]string{"": "skip", "true": "failure"}[ci])
		}
	}
}

func TestBinPicksNewest(t *testing.T) {
	defer func(old string) { initdbs = old }(initdbs)
	root := t.TempDir()
	for _, v := range []string{"9", "15", "13"} {
		if err := os.MkdirAll(filepath.Join(root, v, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, v, "bin", "initdb"), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	initdbs = filepath.Join(root, "*", "bin", "initdb")
	if bin, err := Bin(); err != nil || bin != filepath.Join(root, "15", "bin") {
		t.Errorf("Bin() = %q, %v; want version 15's", bin, err)
	}
}
