// Package commands is the chat grammar of dayops: it turns the text a person
// types after the slash command, after a mention of the bot, in the demo terminal or in a
// pull request comment into a Command, or into a Reply that says what was
// wrong and how to fix it.
//
// One table of commands drives Parse, Help and Usage, so the help text can
// never disagree with what the parser accepts. The package is pure: it does
// no I/O, knows nothing about definitions, roles or runs, and never decides
// whether a command is allowed. A parsed Command is only well formed; the
// bot checks that its names exist and that the actor may do it.
//
// Words are separated by white space. Quotes group words: "two words",
// 'two words', and the typographic quotes “…” and ‘…’ that Slack clients
// substitute as people type. A backslash escapes the next character in a
// bare word, and a quote or backslash inside double quotes. Nothing else is
// special: there is no variable expansion and no globbing, so user text never
// means more than it says. A word of the form key=value, where key matches
// [A-Za-z_][A-Za-z0-9_-]*, sets a parameter for the verbs that take them.
//
// Replies are plain text. They quote at most about 80 characters of what the
// user typed and drop control and formatting characters from it, but they
// are not escaped for any markup: a door that renders them as Slack mrkdwn or
// GitHub Markdown escapes them as it does every other text. Likewise a door
// undoes its platform's own encoding (Slack sends &lt; for <) before Parse.
package commands
