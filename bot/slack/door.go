package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// DoorName is the door's name in threads and reports ("slack").
const DoorName = "slack"

// updateInterval is the least time between two updates of one message:
// Slack allows about one chat.update per second per message.
const updateInterval = time.Second

// maxWorkers bounds the requests worked on at once.
const maxWorkers = 8

// closeTimeout bounds how long Close waits for requests still being worked on.
const closeTimeout = 30 * time.Second

// Deliveries remembers the deliveries seen, so that one event, envelope or
// click is handled once however often Slack sends it. storage.Store
// implements it (a row per delivery, kept across restarts and replicas).
type Deliveries interface {
	// FirstDelivery reports whether (source, id) is seen for the first time,
	// and remembers it.
	FirstDelivery(ctx context.Context, source, id string) (bool, error)
}

// Options configure a Door.
type Options struct {
	Bot      *bot.Bot // required; the door registers itself with it
	BotToken string   // xoxb-…, required
	// SigningSecret checks every HTTP request. Socket Mode needs none;
	// without it the HTTP intake refuses every request (401).
	SigningSecret string
	// APIURL is the Web API base URL ending in "/" (tests, proxies);
	// default Slack's.
	APIURL     string
	Deliveries Deliveries // required: de-duplication of retries and clicks
	// BotUserID is the bot's own user ID; when empty New asks auth.test.
	BotUserID string
	// IncidentChannels are the names of incident channels
	// (slack.incident_channels); nil means DefaultIncidentChannels.
	IncidentChannels *regexp.Regexp
	// Redactor masks secrets in what the door itself echoes (the root
	// message quoting a slash command) and logs; the bot redacts its own
	// messages. Nil strips URL credentials only.
	Redactor *dayops.Redactor
	// HTTPClient makes the Web API calls; default one with a 30 s timeout.
	HTTPClient *http.Client
	// ChannelInterval is the least time between two messages posted or
	// updated in one channel (pace.go); default DefaultChannelInterval,
	// negative: no pacing.
	ChannelInterval time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
}

// Door is the Slack door: it implements bot.Door and bot.Paced, and serves
// the HTTP intake (Commands, Events, Interactions).
type Door struct {
	bot        *bot.Bot
	api        *slack.Client
	token      string         // the bot token, for the Socket Mode client
	apiOpts    []slack.Option // how api was made
	http       *http.Client
	apiHost    string // the host of a configured APIURL: response_urls may point there too
	secret     string
	botUserID  string
	incidents  *regexp.Regexp // incident channel names (channels.go)
	deliveries Deliveries
	redactor   *dayops.Redactor
	pace       *pacer // messages per channel (pace.go)
	prefix     string
	now        func() time.Time
	log        *slog.Logger

	mu       sync.Mutex
	channels map[string]channelName // by channel ID
	groups   groupCache             // user groups by user (groups.go)
	closing  bool                   // Close was called: no new work
	workers  chan struct{}          // a token per request being worked on

	ctx    context.Context // the work of requests runs on it, never on a request's
	cancel context.CancelFunc
	work   sync.WaitGroup
}

