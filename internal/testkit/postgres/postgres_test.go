package postgres

import (
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
