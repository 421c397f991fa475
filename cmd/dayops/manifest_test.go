package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops/commands"
	"github.com/dayops/dayops/config"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// golden compares got with testdata/name; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-golden +got); if the change is right, run go test -run %s -update:\n%s", path, t.Name(), diff)
	}
}

func TestSlackManifest(t *testing.T) {
	dir := t.TempDir()
	httpConfig := filepath.Join(dir, "http.yaml")
	if err := os.WriteFile(httpConfig, []byte("base_url: https://dayops.example.com/\nrepo: {url: /srv/ops}\nslack: {mode: http, command: /acme-ops}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	socketConfig := filepath.Join(dir, "socket.yaml")
	if err := os.WriteFile(socketConfig, []byte("repo: {url: /srv/ops}\nslack: {mode: socket}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"socket mode by default", []string{"slack-manifest"}, "manifest-socket.yaml"},
		{"socket mode from the configuration", []string{"slack-manifest", "--config", socketConfig}, "manifest-socket.yaml"},
		{"http mode", []string{"slack-manifest", "--config", httpConfig}, "manifest-http.yaml"},
		{"http mode as JSON", []string{"slack-manifest", "--config", httpConfig, "--format", "json"}, "manifest-http.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := cli(t, "", tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, tt.golden, out)
		})
	}
}

func TestSlackManifestRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	noBase := filepath.Join(dir, "nobase.yaml")
	if err := os.WriteFile(noBase, []byte("repo: {url: /srv/ops}\nslack: {mode: http}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"http mode without base_url", []string{"slack-manifest", "--config", noBase}, "base_url: is missing: slack.mode http needs it"},
		{"a missing file", []string{"slack-manifest", "--config", filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"a bad format", []string{"slack-manifest", "--format", "xml"}, `--format "xml" is not one of yaml, json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := cli(t, "", tt.args...)
			if code != exitUsage || out != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, stderr, tt.want)
			}
		})
	}
}

// TestDefaultCommand: config may not import commands, so it spells the
// default slash command itself; it must be the grammar's.
func TestDefaultCommand(t *testing.T) {
	if config.DefaultPrefix != commands.DefaultPrefix {
		t.Errorf("config.DefaultPrefix = %q, commands.DefaultPrefix = %q: slack.command's default must be the grammar's prefix", config.DefaultPrefix, commands.DefaultPrefix)
	}
}
