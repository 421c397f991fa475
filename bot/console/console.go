package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/commands"
)

// DoorName is the door name of the console, in threads and actor IDs.
const DoorName = "console"

// Channel is the one conversation of the terminal.
const Channel = "terminal"

// maxLine is the longest input line read; a longer one is dropped with an
// error (the parser refuses anything over commands.MaxInputBytes anyway).
const maxLine = 64 * 1024

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

// Options configure a Console.
type Options struct {
	In          io.Reader // the typed lines
	Out         io.Writer // the conversation
	Bot         *bot.Bot  // the console registers itself as a door of it
	User        string    // the first user, default "alice"
	Users       []string  // users /users lists besides those who spoke, e.g. the demo's roles
	Interactive bool      // a terminal: symbols, no echo of typed lines
	Prefix      string    // the command prefix, default the bot's
}

// Console is the terminal door. Its Post and Update may be called from any
// goroutine; every line is written whole under one lock.
type Console struct {
	in          io.Reader
	out         io.Writer
	bot         *bot.Bot
	prefix      string
	interactive bool

	mu         sync.Mutex
	user       string
	users      []string
	seq        int                    // requests typed, the thread IDs
	msgSeq     int                    // messages posted
	session    string                 // tells this process's message IDs from an earlier one's
	shown      map[string]bot.Message // the last rendering of each message
	choices    []bot.Button           // the latest buttons offered
	choicesMsg string                 // the message that offered them
	err        error                  // the first write error
}

// New returns a console and registers it with the bot. A nil In reads
// nothing and a nil Out discards; a nil Bot or a User that is no user name
// is a programming error and panics.
func New(opts Options) *Console {
	if opts.Bot == nil {
		panic("console: Options.Bot is required")
	}
	c := &Console{
		in: opts.In, out: opts.Out, bot: opts.Bot, prefix: opts.Prefix, interactive: opts.Interactive,
		user: strings.ToLower(opts.User), shown: map[string]bot.Message{},
		session: strconv.FormatInt(opts.Bot.Now().UnixNano(), 36),
	}
	if c.in == nil {
		c.in = strings.NewReader("")
	}
	if c.out == nil {
		c.out = io.Discard
	}
	if c.prefix == "" {
		c.prefix = opts.Bot.Prefix()
	}
	if c.user == "" {
		c.user = "alice"
	}
	if !userName.MatchString(c.user) {
		panic(fmt.Sprintf("console: user %q: use lowercase letters, digits, dot, dash or underscore", c.user))
	}
	c.users = append(c.users, c.user)
	for _, u := range opts.Users {
		if userName.MatchString(u) && !slices.Contains(c.users, u) {
			c.users = append(c.users, u)
		}
	}
	opts.Bot.Register(c)
	return c
}

// Name is the door name.
func (c *Console) Name() string { return DoorName }

// MinUpdateInterval is zero: a terminal shows every change.
func (c *Console) MinUpdateInterval() time.Duration { return 0 }

// Actor is the current user as the bot sees them.
func (c *Console) Actor() dayops.Actor {
	c.mu.Lock()
	defer c.mu.Unlock()
	return actor(c.user)
}

func actor(name string) dayops.Actor {
	return dayops.Actor{ID: DoorName + ":" + name, Name: name}
}

// Run reads lines until end of input, /quit, or ctx is done, and hands each
// to the bot. A line longer than the console reads is answered with an error
// and the session goes on. It returns nil at end of input or /quit,
// ctx.Err() when ctx ends first, and the first error writing Out.
func (c *Console) Run(ctx context.Context) error {
	type input struct {
		text string
		size int // bytes in the line; more than maxLine when text was dropped
	}
	lines := make(chan input)
	readErr := make(chan error, 1)
	go func() {
		r := bufio.NewReaderSize(c.in, 4096)
		for {
			text, size, err := readLine(r, maxLine)
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				readErr <- err
				return
			}
			select {
			case lines <- input{text, size}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if err != nil {
				return fmt.Errorf("reading input: %w", err)
			}
			return c.writeErr()
		case in := <-lines:
			if in.size > maxLine {
				c.say(fmt.Sprintf("that line is %d bytes; commands are at most %d bytes, so it was not read", in.size, commands.MaxInputBytes))
				continue
			}
			if c.handle(ctx, in.text) {
				return c.writeErr()
			}
		}
	}
}

