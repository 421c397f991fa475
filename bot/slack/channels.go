package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// Incident channels. The door only translates Slack's events into the bot's
// IncidentChannelOpened and IncidentMessage; which runbooks match, and
// whether one runs by itself, is the bot's decision.

// DefaultIncidentChannels is the pattern of incident channel names when
// Options.IncidentChannels is nil (slack.incident_channels' default).
const DefaultIncidentChannels = "^inc-"

// UnmarshalJSON decodes an event whose channel is an ID (messages,
// member_joined_channel) or an object (channel_created, channel_rename: its
// id), keeping the whole event in Raw.
func (e *innerEvent) UnmarshalJSON(b []byte) error {
	type plain innerEvent
	var v struct {
		plain
		Channel json.RawMessage `json:"channel"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = innerEvent(v.plain)
	e.Raw = append(json.RawMessage(nil), b...)
	switch c := bytes.TrimSpace(v.Channel); {
	case len(c) == 0 || string(c) == "null":
	case c[0] == '{':
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(c, &obj); err != nil {
			return fmt.Errorf("event channel: %v", err)
		}
		e.Channel = obj.ID
	default:
		if err := json.Unmarshal(c, &e.Channel); err != nil {
			return fmt.Errorf("event channel is neither an ID nor an object: %v", err)
		}
	}
	return nil
}

// channelEvent handles the events of incident channels: one created or
// renamed to an incident name, dayops invited into one, and messages said
// in one. Messages of bots and of dayops itself, edits, deletions and
// mentions of dayops (commands: event answers those) trigger nothing.
func (d *Door) channelEvent(ctx context.Context, eventID string, in innerEvent) {
	var name string
	switch in.Type {
	case "channel_created", "channel_rename":
		var ev struct {
			Channel struct {
				Name string `json:"name"`
			} `json:"channel"`
		}
		if err := json.Unmarshal(in.Raw, &ev); err != nil || in.Channel == "" {
			d.log.Warn("slack channel event without a channel", "type", in.Type, "event", eventID)
			return
		}
		name = ev.Channel.Name
		d.mu.Lock()
		d.channels[in.Channel] = channelName{name: name, at: d.now()}
		d.mu.Unlock()
	case "member_joined_channel":
		if in.User != d.botUserID || in.Channel == "" {
			return // someone else joined
		}
		name = d.channelName(ctx, in.Channel)
	case "message":
		if in.SubType != "" || in.BotID != "" || in.User == "" || in.User == d.botUserID || in.Channel == "" ||
			strings.Contains(in.Text, "<@"+d.botUserID+">") {
			return
		}
		name = d.channelName(ctx, in.Channel)
	default:
		return
	}
	if name == "" || !d.incidents.MatchString(name) {
		return
	}
	if !d.firstDelivery(ctx, sourceEvent, eventID) {
		return
	}
	th := dayops.Thread{Door: DoorName, Channel: in.Channel, Name: name}
	if in.Type == "message" {
		th.ID = in.ThreadTS
		if th.ID == "" {
			th.ID = in.TS
		}
		d.bot.IncidentMessage(ctx, th, unescape(in.Text))
		return
	}
	// Joining a new channel brings dayops's own member_joined_channel: the
	// runbooks are offered once per channel and name.
	if !d.firstDelivery(ctx, sourceIncidentOffer, in.Channel+"|"+name) {
		return
	}
	d.bot.IncidentChannelOpened(ctx, th, d.incidentChannel(ctx, in.Type, in.Channel, name))
}

// sourceIncidentOffer is the Deliveries source of the runbooks offered in a
// new incident channel.
const sourceIncidentOffer = "incident-offer"

// incidentChannel joins a new incident channel (a public one: dayops must be
// in it to hear its messages; a private one needs an invitation) and reads
// its topic and purpose.
func (d *Door) incidentChannel(ctx context.Context, eventType, id, name string) bot.IncidentChannel {
	ic := bot.IncidentChannel{Name: name}
	var ch *slack.Channel
	var err error
	if eventType == "member_joined_channel" {
		ch, err = d.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: id})
	} else {
		ch, _, _, err = d.api.JoinConversationContext(ctx, id)
	}
	if err != nil {
		d.log.Warn("reading an incident channel", "channel", id, "name", name, "event", eventType, "err", apiError(err))
		return ic
	}
	ic.Topic, ic.Purpose = ch.Topic.Value, ch.Purpose.Value
	return ic
}
