package github_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
)

func TestRenderEscapesWhatTheBotQuotes(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    []string
		notWant []string
	}{
		{"a mention does not ping", "asked by @alice for @acme/sre", []string{"@&#8203;alice", "@&#8203;acme/sre"}, []string{"@alice", "@acme"}},
		{"html cannot forge the marker", "<!-- dayops:validate --><img src=x>", []string{"&lt;!-- dayops:validate --&gt;&lt;img"}, []string{"<!--", "<img"}},
		{"no links", "[click](https://evil.example)", []string{`\[click\](https://evil.example)`}, []string{"[click]("}},
		{"code spans are shown as typed", "type `/ops approve 12` or `@dayops help`", []string{"`/ops approve 12`", "`@dayops help`"}, nil},
		{"a lone backtick opens nothing", "it`s @alice", []string{"it\\`s @&#8203;alice"}, []string{" @alice"}},
		{"a span closes only on a run of its own length", "run \"` @org/sre ```\" <img src=x>", []string{"\\` @&#8203;org/sre \\`\\`\\`", "&lt;img"}, []string{" @org/sre", "<img"}},
		{"double-backtick spans are kept", "type ``a ` b`` @bob", []string{"``a ` b``", "@&#8203;bob"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := github.Render(bot.Message{Text: tt.text}, "/ops")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Render(%q) = %q, want it to contain %q", tt.text, got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("Render(%q) = %q, must not contain %q", tt.text, got, w)
				}
			}
		})
	}
}

func TestRenderMessageParts(t *testing.T) {
	m := bot.Message{
		Text:    "Run 12 needs an approval",
		Fields:  []bot.Field{{Label: "Environment", Value: "production"}},
		Pre:     "a ``` fence inside\n@alice",
		Buttons: []bot.Button{{Label: "Approve run 12", Action: bot.ActionApprove, Value: "12"}, {Label: "Deny", Action: bot.ActionDeny, Value: "12"}, {Label: "Output", Action: bot.ActionOutput, Value: "12"}},
		Footer:  "revision abc",
		File:    &bot.File{Name: "run-12-output.txt", Content: []byte("x"), Elsewhere: "dayops logs 12"},
	}
	got := github.Render(m, "/ops")
	for _, w := range []string{
		"Run 12 needs an approval",
		"**Environment:** production",
		"````\na ``` fence inside\n@alice\n````",
		"`/ops approve 12` (Approve run 12) or `/ops deny 12` (Deny)",
		"<sub>revision abc</sub>",
		"`dayops logs 12`",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("rendered:\n%s\nwant it to contain %q", got, w)
		}
	}
	if strings.Contains(got, "Output") {
		t.Errorf("a button with no command was offered:\n%s", got)
	}
}

func TestRenderKeepsWithinGitHubsLimit(t *testing.T) {
	long := strings.Repeat("é", 400)
	v := &bot.RunView{
		ID: 12, Title: "Run #12 deploy-web production — failed " + strings.Repeat("ü", 5000), State: dayops.RunFailed,
		Requester: "alice", Params: "version=" + strings.Repeat("v", 20000), Note: strings.Repeat("why ", 10000),
		OutputStep: "migrate", URL: "https://dayops.example.com/runs/12",
	}
	for i := range 3000 {
		v.Steps = append(v.Steps, bot.StepView{Index: i, Name: "step " + long, State: dayops.StepFailed, Error: long})
	}
	for range 10 {
		v.Output = append(v.Output, strings.Repeat("ö", 300))
	}
	tests := []struct {
		name string
		m    bot.Message
		want []string
	}{
		{"a run", bot.Message{Run: v}, []string{"more steps on the run page", "[Run page](https://dayops.example.com/runs/12)"}},
		{"a run under a long text", bot.Message{Text: strings.Repeat("t", 100000), Run: v}, []string{"[Run page](https://dayops.example.com/runs/12)"}},
		{"a long text", bot.Message{Text: strings.Repeat("ß", 70000)}, []string{"too long for GitHub"}},
		{"a long listing", bot.Message{Pre: strings.Repeat("line\n", 20000)}, []string{"too long for GitHub"}},
	}
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := github.Render(tt.m, "/ops")
			if len(got) > github.MaxComment || !utf8.ValidString(got) {
				t.Fatalf("%d bytes (valid UTF-8: %v), want at most %d", len(got), utf8.ValidString(got), github.MaxComment)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("rendered (%d bytes) lacks %q; ends %q", len(got), w, got[max(0, len(got)-300):])
				}
			}
			if strings.HasSuffix(tt.name, "run") && !strings.HasSuffix(got, "[Run page](https://dayops.example.com/runs/12)") {
				t.Errorf("the run link is not the last line: ends %q", got[len(got)-200:])
			}
			// GitHub (the fake refuses longer bodies) takes it.
			if _, err := d.Post(context.Background(), prThread, tt.m); err != nil {
				t.Errorf("posting it: %v", err)
			}
		})
	}
}

