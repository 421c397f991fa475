// Package console is the terminal door of dayops, the chat of `dayops demo`.
//
// People type exactly what they would type in Slack (the slash command, then
// "deploy web staging version=v1.2.0"); the console hands each line to the bot as a
// Request from the current user, and prints what the bot posts as a thread of
// "bot ▸" lines. Buttons become numbered choices: a line that is just a
// number presses that button of the latest message that offered any.
// "/as NAME" switches user (actor "console:NAME"), so one person can play the
// requester and the approver; "/users" lists the users, "/quit" ends.
//
// A run's message is printed whole when posted; later updates print one line
// per change (a step that started or ended, a new state) and, when the run
// ends, the whole message again as its summary. With Interactive false
// (standard input is not a terminal) the output is plain text for scripts
// and tests: no ANSI codes, symbols spelled as words, typographic
// punctuation folded to ASCII, and each typed line echoed so the transcript
// reads as a conversation.
package console
