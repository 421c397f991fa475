package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestPostgresDatabase: a PostgreSQL URL is accepted from the file (without
// a password) and from the environment (with one, kept as a secret that no
// printing shows and DatabaseURL puts back).
func TestPostgresDatabase(t *testing.T) {
	tests := []struct {
		name, file, env   string
		database, open    string
		password, summary string
	}{
		{"file", "database: postgres://dayops@db:5432/dayops?sslmode=require\n", "",
			"postgres://dayops@db:5432/dayops?sslmode=require", "postgres://dayops@db:5432/dayops?sslmode=require", "",
			"database postgres://dayops@db:5432/dayops?sslmode=require;"},
		{"environment with a password", "database: other.db\n", "postgresql://dayops:hunter2@db/dayops?sslmode=disable",
			"postgresql://dayops@db/dayops?sslmode=disable", "postgresql://dayops:hunter2@db/dayops?sslmode=disable", "hunter2",
			"database postgresql://dayops@db/dayops?sslmode=disable (password [set]);"},
		{"password parameter", "", "postgres://db/dayops?password=hunter2&sslmode=disable",
			"postgres://db/dayops?sslmode=disable", "postgres://:hunter2@db/dayops?sslmode=disable", "hunter2",
			"database postgres://db/dayops?sslmode=disable (password [set]);"},
		{"sqlite from the environment", "", "/var/lib/dayops/dayops.db",
			"/var/lib/dayops/dayops.db", "/var/lib/dayops/dayops.db", "", "database /var/lib/dayops/dayops.db;"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := parse([]byte(tc.file), env(map[string]string{"DAYOPS_REPO_URL": "/srv/ops", "DAYOPS_DATABASE": tc.env}), true)
			if len(problems) > 0 {
				t.Fatalf("problems: %v", problems)
			}
			if cfg.Database != tc.database || cfg.DatabaseURL() != tc.open || cfg.DatabasePassword.Value() != tc.password {
				t.Errorf("Database %q, DatabaseURL %q, password %q; want %q, %q, %q",
					cfg.Database, cfg.DatabaseURL(), cfg.DatabasePassword.Value(), tc.database, tc.open, tc.password)
			}
			if !strings.Contains(cfg.String(), tc.summary) {
				t.Errorf("String() = %q, want it to contain %q", cfg.String(), tc.summary)
			}
			for i, out := range printings(t, cfg) {
				if strings.Contains(out, "hunter2") {
					t.Errorf("printing %d shows the database password:\n%s", i, out)
				}
			}
		})
	}
}

// printings are cfg printed every way a program might.
func printings(t *testing.T, cfg *Config) []string {
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, *cfg))
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", *cfg)
	return append(outs, cfg.String(), string(j), logged.String())
}

func TestSetDatabase(t *testing.T) {
	var cfg Config
	if err := cfg.SetDatabase("postgres://u:hunter2@db/d"); err != nil {
		t.Fatal(err)
	}
	if cfg.Database != "postgres://u@db/d" || cfg.DatabaseURL() != "postgres://u:hunter2@db/d" {
		t.Errorf("Database %q, DatabaseURL %q", cfg.Database, cfg.DatabaseURL())
	}
	if err := cfg.SetDatabase("local.db"); err != nil || cfg.DatabaseURL() != "local.db" || cfg.DatabasePassword.IsSet() {
		t.Errorf("SetDatabase(local.db) = %v: Database %q, password set %v", err, cfg.Database, cfg.DatabasePassword.IsSet())
	}
	err := cfg.SetDatabase("postgres://u:hunter2@db:x/d")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "is not a PostgreSQL URL") {
		t.Errorf("SetDatabase of a malformed URL = %v", err)
	}
}