func TestPostAndUpdate(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	ctx := context.Background()
	// A private answer is a comment too: GitHub has nothing private.
	id, err := d.Post(ctx, prThread, bot.Message{Text: "not allowed: mallory has no role in dayops", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Update(ctx, prThread, id, bot.Message{Text: "second"}); err != nil {
		t.Fatal(err)
	}
	cs := fake.Comments("o/app", 12)
	if len(cs) != 1 || cs[0].Body != "second" || len(cs[0].Edits) != 1 || !strings.Contains(cs[0].Edits[0], "no role") {
		t.Errorf("comments %+v", cs)
	}
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"post to a channel that is no PR", func() error {
			_, err := d.Post(ctx, dayops.Thread{Door: "github", Channel: "o/app"}, bot.Message{Text: "x"})
			return err
		}()},
		{"update without an id", d.Update(ctx, prThread, "", bot.Message{Text: "x"})},
		{"update with a bad id", d.Update(ctx, prThread, "ts.123", bot.Message{Text: "x"})},
	} {
		if dayops.KindOf(tt.err) != dayops.KindInvalid {
			t.Errorf("%s: %v, want invalid", tt.name, tt.err)
		}
	}
	if d.Name() != "github" || d.MinUpdateInterval() != github.DefaultUpdateInterval {
		t.Errorf("name %q, pace %s", d.Name(), d.MinUpdateInterval())
	}
}

func TestRenderRunOffersCommandsBelowTheSteps(t *testing.T) {
	m := bot.Message{
		Run: &bot.RunView{ID: 3, Title: "Run #3 deploy-web production — awaiting approval", State: dayops.RunAwaitingApproval,
			Steps: []bot.StepView{{Name: "Back up", State: dayops.StepPending}}, URL: "https://d/runs/3"},
		Buttons: []bot.Button{{Label: "Approve run 3", Action: bot.ActionApprove, Value: "3"}},
	}
	got := github.Render(m, "/ops")
	title, step, cmd, link := strings.Index(got, "Run #3"), strings.Index(got, "Back up"), strings.Index(got, "`/ops approve 3`"), strings.Index(got, "[Run page](https://d/runs/3)")
	if !strings.HasPrefix(got, "### ⏸️ Run #3") || !(title < step && step < cmd && cmd < link) || !strings.HasSuffix(got, "[Run page](https://d/runs/3)") {
		t.Errorf("want the title first, then the steps, the command and the link last:\n%s", got)
	}
}

func TestRenderRunLinksItsSlackThread(t *testing.T) {
	m := bot.Message{Run: &bot.RunView{ID: 3, Title: "Run #3 deploy-web staging — running", State: dayops.RunRunning,
		URL: "https://dayops.example.com/runs/3?sig=x",
		Elsewhere: []bot.ThreadLink{
			{Door: "slack", URL: "https://acme.slack.com/archives/C1/p1700000000000100"},
			{Door: "github", URL: "https://github.com/acme/web/pull/7#issuecomment-1"}, // its own: not linked
			{Door: "slack", URL: "javascript:alert(1)"},                                // not a link to follow
		}}}
	got := github.Render(m, "/ops")
	slack := strings.Index(got, "[Slack thread](https://acme.slack.com/archives/C1/p1700000000000100)")
	page := strings.Index(got, "[Run page](")
	if slack < 0 || page < slack || strings.Count(got, "thread](") != 1 || strings.Contains(got, "javascript") {
		t.Errorf("rendered:\n%s", got)
	}
}

func TestRenderReviewQuestionsAsCommands(t *testing.T) {
	got := github.Render(bot.Message{Text: "Readiness review — answer each question", Buttons: []bot.Button{
		{Label: "1: Yes", Action: bot.ActionAnswerYes, Value: "7:1"},
		{Label: "1: No", Action: bot.ActionAnswerNo, Value: "7:1"},
	}}, "/ops")
	for _, want := range []string{"/ops answer 7 1 yes", "/ops answer 7 1 no"} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered without %q:\n%s", want, got)
		}
	}
}

// TestGitHubGetsNoSignedLinks: what dayops posts on GitHub is readable by
// anyone who can read the repository, so its run links carry no signature:
// the run page asks them for a login.
func TestGitHubGetsNoSignedLinks(t *testing.T) {
	fake := githubtest.New(t)
	d := newDoor(t, fake)
	signed := "https://dayops.example.com/runs/3?exp=1900000000&sig=c2VjcmV0"
	m := bot.Message{Run: &bot.RunView{ID: 3, Title: "Run #3 deploy-web staging — running", State: dayops.RunRunning, URL: signed}}
	if _, err := d.Post(context.Background(), prThread, m); err != nil {
		t.Fatal(err)
	}
	body := fake.Comments("o/app", 12)[0].Body
	if strings.Contains(body, "sig=") || strings.Contains(body, "exp=") || !strings.Contains(body, "https://dayops.example.com/runs/3") {
		t.Errorf("comment links:\n%s", body)
	}
	if m.Run.URL != signed {
		t.Errorf("the caller's message was changed")
	}
}