// New returns a Door registered with opts.Bot. Unless opts.BotUserID is
// given it asks Slack (auth.test) who the bot is, so that it recognises its
// own mentions and messages; a wrong token fails here, at start.
func New(ctx context.Context, opts Options) (*Door, error) {
	var missing []string
	if opts.Bot == nil {
		missing = append(missing, "Bot")
	}
	if opts.BotToken == "" {
		missing = append(missing, "BotToken (DAYOPS_SLACK_BOT_TOKEN)")
	}
	if opts.Deliveries == nil {
		missing = append(missing, "Deliveries")
	}
	if len(missing) > 0 {
		return nil, dayops.Errorf(dayops.KindInvalid, "slack door: missing %s", strings.Join(missing, ", "))
	}
	d := &Door{
		bot:        opts.Bot,
		secret:     opts.SigningSecret,
		botUserID:  opts.BotUserID,
		deliveries: opts.Deliveries,
		redactor:   opts.Redactor,
		prefix:     opts.Bot.Prefix(),
		now:        opts.Now,
		log:        opts.Logger,
		channels:   map[string]channelName{},
		workers:    make(chan struct{}, maxWorkers),
		incidents:  opts.IncidentChannels,
		pace:       newPacer(opts.ChannelInterval),
	}
	if opts.ChannelInterval == 0 {
		d.pace.interval = DefaultChannelInterval
	}
	if d.incidents == nil {
		d.incidents = regexp.MustCompile(DefaultIncidentChannels)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	apiOpts := []slack.Option{slack.OptionHTTPClient(client)}
	if opts.APIURL != "" {
		u := opts.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		apiOpts = append(apiOpts, slack.OptionAPIURL(u))
	}
	d.token, d.apiOpts, d.http = opts.BotToken, apiOpts, client
	if opts.APIURL != "" {
		if u, err := url.Parse(opts.APIURL); err == nil {
			d.apiHost = u.Host
		}
	}
	d.api = slack.New(opts.BotToken, apiOpts...)
	if d.botUserID == "" {
		who, err := d.api.AuthTestContext(ctx)
		if err != nil {
			return nil, dayops.Errorf(dayops.KindUnavailable, "slack door: asking Slack who the bot is (auth.test): %s; check DAYOPS_SLACK_BOT_TOKEN and slack.api_url", apiError(err))
		}
		d.botUserID = who.UserID
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.bot.Register(d)
	return d, nil
}

// Name is "slack".
func (d *Door) Name() string { return DoorName }

// MinUpdateInterval is about one update a second, Slack's pace for
// chat.update of one message.
func (d *Door) MinUpdateInterval() time.Duration { return updateInterval }

// BotUserID is the bot's own Slack user ID.
func (d *Door) BotUserID() string { return d.botUserID }

// Close waits (at most 30 s, or until ctx is done) for the requests still
// being worked on, then stops those that remain; requests that come later
// are refused with 503. Close the door before its bot: its work submits to
// the bot.
func (d *Door) Close(ctx context.Context) error {
	d.mu.Lock()
	d.closing = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.work.Wait(); close(done) }()
	ctx, cancel := context.WithTimeout(ctx, closeTimeout)
	defer cancel()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("slack door: requests still being worked on at close: %w", ctx.Err())
	}
	d.cancel()
	return err
}

// goWork runs f on the door's context, after the request that brought it
// has been answered. It refuses once Close has been called.
func (d *Door) goWork(f func(ctx context.Context)) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return false
	}
	d.work.Add(1)
	go func() {
		defer d.work.Done()
		// At most maxWorkers requests are worked on at once: a burst of
		// requests waits its turn here rather than taking the CPU from the
		// acknowledgements Slack waits for.
		select {
		case d.workers <- struct{}{}:
		case <-d.ctx.Done():
			return
		}
		defer func() { <-d.workers }()
		f(d.ctx)
	}()
	return true
}

// unavailable answers a request that arrives after Close: 503, so that Slack
// retries an event later (another replica, or the next start, takes it).
func unavailable(w http.ResponseWriter) {
	http.Error(w, "dayops is shutting down: try again in a minute", http.StatusServiceUnavailable)
}

// askerKey marks a context as the handling of one person's request.
type askerKey struct{}

// asker is the person whose request a context handles, and the
// response_url Slack gave with it ("" for mentions).
type asker struct {
	user        string
	responseURL string
}

// withAsker is the context in which the door submits user's request.
func withAsker(ctx context.Context, user, responseURL string) context.Context {
	return context.WithValue(ctx, askerKey{}, asker{user: user, responseURL: responseURL})
}

// askerOf is the person whose request ctx handles; zero when none.
func askerOf(ctx context.Context) asker {
	a, _ := ctx.Value(askerKey{}).(asker)
	return a
}

