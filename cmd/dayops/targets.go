package main

import (
	"fmt"
	"maps"
	"path/filepath"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/config"
	"github.com/dayops/dayops/executor"
)

// executorTargets hands the configuration's SSH targets to the executor.
func executorTargets(cfg *config.Config) *executor.Targets {
	if cfg == nil || len(cfg.Targets) == 0 {
		return nil
	}
	t := &executor.Targets{Hosts: map[string]executor.Target{}, Groups: maps.Clone(cfg.TargetGroups), KnownHosts: cfg.KnownHosts}
	for name, c := range cfg.Targets {
		t.Hosts[name] = executor.Target{Host: c.Host, Port: c.Port, User: c.User, Key: []byte(c.Key.Value()), KeyEnv: c.KeyEnv,
			Environments: c.Environments, TrustOnFirstUse: c.TrustOnFirstUse}
	}
	return t
}

// cliConfig reads the server configuration for `dayops run` and `dayops
// plan --config FILE`: its targets, keys, variables and steps.run_as. The
// terminal needs no Slack or GitHub credentials, and the definitions come
// from --dir, so repo.url may be left out. No path: no configuration.
func cliConfig(io IO, verb, path, dir string) (*config.Config, bool) {
	if path == "" {
		return nil, true
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	getenv := func(k string) string {
		if v := io.Getenv(k); v != "" || k != "DAYOPS_REPO_URL" {
			return v
		}
		return abs // the folder stands in for the ops repo
	}
	cfg, err := config.LoadSettings(path, getenv)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops %s: %s\n", verb, dayops.UserMessage(err, ""))
		return nil, false
	}
	return cfg, true
}

// cliVars are the configuration's vars with DAYOPS_VAR_<NAME> over them.
func cliVars(cfg *config.Config) map[string]string {
	vars := map[string]string{}
	if cfg != nil {
		maps.Copy(vars, cfg.Vars)
	}
	maps.Copy(vars, envWithPrefix("DAYOPS_VAR_"))
	return vars
}
