package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestPrintingShowsNoSecret prints the example configuration, with every
// secret set, every way a program might: fmt verbs on the value and the
// pointer, JSON, YAML and slog. None may show a secret's value.
func TestPrintingShowsNoSecret(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "dayops.yaml"), env(testSecrets))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.BotToken.Value() != testSecrets["DAYOPS_SLACK_BOT_TOKEN"] {
		t.Fatalf("the bot token did not load: the test would prove nothing")
	}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, *cfg), fmt.Sprintf(verb, cfg.Slack), fmt.Sprintf(verb, cfg.Slack.BotToken))
	}
	outs = append(outs, cfg.String(), fmt.Sprint(cfg.Targets), fmt.Sprint(cfg.Repo))
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(y))
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("config", "config", cfg, "slack", cfg.Slack, "token", cfg.Slack.BotToken)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", *cfg, "token", cfg.Repo.Token)
	outs = append(outs, logged.String())

	for i, out := range outs {
		for name, secret := range testSecrets {
			for _, form := range []string{secret, strings.TrimSpace(secret), fmt.Sprintf("%x", secret), strings.TrimPrefix(strings.TrimSpace(secret), "-----BEGIN OPENSSH PRIVATE KEY-----\n")} {
				if strings.Contains(out, form) {
					t.Errorf("printing %d shows %s:\n%s", i, name, out)
				}
			}
		}
	}
	if !strings.Contains(cfg.String(), "bot token [set]") {
		t.Errorf("String() = %q, want it to say the bot token is set", cfg.String())
	}
}

func TestSecret(t *testing.T) {
	var unset Secret
	if got := fmt.Sprint(unset, NewSecret("x-value")); got != "[unset] [set]" {
		t.Errorf("Sprint = %q", got)
	}
	if NewSecret("x-value").Value() != "x-value" {
		t.Error("Value does not return the value")
	}
}
