package github

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/commands"
)

// DoorName is the door's name in threads and reports ("github").
const DoorName = "github"

// DefaultUpdateInterval is the least time between two edits of one run's
// comment: GitHub's secondary limits allow about 80 content-changing
// requests a minute for a whole installation, and a run's comment, status
// and check run share them.
const DefaultUpdateInterval = 3 * time.Second

// DoorOptions configure a Door.
type DoorOptions struct {
	Client *Client // required
	// BotLogin is dayops's own login ("dayops[bot]"): comments it wrote
	// are never commands, and its summary comments are found by it.
	BotLogin string
	// Prefix is the comment command (slack.command), spelt in the commands a
	// comment offers instead of buttons; default commands.DefaultPrefix.
	Prefix string
	// EnvironmentURL is where a run's environment is reached (the
	// definition environment's url:), shown as the deployment's
	// environment_url; nil or "" when unknown.
	EnvironmentURL func(run *dayops.Run) string
	// Production tells production environments, marked so on their
	// deployments; default: "production" and "prod".
	Production func(env string) bool
	// UpdateInterval is the least time between two edits of one run's
	// comment (bot.Paced); default DefaultUpdateInterval.
	UpdateInterval time.Duration
	Logger         *slog.Logger
	Now            func() time.Time
}

// Door is the GitHub door's voice: it answers in pull request comments and
// keeps GitHub's own record of runs (deployments, check runs). It
// implements bot.Door, bot.Paced and bot.ReportDoor.
type Door struct {
	client   *Client
	botLogin string
	prefix   string
	envURL   func(run *dayops.Run) string
	prod     func(env string) bool
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time
}

// NewDoor returns a Door.
func NewDoor(opts DoorOptions) (*Door, error) {
	if opts.Client == nil {
		return nil, dayops.Errorf(dayops.KindInvalid, "github door: missing Client")
	}
	d := &Door{
		client: opts.Client, botLogin: opts.BotLogin, prefix: opts.Prefix, envURL: opts.EnvironmentURL,
		prod: opts.Production, interval: opts.UpdateInterval, log: opts.Logger, now: opts.Now,
	}
	if d.prefix == "" {
		d.prefix = commands.DefaultPrefix
	}
	if d.prod == nil {
		d.prod = func(env string) bool { return env == "production" || env == "prod" }
	}
	if d.interval <= 0 {
		d.interval = DefaultUpdateInterval
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d, nil
}

// Name is "github".
func (d *Door) Name() string { return DoorName }

// BotLogin is dayops's own GitHub login.
func (d *Door) BotLogin() string { return d.botLogin }

// Client is the door's GitHub client.
func (d *Door) Client() *Client { return d.client }

// MinUpdateInterval is the least time between two edits of a run's comment.
func (d *Door) MinUpdateInterval() time.Duration { return d.interval }

// Post comments m on the thread's pull request and returns the comment's ID.
// A Private answer is a comment like any other: GitHub has no messages
// only one person sees, so an error or a refusal is answered for all to
// read (the bot never puts secrets in them). A Broadcast (a deploy's end,
// told again to the whole conversation) is not posted: on a pull request
// the run's one comment, edited, shows the end, and the deployment's
// status and the check run tell GitHub; a second comment would say it
// twice.
func (d *Door) Post(ctx context.Context, t dayops.Thread, m bot.Message) (string, error) {
	m = unsigned(m)
	repo, number, err := commentRef(t)
	if err != nil {
		return "", err
	}
	if m.Broadcast {
		return "", nil
	}
	id, err := d.client.CreateComment(ctx, repo, number, Render(m, d.prefix))
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(id, 10), nil
}

// Update edits comment messageID to show m.
func (d *Door) Update(ctx context.Context, t dayops.Thread, messageID string, m bot.Message) error {
	m = unsigned(m)
	repo, _, err := commentRef(t)
	if err != nil {
		return err
	}
	id, err := parseID(messageID)
	if err != nil {
		return err
	}
	if id == 0 {
		return dayops.Errorf(dayops.KindInvalid, "github door: update of thread %s needs a comment id", t)
	}
	return d.client.EditComment(ctx, repo, id, Render(m, d.prefix))
}

var (
	_ bot.ReportDoor = (*Door)(nil)
	_ bot.Paced      = (*Door)(nil)
)

// unsigned is m with its run link stripped of the signature that opens the
// run page without a login. What dayops posts on GitHub can be read by
// anyone who can read the repository — on a public one, anyone — and a
// signed link would hand them the run's whole log for a week; on GitHub the
// page asks for a login instead.
func unsigned(m bot.Message) bot.Message {
	if m.Run == nil || m.Run.URL == "" {
		return m
	}
	u, err := url.Parse(m.Run.URL)
	if err != nil {
		return m
	}
	q := u.Query()
	if q.Get("sig") == "" && q.Get("exp") == "" {
		return m
	}
	q.Del("sig")
	q.Del("exp")
	u.RawQuery = q.Encode()
	v := *m.Run
	v.URL = u.String()
	m.Run = &v
	return m
}