// Post sends m to the thread and returns its ts.
//
// Which messages are ephemeral: the bot marks the answers meant for the asker
// alone (Message.Private: an error, a refusal, help, a listing) and posts them
// with the context the door submitted the request with, which carries the
// asker (withAsker). Those go to that person alone (chat.postEphemeral);
// everything else — run messages, run replies, decisions such as "bob
// approved run 12" — is posted in the thread for all to see.
func (d *Door) Post(ctx context.Context, t dayops.Thread, m bot.Message) (string, error) {
	if t.Channel == "" {
		return "", dayops.Errorf(dayops.KindInvalid, "slack door: thread %s has no channel", t)
	}
	if d.showModal(ctx, t, m) {
		return "", nil // answered in the asker's modal (modal.go)
	}
	if m.File != nil {
		return d.upload(ctx, t, m) // upload.go
	}
	blocks, text := Render(m)
	opts := []slack.MsgOption{slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(text, false)}
	if t.ID != "" {
		opts = append(opts, slack.MsgOptionTS(t.ID))
		if m.Broadcast {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	if a := askerOf(ctx); a.user != "" && m.Private {
		ts, err := d.api.PostEphemeralContext(ctx, t.Channel, a.user, opts...)
		if err == nil {
			return ts, nil
		}
		err = d.callError("chat.postEphemeral", t, err)
		// Where dayops may not post (a channel it was not invited to), the
		// request's response_url still reaches the asker.
		if a.responseURL != "" {
			if rerr := d.respond(ctx, a.responseURL, blocks, text); rerr == nil {
				return "", nil
			} else {
				d.log.Warn("answering through the response_url", "channel", t.Channel, "err", rerr)
			}
		}
		return "", err
	}
	if err := d.pace.wait(ctx, "chat.postMessage", t.Channel); err != nil {
		return "", err
	}
	opts = append(opts, slack.MsgOptionDisableLinkUnfurl())
	_, ts, err := d.api.PostMessageContext(ctx, t.Channel, opts...)
	if err != nil {
		return "", d.callError("chat.postMessage", t, err)
	}
	return ts, nil
}

// Update changes the message messageID (its ts) in place.
func (d *Door) Update(ctx context.Context, t dayops.Thread, messageID string, m bot.Message) error {
	if t.Channel == "" || messageID == "" {
		return dayops.Errorf(dayops.KindInvalid, "slack door: update of message %q in thread %s needs a channel and a ts", messageID, t)
	}
	if err := d.pace.wait(ctx, "chat.update", t.Channel); err != nil {
		return err
	}
	blocks, text := Render(m)
	_, _, _, err := d.api.UpdateMessageContext(ctx, t.Channel, messageID, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(text, false))
	if err != nil {
		return d.callError("chat.update", t, err)
	}
	return nil
}

// RateLimited is a call Slack refused with 429: try again after its
// Retry-After. It implements bot.RetryAfter.
type RateLimited struct {
	Method string
	After  time.Duration
}

// Error says which call was refused and for how long.
func (e *RateLimited) Error() string {
	return fmt.Sprintf("slack %s rate limited: retry after %s", e.Method, e.After)
}

// RetryAfter is Slack's Retry-After.
func (e *RateLimited) RetryAfter() time.Duration { return e.After }

// callError turns a Web API failure into the door's error: a 429 with its
// Retry-After (the bot waits that long), anything else plain (the bot backs
// off). Slack's own error codes are logged here and go no further than the
// bot's log: they are never posted back to Slack.
func (d *Door) callError(method string, t dayops.Thread, err error) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &RateLimited{Method: method, After: rl.RetryAfter}
	}
	d.log.Warn("slack call failed", "method", method, "channel", t.Channel, "thread", t.ID, "err", apiError(err))
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return dayops.Errorf(dayops.KindUnavailable, "slack %s: %s", method, sc.Status)
	}
	return &dayops.Error{Kind: dayops.KindUnavailable, Message: "slack " + method + " failed", Op: method, Err: err}
}

// apiError is err as a log line: Slack's error code, without the request.
func apiError(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return err.Error()
}

// firstDelivery reports whether (source, id) comes for the first time, so
// that its work may be done: a redelivery, or a store that cannot say, does
// nothing (logged, with attrs).
func (d *Door) firstDelivery(ctx context.Context, source, id string, attrs ...any) bool {
	first, err := d.deliveries.FirstDelivery(ctx, source, id)
	attrs = append([]any{"source", source, "id", id}, attrs...)
	if err != nil {
		d.log.Error("recording a slack delivery", append(attrs, "err", err)...)
		return false
	}
	if !first {
		d.log.Info("slack delivery seen before", attrs...)
	}
	return first
}
