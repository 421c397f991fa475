package slack

import (
	"bytes"
	"context"

	"github.com/slack-go/slack"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// upload posts a message that carries a file (bot.Message.File: a run's
// whole output) with Slack's v2 upload API: files.getUploadURLExternal,
// the bytes posted to the URL it answers, then files.completeUploadExternal
// sharing the file into the thread with the message's text as its comment.
// It returns the file's ID.
func (d *Door) upload(ctx context.Context, t dayops.Thread, m bot.Message) (string, error) {
	f := m.File
	if len(f.Content) == 0 {
		// Slack refuses an empty file: the text alone says there is none.
		m.File = nil
		m.Text += "\n(the file is empty)"
		return d.Post(ctx, t, m)
	}
	comment := escape(m.Text)
	sum, err := d.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader:          bytes.NewReader(f.Content),
		FileSize:        len(f.Content),
		Filename:        f.Name,
		Title:           f.Name,
		SnippetType:     "text",
		InitialComment:  cut(comment, maxSection),
		Channel:         t.Channel,
		ThreadTimestamp: t.ID,
	})
	if err != nil {
		err = d.callError("files.upload", t, err) // logged there, with Slack's reason
		// The text still reaches the thread, and says where the file is to
		// be read; Slack's own error is not posted back to Slack.
		m.File = nil
		m.Text += "\nThe file could not be uploaded to Slack: read it with `" + f.Elsewhere + "`."
		if ts, perr := d.Post(ctx, t, m); perr == nil {
			return ts, nil
		}
		return "", err
	}
	return sum.ID, nil
}
