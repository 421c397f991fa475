package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/commands"
)

// The HTTP intake. Every handler checks the signature on the raw body,
// decodes, answers Slack at once (Slack gives up after 3 s and retries), and
// leaves the work to a goroutine on the door's own context: a request's
// context ends with its answer.

// The sources of deliveries in Deliveries.
const (
	sourceCommand = "slack-command"
	sourceEvent   = "slack-event"
	sourceClick   = "slack-click"
)

// Paths are where Routes serves the intake (SPEC §3).
const (
	PathCommands     = "/slack/commands"
	PathEvents       = "/slack/events"
	PathInteractions = "/slack/interactions"
)

// Routes registers the three intake handlers on mux.
func (d *Door) Routes(mux *http.ServeMux) {
	mux.Handle(PathCommands, d.Commands())
	mux.Handle(PathEvents, d.Events())
	mux.Handle(PathInteractions, d.Interactions())
}

// slashCommand is the part of a slash command request dayops uses.
type slashCommand struct {
	Command     string
	Text        string
	UserID      string
	UserName    string
	ChannelID   string
	ChannelName string
	TriggerID   string
	ResponseURL string
}

// decodeCommand decodes a slash command's form body.
func decodeCommand(body []byte) (slashCommand, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return slashCommand{}, fmt.Errorf("malformed form body: %v", err)
	}
	c := slashCommand{
		Command: v.Get("command"), Text: v.Get("text"),
		UserID: v.Get("user_id"), UserName: v.Get("user_name"),
		ChannelID: v.Get("channel_id"), ChannelName: v.Get("channel_name"),
		TriggerID: v.Get("trigger_id"), ResponseURL: v.Get("response_url"),
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"command", c.Command}, {"user_id", c.UserID}, {"channel_id", c.ChannelID}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return slashCommand{}, fmt.Errorf("slash command form without %s", strings.Join(missing, ", "))
	}
	return c, nil
}

// ephemeralAnswer is the JSON answer to a slash command that only the
// person who typed it sees.
type ephemeralAnswer struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// Commands is the handler of /slack/commands.
func (d *Door) Commands() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := d.readSigned(w, r)
		if !ok {
			return
		}
		c, err := decodeCommand(body)
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		if len(c.Text) > commands.MaxInputBytes {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(tooLong(len(c.Text)))
			return
		}
		if !d.goWork(func(ctx context.Context) { d.command(ctx, c) }) {
			unavailable(w)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// opensRun says whether a command's answer is a run message: those get a
// root message in the channel to be threaded under; every other answer is
// ephemeral to the asker (see Post) and needs no thread.
func opensRun(res commands.Result) bool {
	if res.Command == nil {
		return false
	}
	switch res.Command.Verb {
	case commands.VerbRun, commands.VerbDeploy, commands.VerbRollback:
		return true
	}
	return false
}

// command does the work of a slash command: a root message in the channel
// for a command that starts a run, whose thread is then the run's, and the
// submission.
func (d *Door) command(ctx context.Context, c slashCommand) {
	if c.TriggerID != "" && !d.firstDelivery(ctx, sourceCommand, c.TriggerID) {
		return
	}
	text := unescape(c.Text)
	th := dayops.Thread{Door: DoorName, Channel: c.ChannelID, Name: c.ChannelName}
	if c.TriggerID != "" && d.bot.WantsForm(text) {
		// A form, opened at once while the trigger is good; its submission
		// gets the root message (modal.go).
		ctx = d.openLoading(ctx, c.TriggerID)
	} else if opensRun(commands.Grammar{Prefix: d.prefix}.Parse(text)) {
		quoted := d.redactor.Redact(strings.ReplaceAll(text, "`", "'"))
		root := fmt.Sprintf("<@%s> asked: `%s %s`", c.UserID, escape(c.Command), escape(quoted))
		_, ts, err := d.api.PostMessageContext(ctx, c.ChannelID, slack.MsgOptionText(cut(root, maxSection), false), slack.MsgOptionDisableLinkUnfurl())
		if err != nil {
			d.log.Warn("posting the root message of a slash command", "channel", c.ChannelID, "err", apiError(err))
			var refused slack.SlackErrorResponse
			if errors.As(err, &refused) {
				// Slack refuses dayops this channel: a run here could never
				// be reported, so none is started, and the asker is told.
				text := fmt.Sprintf("dayops cannot post in this channel (Slack says %s): invite it with /invite <@%s> and try again. Nothing was started.", refused.Err, d.botUserID)
				if err := d.respond(ctx, c.ResponseURL, nil, text); err != nil {
					d.log.Warn("answering through the response_url", "channel", c.ChannelID, "err", err)
				}
				return
			}
		}
		th.ID = ts // "" when Slack is down: the run is then reported in the channel once it is back
	}
	d.bot.Submit(withAsker(ctx, c.UserID, c.ResponseURL), bot.Submission{
		Actor:   d.actor(ctx, c.UserID, c.UserName),
		Thread:  th,
		Trigger: dayops.TriggerChat,
		Text:    text,
	})
}

// eventEnvelope is an Events API request: a url_verification or an
// event_callback.
type eventEnvelope struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
}

