package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
	"github.com/dayops/dayops/config"
)

// slackManifest is a Slack app manifest (api.slack.com/reference/manifests),
// with the fields dayops sets, in the order Slack shows them.
type slackManifest struct {
	Metadata    manifestMetadata `yaml:"_metadata" json:"_metadata"`
	Display     manifestDisplay  `yaml:"display_information" json:"display_information"`
	Features    manifestFeatures `yaml:"features" json:"features"`
	OAuthConfig manifestOAuth    `yaml:"oauth_config" json:"oauth_config"`
	Settings    manifestSettings `yaml:"settings" json:"settings"`
}

type manifestMetadata struct {
	MajorVersion int `yaml:"major_version" json:"major_version"`
	MinorVersion int `yaml:"minor_version" json:"minor_version"`
}

type manifestDisplay struct {
	Name            string `yaml:"name" json:"name"`
	Description     string `yaml:"description" json:"description"`
	BackgroundColor string `yaml:"background_color" json:"background_color"`
}

type manifestFeatures struct {
	BotUser       manifestBotUser        `yaml:"bot_user" json:"bot_user"`
	SlashCommands []manifestSlashCommand `yaml:"slash_commands" json:"slash_commands"`
}

type manifestBotUser struct {
	DisplayName  string `yaml:"display_name" json:"display_name"`
	AlwaysOnline bool   `yaml:"always_online" json:"always_online"`
}

type manifestSlashCommand struct {
	Command      string `yaml:"command" json:"command"`
	URL          string `yaml:"url,omitempty" json:"url,omitempty"`
	Description  string `yaml:"description" json:"description"`
	UsageHint    string `yaml:"usage_hint" json:"usage_hint"`
	ShouldEscape bool   `yaml:"should_escape" json:"should_escape"`
}

type manifestOAuth struct {
	Scopes struct {
		Bot []string `yaml:"bot" json:"bot"`
	} `yaml:"scopes" json:"scopes"`
}

type manifestSettings struct {
	EventSubscriptions   manifestEvents        `yaml:"event_subscriptions" json:"event_subscriptions"`
	Interactivity        manifestInteractivity `yaml:"interactivity" json:"interactivity"`
	OrgDeployEnabled     bool                  `yaml:"org_deploy_enabled" json:"org_deploy_enabled"`
	SocketModeEnabled    bool                  `yaml:"socket_mode_enabled" json:"socket_mode_enabled"`
	TokenRotationEnabled bool                  `yaml:"token_rotation_enabled" json:"token_rotation_enabled"`
}

type manifestEvents struct {
	RequestURL string   `yaml:"request_url,omitempty" json:"request_url,omitempty"`
	BotEvents  []string `yaml:"bot_events" json:"bot_events"`
}

type manifestInteractivity struct {
	IsEnabled  bool   `yaml:"is_enabled" json:"is_enabled"`
	RequestURL string `yaml:"request_url,omitempty" json:"request_url,omitempty"`
}

// slackScopes are the bot scopes dayops needs: slash commands, posting and
// updating in any public channel, reading mentions and incident channels
// (joining a new public one),
// resolving user groups and users for roles, and uploading long output.
var slackScopes = []string{
	"commands", "chat:write", "chat:write.public", "app_mentions:read", "channels:read", "channels:join",
	"channels:history", "groups:read", "usergroups:read", "files:write", "users:read",
}

// slackEvents are the events dayops subscribes to: mentions, messages in
// incident channels, and channels created, renamed or joined (incident
// channels announce themselves that way).
var slackEvents = []string{"app_mention", "message.channels", "channel_created", "channel_rename", "member_joined_channel"}

// buildManifest is the app manifest for cfg: in HTTP mode Slack is given
// the request URLs under base_url; in Socket Mode none, and
// socket_mode_enabled.
func buildManifest(cfg *config.Config) (slackManifest, error) {
	m := slackManifest{
		Metadata: manifestMetadata{MajorVersion: 1, MinorVersion: 1},
		Display: manifestDisplay{Name: "dayops", BackgroundColor: "#1f3a5f",
			Description: "Day-0, Day-1 and Day-2 operations from the ops repo, run from chat"},
		Features: manifestFeatures{
			BotUser: manifestBotUser{DisplayName: "dayops", AlwaysOnline: true},
			SlashCommands: []manifestSlashCommand{{
				Command:     cfg.Slack.Command,
				Description: "Run, deploy, approve and follow operations from the ops repo",
				UsageHint:   usageHint(),
			}},
		},
		Settings: manifestSettings{
			EventSubscriptions: manifestEvents{BotEvents: slackEvents},
			Interactivity:      manifestInteractivity{IsEnabled: true},
		},
	}
	m.OAuthConfig.Scopes.Bot = slackScopes
	switch cfg.Slack.Mode {
	case config.SlackHTTP:
		if cfg.BaseURL == "" {
			return m, dayops.Errorf(dayops.KindInvalid, "base_url is not set: HTTP mode needs it for Slack's request URLs; set base_url or DAYOPS_BASE_URL")
		}
		m.Features.SlashCommands[0].URL = cfg.BaseURL + "/slack/commands"
		m.Settings.EventSubscriptions.RequestURL = cfg.BaseURL + "/slack/events"
		m.Settings.Interactivity.RequestURL = cfg.BaseURL + "/slack/interactions"
	default:
		m.Settings.SocketModeEnabled = true
	}
	return m, nil
}

// usageHint is the slash command's hint, from the grammar: its most used
// forms, within Slack's limit.
func usageHint() string {
	var forms []string
	for _, v := range []commands.Verb{commands.VerbDeploy, commands.VerbRun, commands.VerbStatus} {
		forms = append(forms, commands.Usage(v))
	}
	return strings.Join(append(forms, string(commands.VerbHelp)), " | ")
}

func runSlackManifest(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("slack-manifest")
	fs := newFlags(v.name)
	path := fs.String("config", "", "server configuration `file`: its slack.mode, slack.command and base_url (default: Socket Mode, the default command)")
	format := fs.String("format", "yaml", "output format: yaml or json (Slack accepts either)")
	if _, code, ok := parseArgs(io, v, fs, args, 0, 0); !ok {
		return code
	}
	if *format != "yaml" && *format != "json" {
		fmt.Fprintf(io.Stderr, "dayops slack-manifest: --format %q is not one of yaml, json\n", *format)
		return exitUsage
	}
	cfg := &config.Config{Slack: config.Slack{Mode: config.SlackSocket, Command: commands.DefaultPrefix}}
	if *path != "" {
		var err error
		if cfg, err = config.LoadSettings(*path, io.Getenv); err != nil {
			fmt.Fprintf(io.Stderr, "dayops slack-manifest: %s\n", dayops.UserMessage(err, ""))
			return exitUsage
		}
	}
	m, err := buildManifest(cfg)
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops slack-manifest: %s\n", dayops.UserMessage(err, ""))
		return exitUsage
	}
	var out bytes.Buffer
	if *format == "json" {
		enc := json.NewEncoder(&out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(m)
	} else {
		enc := yaml.NewEncoder(&out)
		enc.SetIndent(2)
		err = enc.Encode(m)
	}
	if err != nil {
		fmt.Fprintf(io.Stderr, "dayops slack-manifest: %v\n", err)
		return exitFail
	}
	io.Stdout.Write(out.Bytes())
	return exitOK
}
