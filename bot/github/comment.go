package github

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/commands"
)

// Limits of comment commands.
const (
	// MaxCommentRunes is the longest comment GitHub lets anyone write; a
	// longer body did not come from a person through GitHub, and is not read.
	MaxCommentRunes = 65536
	// MaxCommands is the most commands one comment runs; the lines after
	// them are not read.
	MaxCommands = 10
)

// CommandLines returns the commands of a comment body: each line that
// starts with prefix (after leading blanks), without the prefix. Lines in
// HTML comments, quoted lines ("> …", a reply quoting someone) and lines in
// fenced code blocks are not commands.
func CommandLines(body, prefix string) []string {
	body = stripHTMLComments(strings.ReplaceAll(body, "\r\n", "\n"))
	var out []string
	fence := ""
	for line := range strings.SplitSeq(body, "\n") {
		t := strings.TrimLeft(line, " \t")
		if fence != "" {
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = t[:3]
			continue
		}
		if strings.HasPrefix(t, ">") {
			continue
		}
		rest, ok := strings.CutPrefix(strings.TrimRight(t, " \t"), prefix)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue // the prefix glued to a longer word, or not a command at all
		}
		out = append(out, strings.TrimSpace(rest))
	}
	return out
}

// stripHTMLComments removes <!-- … --> from s, an unterminated one to the end.
func stripHTMLComments(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "<!--")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i+4:], "-->")
		if j < 0 {
			return b.String()
		}
		// Keep the line breaks the comment spanned, so that what follows
		// it on its last line is not glued to what preceded it.
		b.WriteString(strings.Repeat("\n", strings.Count(s[i:i+4+j], "\n")))
		s = s[i+4+j+3:]
	}
}

// comment runs the commands of a new pull request comment, each through
// the pipeline as a pr_comment by github:LOGIN, answered in the pull
// request.
func (in *Intake) comment(ctx context.Context, delivery string, ev *event) error {
	c := ev.comment
	body := c.GetComment().GetBody()
	if n := len([]rune(body)); n > MaxCommentRunes {
		in.log.Warn("github comment too long to read", "delivery", delivery, "runes", n)
		return nil
	}
	lines := CommandLines(body, in.opts.Pipeline.Prefix())
	if len(lines) == 0 {
		return nil
	}
	if len(lines) > MaxCommands {
		in.log.Warn("github comment has too many commands: the first are run", "delivery", delivery, "commands", len(lines), "run", MaxCommands)
		lines = lines[:MaxCommands]
	}
	number := c.GetIssue().GetNumber()
	if err := in.opts.GitHub.React(ctx, ev.repo, c.GetComment().GetID(), "eyes"); err != nil {
		in.log.Warn("reacting to a github comment", "repo", ev.repo, "comment", c.GetComment().GetID(), "err", err)
	}
	pr, err := in.opts.GitHub.PullRequest(ctx, ev.repo, number)
	if err != nil {
		return fmt.Errorf("reading pull request %s#%d: %w", ev.repo, number, err)
	}
	actor, err := in.actor(ctx, c.GetComment().GetUser())
	if err != nil {
		return err
	}
	where := Thread(pr)
	service, _ := in.service(ev.repo)
	for i, text := range lines {
		key := delivery + "/" + strconv.Itoa(i)
		first, err := in.opts.Inbox.FirstDelivery(ctx, Source+"-command", key)
		if err != nil {
			return fmt.Errorf("remembering command %d of delivery %s: %w", i+1, delivery, err)
		}
		if !first {
			continue // started by an earlier processing of this delivery
		}
		s := bot.Submission{Actor: actor, Thread: where, Trigger: dayops.TriggerPRComment, Context: pr.Context()}
		res := commands.Grammar{Prefix: in.opts.Pipeline.Prefix()}.Parse(text)
		if res.Command != nil && res.Command.Verb == commands.VerbDeploy && res.Command.Service == "" {
			// "deploy ENV" in a pull request: the repository's service,
			// at the pull request's head.
			cmd := *res.Command
			cmd.Service = service
			if cmd.Version == "" {
				cmd.Version = pr.HeadSHA
				cmd.Params = maps.Clone(cmd.Params)
				if cmd.Params == nil {
					cmd.Params = map[string]string{}
				}
				cmd.Params["version"] = pr.HeadSHA
			}
			s.Command = &cmd
		} else {
			s.Text = text
		}
		in.opts.Pipeline.Submit(ctx, s)
	}
	return nil
}