// innerEvent is the part of an event dayops reads.
type innerEvent struct {
	Type     string `json:"type"`
	SubType  string `json:"subtype"`
	User     string `json:"user"`
	BotID    string `json:"bot_id"`
	Text     string `json:"text"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
	Channel  string `json:"channel"` // an ID; of channel_created and channel_rename, the object's id
	// Raw is the whole event, for the events channels.go reads more of.
	Raw json.RawMessage `json:"-"`
}

// decodeEvent decodes an Events API body.
func decodeEvent(body []byte) (eventEnvelope, innerEvent, error) {
	var env eventEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return env, innerEvent{}, fmt.Errorf("body is not an Events API JSON object: %v", err)
	}
	var in innerEvent
	switch env.Type {
	case "url_verification":
		if env.Challenge == "" {
			return env, in, fmt.Errorf("url_verification without a challenge")
		}
	case "event_callback":
		if env.EventID == "" {
			return env, in, fmt.Errorf("event_callback without an event_id")
		}
		if err := json.Unmarshal(env.Event, &in); err != nil {
			return env, in, fmt.Errorf("event_callback whose event is not a JSON object: %v", err)
		}
	case "":
		return env, in, fmt.Errorf("Events API body without a type")
	}
	return env, in, nil
}

// Events is the handler of /slack/events.
func (d *Door) Events() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := d.readSigned(w, r)
		if !ok {
			return
		}
		env, in, err := decodeEvent(body)
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		switch env.Type {
		case "url_verification":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"challenge": env.Challenge})
			return
		case "event_callback":
			retry := r.Header.Get("X-Slack-Retry-Num")
			if !d.goWork(func(ctx context.Context) { d.event(ctx, env.EventID, retry, in) }) {
				unavailable(w) // Slack retries it: the next start takes it
				return
			}
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusOK) // app_rate_limited and future types: nothing to do
			d.log.Info("slack request of a type dayops does not handle", "type", env.Type)
		}
	})
}

// event handles one event_callback once, whatever the retries.
func (d *Door) event(ctx context.Context, eventID, retry string, in innerEvent) {
	if in.Type != "app_mention" {
		d.channelEvent(ctx, eventID, in) // incident channels (channels.go)
		return
	}
	// Bots (dayops included) never trigger anything: no loops between bots.
	if in.BotID != "" || in.User == "" || in.User == d.botUserID || in.SubType != "" {
		return
	}
	if !d.firstDelivery(ctx, sourceEvent, eventID, "retry", retry) {
		return
	}
	text, ok := commands.StripPrefix(unescape(in.Text), "<@"+d.botUserID+">")
	if !ok {
		return // the mention is not where a command starts: a conversation, not a command
	}
	th := dayops.Thread{Door: DoorName, Channel: in.Channel, Name: d.channelName(ctx, in.Channel), ID: in.ThreadTS}
	if th.ID == "" {
		th.ID = in.TS
	}
	d.bot.Submit(withAsker(ctx, in.User, ""), bot.Submission{
		Actor: d.actor(ctx, in.User, ""), Thread: th, Trigger: dayops.TriggerChat, Text: text,
	})
}

// channelNameTTL is how long a channel's name is taken as known: a renamed
// channel gets its channel rules within it.
const channelNameTTL = 10 * time.Minute

// channelName is a channel's name as asked of Slack at a time.
type channelName struct {
	name string
	at   time.Time
}

// channelName is the name of a channel, for channel rules: events carry only
// its ID. It is asked of Slack at most once per channelNameTTL; "" when
// Slack does not say.
func (d *Door) channelName(ctx context.Context, id string) string {
	d.mu.Lock()
	known, ok := d.channels[id]
	d.mu.Unlock()
	if ok && d.now().Sub(known.at) < channelNameTTL {
		return known.name
	}
	ch, err := d.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: id})
	if err != nil {
		d.log.Warn("asking slack for a channel's name", "channel", id, "err", apiError(err))
		return ""
	}
	d.mu.Lock()
	d.channels[id] = channelName{name: ch.Name, at: d.now()}
	d.mu.Unlock()
	return ch.Name
}

// decodeInteraction decodes an interaction's form body: a payload field
// holding JSON.
func decodeInteraction(body []byte) (slack.InteractionCallback, error) {
	var cb slack.InteractionCallback
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return cb, fmt.Errorf("malformed form body: %v", err)
	}
	p := v.Get("payload")
	if p == "" {
		return cb, fmt.Errorf("interaction form without a payload field")
	}
	if err := json.Unmarshal([]byte(p), &cb); err != nil {
		return cb, fmt.Errorf("interaction payload is not JSON: %v", err)
	}
	if cb.Type == "" {
		return cb, fmt.Errorf("interaction payload without a type")
	}
	return cb, nil
}

// Interactions is the handler of /slack/interactions.
func (d *Door) Interactions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := d.readSigned(w, r)
		if !ok {
			return
		}
		cb, err := decodeInteraction(body)
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		if cb.Type == slack.InteractionTypeViewSubmission {
			d.answerViewSubmission(w, cb)
			return
		}
		if cb.Type != slack.InteractionTypeBlockActions {
			w.WriteHeader(http.StatusOK)
			d.log.Info("slack interaction of a type dayops does not handle", "type", cb.Type)
			return
		}
		if cb.User.ID == "" || len(cb.ActionCallback.BlockActions) == 0 {
			badRequest(w, "block_actions payload without a user or an action")
			return
		}
		if !d.goWork(func(ctx context.Context) { d.click(ctx, cb) }) {
			unavailable(w)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// click handles a button press once: each payload of a click is one
// delivery (its trigger_id), so a redelivered payload does nothing.
func (d *Door) click(ctx context.Context, cb slack.InteractionCallback) {
	a := cb.ActionCallback.BlockActions[0]
	key := cb.TriggerID
	if key == "" {
		key = cb.User.ID + "/" + a.ActionID + "/" + a.ActionTs
	}
	if !d.firstDelivery(ctx, sourceClick, key) {
		return
	}
	th := dayops.Thread{Door: DoorName, Channel: cb.Channel.ID, Name: cb.Channel.Name}
	if th.Channel == "" {
		th.Channel = cb.Container.ChannelID
	}
	switch {
	case cb.Message.ThreadTimestamp != "":
		th.ID = cb.Message.ThreadTimestamp
	case cb.Container.ThreadTs != "":
		th.ID = cb.Container.ThreadTs
	case cb.Message.Timestamp != "":
		th.ID = cb.Message.Timestamp
	default:
		th.ID = cb.Container.MessageTs
	}
	if th.Name == "" && th.Channel != "" {
		th.Name = d.channelName(ctx, th.Channel)
	}
	name := cb.User.Name
	if name == "" {
		name = cb.User.Username
	}
	action := actionOf(a.ActionID)
	if action == "" {
		// HandleClick answers the clicker that dayops does not know the
		// button, and does nothing else.
		action = a.ActionID
	}
	switch action {
	case bot.ActionRun: // a form follows: opened at once while the trigger is good
		ctx = d.openLoading(ctx, cb.TriggerID)
	case bot.ActionRetry: // a form follows if the definition now wants more
		ctx, _ = withModal(ctx, cb.TriggerID)
	}
	d.bot.HandleClick(withAsker(ctx, cb.User.ID, cb.ResponseURL), bot.Click{
		Actor: d.actor(ctx, cb.User.ID, name), Thread: th, Action: action, Value: a.Value,
	})
}

// respond answers the asker through a response_url, ephemerally. Only
// Slack's hooks (or the configured API host, for tests and proxies) are
// called: the URL comes from a request, signed, but never a door to
// anywhere else.
func (d *Door) respond(ctx context.Context, responseURL string, blocks []slack.Block, text string) error {
	u, err := url.Parse(responseURL)
	if err != nil || responseURL == "" {
		return fmt.Errorf("no usable response_url %q", responseURL)
	}
	if !(u.Scheme == "https" && u.Host == "hooks.slack.com") && (d.apiHost == "" || u.Host != d.apiHost) {
		return fmt.Errorf("response_url %s is not Slack's", u.Host)
	}
	answer := map[string]any{"response_type": "ephemeral", "replace_original": false, "text": text}
	if len(blocks) > 0 {
		answer["blocks"] = blocks
	}
	body, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("response_url answered %s", resp.Status)
	}
	return nil
}
