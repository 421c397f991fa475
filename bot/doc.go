// Package bot is the conversation pipeline of dayops, shared by every door.
//
// A door (Slack, GitHub, the demo terminal) only translates: it turns what a
// person typed or clicked into a Request or a Click, hands it to Bot.Handle or
// Bot.HandleClick, and renders the Messages the bot posts back through the
// Door interface. Everything else happens here, the same way for every door:
//
//	parse (commands) → authorise (dayops.Policy) → audit (every decision)
//	  → plan or start (Engine) → reply in the thread of the request
//
// Runs report progress later, through Notify (the executor's Notifier). The
// bot keeps one small tracker per run: the latest state of the run, where
// its message lives, and replies still to post. A per-run goroutine drains it
// and updates the run's message in place, coalescing to the newest state and
// pacing updates per door, so Notify never waits for a door.
//
// What else the bot says in a conversation (a run's thread replies, notices,
// incident offers) goes through the outbox in the store (outbox.go): written
// first, then delivered in order per door and channel, with backoff while a
// door fails, and after a restart. Answers for the asker alone are posted at
// once and never wait.
//
// The bot declares the Engine, Store and Catalogs interfaces it needs; the
// executor, storage and gitsync packages satisfy them, and cmd/dayops wires
// them together. The bot never imports them.
package bot
