package slack

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/commands"
)

// Socket Mode: Slack sends the same requests as to the HTTP intake as
// envelopes over a WebSocket that dayops opens (no public URL needed). Each
// envelope is acknowledged at once, before any work, so Slack never
// redelivers one for slowness; the work then goes the same way as over HTTP,
// with the same de-duplication (event_id, trigger_id), so an envelope that
// Slack redelivers after a reconnect — or that reached both intakes — is
// handled once. slack-go's client reconnects by itself on `disconnect`
// (refresh_requested, warning) and on a dead connection; Slack redelivers
// whatever was not acknowledged on the old one.

// RunSocketMode receives requests over Socket Mode with the app-level token
// (xapp-…) until ctx ends, reconnecting as Slack asks. It returns ctx's
// error, or why it could not connect at all (a revoked or wrong token).
func (d *Door) RunSocketMode(ctx context.Context, appToken string) error {
	if !strings.HasPrefix(appToken, "xapp-") {
		return dayops.Errorf(dayops.KindInvalid, "slack socket mode needs an app-level token starting with xapp- in DAYOPS_SLACK_APP_TOKEN (create one under Basic Information → App-Level Tokens with the connections:write scope)")
	}
	api := slack.New(d.token, append(append([]slack.Option(nil), d.apiOpts...), slack.OptionAppLevelToken(appToken))...)
	client := socketmode.New(api, socketmode.OptionLog(slog.NewLogLogger(d.log.Handler(), slog.LevelDebug)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return dayops.Errorf(dayops.KindUnavailable, "slack socket mode stopped: %s; check DAYOPS_SLACK_APP_TOKEN", apiError(err))
		case evt := <-client.Events:
			d.envelope(ctx, client, evt)
		}
	}
}

// envelope handles one event of the Socket Mode client: a request from
// Slack is acknowledged and its work started; the rest is logged.
func (d *Door) envelope(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting, socketmode.EventTypeHello:
		d.log.Debug("slack socket mode", "event", string(evt.Type))
		return
	case socketmode.EventTypeConnected:
		d.log.Info("slack socket mode connected")
		return
	case socketmode.EventTypeDisconnect:
		d.log.Info("slack socket mode reconnecting at slack's request")
		return
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed,
		socketmode.EventTypeErrorBadMessage, socketmode.EventTypeInvalidAuth:
		d.log.Warn("slack socket mode trouble", "event", string(evt.Type), "data", d.redactor.Redact(stripQueries(fmt.Sprint(evt.Data))))
		return
	}
	req := evt.Request
	if req == nil || req.EnvelopeID == "" {
		d.log.Warn("slack socket mode event without an envelope", "event", string(evt.Type))
		return
	}
	var work func(ctx context.Context)
	var answer any // the acknowledgement's payload
	switch evt.Type {
	case socketmode.EventTypeEventsAPI:
		env, in, err := decodeEvent(req.Payload)
		if err != nil || env.Type != "event_callback" {
			d.log.Warn("slack socket mode event not handled", "envelope", req.EnvelopeID, "type", env.Type, "err", err)
			break
		}
		retry := ""
		if req.RetryAttempt > 0 {
			retry = strconv.Itoa(req.RetryAttempt)
		}
		work = func(ctx context.Context) { d.event(ctx, env.EventID, retry, in) }
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok || sc.UserID == "" || sc.ChannelID == "" {
			d.log.Warn("slack socket mode slash command without a user or a channel", "envelope", req.EnvelopeID)
			break
		}
		if len(sc.Text) > commands.MaxInputBytes {
			answer = tooLong(len(sc.Text))
			break
		}
		c := slashCommand{Command: sc.Command, Text: sc.Text, UserID: sc.UserID, UserName: sc.UserName,
			ChannelID: sc.ChannelID, ChannelName: sc.ChannelName, TriggerID: sc.TriggerID}
		work = func(ctx context.Context) { d.command(ctx, c) }
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if ok && cb.Type == slack.InteractionTypeViewSubmission {
			answer, work = d.viewSubmitted(cb)
			break
		}
		if !ok || cb.Type != slack.InteractionTypeBlockActions || cb.User.ID == "" || len(cb.ActionCallback.BlockActions) == 0 {
			d.log.Info("slack interaction of a type dayops does not handle", "envelope", req.EnvelopeID, "type", cb.Type)
			break
		}
		work = func(ctx context.Context) { d.click(ctx, cb) }
	default:
		d.log.Info("slack socket mode request of a type dayops does not handle", "envelope", req.EnvelopeID, "type", string(evt.Type))
	}
	// Work refused (Close was called) is not acknowledged: Slack delivers
	// it again, to another connection or the next start.
	if work != nil && !d.goWork(work) {
		return
	}
	if err := client.AckCtx(ctx, req.EnvelopeID, answer); err != nil {
		d.log.Warn("acknowledging a slack envelope", "envelope", req.EnvelopeID, "err", err)
	}
}

// tooLong is the ephemeral answer to a command over the length a command
// may have.
func tooLong(n int) ephemeralAnswer {
	return ephemeralAnswer{ResponseType: "ephemeral",
		Text: fmt.Sprintf("That command is %d characters long; dayops takes at most %d. Nothing was done.", n, commands.MaxInputBytes)}
}

// queries matches the query of a URL: Socket Mode URLs carry a ticket there.
var queries = regexp.MustCompile(`\?[^\s"]*`)

// stripQueries removes URL queries from a log text.
func stripQueries(s string) string { return queries.ReplaceAllString(s, "?…") }
