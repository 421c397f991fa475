package slack

import (
	"context"

	"github.com/slack-go/slack"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// Permalink is the link to a message (chat.getPermalink) that people open
// from elsewhere: a pull request's comment links the run's thread in Slack.
// The bot asks it once per message and keeps it (bot.Permalinker).
func (d *Door) Permalink(ctx context.Context, t dayops.Thread, messageID string) (string, error) {
	if t.Channel == "" || messageID == "" {
		return "", dayops.Errorf(dayops.KindInvalid, "slack door: the link of message %q in thread %s needs a channel and a ts", messageID, t)
	}
	link, err := d.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: t.Channel, Ts: messageID})
	if err != nil {
		return "", d.callError("chat.getPermalink", t, err)
	}
	return link, nil
}

var _ bot.Permalinker = (*Door)(nil)
