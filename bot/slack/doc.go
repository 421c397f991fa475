// Package slack is the Slack door of dayops: the HTTP intake of slash
// commands, Events API deliveries and interactions (every request signed and
// answered at once, the work then done on the door's own context), Block Kit
// rendering of bot.Message, and delivery of messages through the Web API
// with Slack's rate limits honoured.
//
// Wiring, in dayops serve:
//
//	door, err := slack.New(ctx, slack.Options{Bot: b, BotToken: botToken,
//		SigningSecret: secret, APIURL: apiURL, Deliveries: store, Redactor: r, Logger: log})
//	door.Routes(mux)                        // HTTP mode: /slack/commands, /slack/events, /slack/interactions
//	go door.RunSocketMode(ctx, appToken)    // or Socket Mode
//	...
//	door.Close(ctx)                         // before b.Close()
//
// It only translates: what a request may do is decided by the bot, which it
// reaches through bot.Submit and bot.HandleClick. It is the only package of
// dayops that imports slack-go.
package slack