// readLine reads one line without its line ending (\n or \r\n) and returns
// it with its length in bytes. A line longer than limit is read to its end but
// not kept: text is then "" and size tells how long it was. io.EOF comes
// only when no byte is left.
func readLine(r *bufio.Reader, limit int) (text string, size int, err error) {
	var (
		buf  []byte
		n    int
		last [2]byte // the line's last two bytes, for its ending
	)
	for {
		chunk, err := r.ReadSlice('\n')
		n += len(chunk)
		if n <= limit+2 { // the line and its ending
			buf = append(buf, chunk...)
		}
		for _, b := range chunk[max(0, len(chunk)-2):] {
			last[0], last[1] = last[1], b
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (n == 0 || !errors.Is(err, io.EOF)) {
			return "", 0, err
		}
		size = n
		if last[1] == '\n' {
			size--
			if last[0] == '\r' {
				size--
			}
		}
		if size > limit {
			return "", size, nil
		}
		return string(buf[:size]), size, nil
	}
}

func (c *Console) writeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// handle acts on one typed line and reports whether it was /quit.
func (c *Console) handle(ctx context.Context, line string) (quit bool) {
	text := strings.TrimSpace(line)
	if text == "" || strings.HasPrefix(text, "#") {
		return false
	}
	c.echo(text)
	word, arg, _ := strings.Cut(text, " ")
	arg = strings.TrimSpace(arg)
	switch word {
	case "/quit", "/exit":
		return true
	case "/users":
		c.listUsers()
		return false
	case "/as":
		c.switchUser(arg)
		return false
	}
	if n, err := strconv.Atoi(text); err == nil {
		c.pick(ctx, n)
		return false
	}
	rest, ok := commands.StripPrefix(text, c.prefix)
	if !ok {
		// A mention works as in Slack: "@dayops deploy web staging".
		rest, ok = commands.StripPrefix(text, "@dayops")
	}
	if !ok {
		if strings.HasPrefix(text, "/") {
			c.say(fmt.Sprintf("unknown console command %s: type %s help, /as NAME, /users or /quit", word, c.prefix))
			return false
		}
		rest = text // the prefix is optional here
	}
	c.bot.Handle(ctx, bot.Request{Actor: c.Actor(), Thread: c.nextThread(), Text: rest})
	return false
}

// nextThread is a new thread for one request.
func (c *Console) nextThread() dayops.Thread {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return dayops.Thread{Door: DoorName, Channel: Channel, Name: Channel, ID: strconv.Itoa(c.seq)}
}

func (c *Console) switchUser(name string) {
	if name == "" {
		c.say("you are " + c.Actor().Name + "; /as NAME switches user")
		return
	}
	name = strings.ToLower(name)
	if !userName.MatchString(name) {
		c.say(fmt.Sprintf("%q is not a user name: use lowercase letters, digits, dot, dash or underscore", dayops.Truncate(name, 40)))
		return
	}
	c.mu.Lock()
	c.user = name
	if !slices.Contains(c.users, name) {
		c.users = append(c.users, name)
	}
	c.mu.Unlock()
	a := actor(name)
	c.say(fmt.Sprintf("you are now %s (%s)", a.Name, a.ID))
}

func (c *Console) listUsers() {
	c.mu.Lock()
	users, current := slices.Clone(c.users), c.user
	c.mu.Unlock()
	lines := []string{"users (/as NAME switches; any name works, roles decide what it may do):"}
	for _, u := range users {
		mark := "  "
		if u == current {
			mark = "* "
		}
		lines = append(lines, mark+u+" ("+DoorName+":"+u+")")
	}
	c.say(strings.Join(lines, "\n"))
}

// pick presses button n of the latest message that offered buttons.
func (c *Console) pick(ctx context.Context, n int) {
	c.mu.Lock()
	choices := slices.Clone(c.choices)
	c.mu.Unlock()
	switch {
	case len(choices) == 0:
		c.say("there is nothing to choose from yet")
		return
	case n < 1 || n > len(choices):
		c.say(fmt.Sprintf("choose 1 to %d: %s", len(choices), bot.ButtonLine(choices)))
		return
	}
	b := choices[n-1]
	a := c.Actor()
	c.say(fmt.Sprintf("%s chose [%d] %s", a.Name, n, b.Label))
	c.bot.HandleClick(ctx, bot.Click{Actor: a, Thread: c.nextThread(), Action: b.Action, Value: b.Value})
}

// Post prints a new message of the bot.
func (c *Console) Post(ctx context.Context, t dayops.Thread, m bot.Message) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgSeq++
	id := c.session + "." + strconv.Itoa(c.msgSeq)
	c.writeLocked(c.render(m))
	c.rememberLocked(id, m, len(m.Buttons) > 0)
	return id, c.err
}

// Update prints what changed in a message posted before.
func (c *Console) Update(ctx context.Context, t dayops.Thread, id string, m bot.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, ok := c.shown[id]
	lines := c.render(m)
	if ok {
		lines = c.changes(prev, m)
	} else {
		// A message posted before dayops restarted: shown whole again.
		lines = append([]string{botPrefix + "(message " + id + " from before the restart, updated)"}, lines...)
	}
	c.writeLocked(lines)
	c.rememberLocked(id, m, len(m.Buttons) > 0 && slices.Contains(lines, botPrefix+bot.ButtonLine(m.Buttons)))
	return c.err
}

// rememberLocked keeps m as message id's last rendering. Numbered choices
// follow what was printed last: an update that repeats no choices leaves
// those of a later message in place.
func (c *Console) rememberLocked(id string, m bot.Message, offered bool) {
	c.shown[id] = m
	switch {
	case offered:
		c.choices, c.choicesMsg = slices.Clone(m.Buttons), id
	case c.choicesMsg == id && len(m.Buttons) == 0:
		c.choices, c.choicesMsg = nil, "" // that message no longer offers them
	case c.choicesMsg == id:
		c.choices = slices.Clone(m.Buttons)
	}
}

// say prints a line of the console itself (not of the bot).
func (c *Console) say(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeLocked(prefixed(consolePrefix, strings.Split(text, "\n")))
}

// echo prints the typed line when the terminal did not (a script).
func (c *Console) echo(text string) {
	if c.interactive {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeRawLocked(c.fold(c.user + " > " + text + "\n"))
}