// actor is a commenter as the pipeline knows people: github:LOGIN with the
// teams the roles name that they belong to.
func (in *Intake) actor(ctx context.Context, u *gh.User) (dayops.Actor, error) {
	login := u.GetLogin()
	a := dayops.Actor{ID: "github:" + login, Name: login}
	if len(in.opts.Teams) > 0 {
		groups, err := in.opts.GitHub.Groups(ctx, login, in.opts.Teams)
		if err != nil {
			return a, fmt.Errorf("reading the teams of %s: %w", login, err)
		}
		a.Groups = groups
	}
	return a, nil
}

// Thread is where a pull request is answered.
func Thread(pr dayops.PullRequest) dayops.Thread {
	ref := pr.String()
	return dayops.Thread{Door: DoorName, Channel: ref, Name: ref}
}

// pullRequest hands a pull request event of an application repository to
// the pipeline, and validates one of the ops repo.
func (in *Intake) pullRequest(ctx context.Context, delivery string, ev *event) error {
	pr := fromEvent(ev.pr)
	if in.opts.OpsRepo.Name != "" && strings.EqualFold(ev.repo, in.opts.OpsRepo.Name) {
		if in.opts.OpsRepo.Validate == nil {
			return nil
		}
		switch pr.Action {
		case dayops.PROpened, dayops.PRSynchronize:
			return in.opts.OpsRepo.Validate(ctx, pr)
		}
		return nil
	}
	// The triggers first, and once per delivery (also when a crash comes
	// between them and the delivery's end): a deploy never waits for
	// GitHub's record of older ones.
	if in.opts.OnPullRequest != nil {
		if first, err := in.opts.Inbox.FirstDelivery(ctx, Source+"-event", delivery); err != nil {
			return fmt.Errorf("remembering delivery %s: %w", delivery, err)
		} else if first {
			in.opts.OnPullRequest(ctx, pr, Thread(pr))
		}
	}
	if (pr.Action == dayops.PRClosed || pr.Action == dayops.PRMerged) && in.opts.Previews != nil {
		// Marking deployments inactive twice does no harm: a failure is
		// tried again with the delivery.
		if err := in.opts.Previews.ClosePreview(ctx, pr); err != nil {
			return fmt.Errorf("marking the preview deployments of %s inactive: %w", pr, err)
		}
	}
	return nil
}

// fromEvent is a pull request event, door-neutral.
func fromEvent(e *gh.PullRequestEvent) dayops.PullRequest {
	p := e.GetPullRequest()
	pr := dayops.PullRequest{
		Repo:     e.GetRepo().GetFullName(),
		Number:   p.GetNumber(),
		Title:    p.GetTitle(),
		Author:   p.GetUser().GetLogin(),
		URL:      p.GetHTMLURL(),
		HeadSHA:  p.GetHead().GetSHA(),
		HeadRef:  p.GetHead().GetRef(),
		BaseRef:  p.GetBase().GetRef(),
		MergeSHA: p.GetMergeCommitSHA(),
		MergedAt: p.GetMergedAt().Time,
		Label:    e.GetLabel().GetName(),
		// A head in another repository is a fork's; so is a head whose
		// repository is gone (GitHub sends null when the fork was deleted).
		Fork: !strings.EqualFold(p.GetHead().GetRepo().GetFullName(), e.GetRepo().GetFullName()),
	}
	if pr.Number == 0 {
		pr.Number = e.GetNumber()
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.GetName())
	}
	switch e.GetAction() {
	case "closed":
		pr.Action = dayops.PRClosed
		if p.GetMerged() {
			pr.Action = dayops.PRMerged
		}
	case "opened", "reopened":
		pr.Action = dayops.PROpened
	default:
		pr.Action = e.GetAction()
	}
	if pr.Action != dayops.PRMerged {
		pr.MergeSHA = "" // GitHub's test merge commit, not a merge
		pr.MergedAt = time.Time{}
	}
	return pr
}
