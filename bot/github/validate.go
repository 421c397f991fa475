package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dayops/dayops"
)

// ValidateCheck is the check run an ops repository's pull request gets.
const ValidateCheck = "dayops/validate"

// validateMarker finds the one summary comment of a pull request again.
const validateMarker = "<!-- dayops:validate -->"

// maxSummaryProblems bounds the problems a check run's summary lists; the
// annotations carry every one.
const maxSummaryProblems = 50

// Validation is what dayops found in an ops repository's pull request: its
// problems (each at a file and line) and what it changes in the catalog.
type Validation struct {
	Revision string    // the head commit validated
	Problems []Problem // none: valid
	Summary  string    // Markdown: the catalog diff (definitions added, removed, changed…)
}

// Problem is one validation error at its place.
type Problem struct {
	Path    string // in the repository: "definitions/deploy-web.yaml"
	Line    int    // 1-based; 0: the file as a whole
	Col     int
	Message string
}

// PublishValidation reports v on the ops repository's pull request pr: a
// completed check run dayops/validate on the head (failure with one
// annotation per problem, sent 50 a call; success when there is none) and
// ONE summary comment, edited on later pushes (found by a hidden marker
// among the bot's own comments). Both are attempted; the errors are
// returned together.
func (d *Door) PublishValidation(ctx context.Context, pr dayops.PullRequest, v Validation) error {
	if pr.Repo == "" || pr.Number <= 0 || pr.HeadSHA == "" {
		return dayops.Errorf(dayops.KindInvalid, "github door: validation of %s needs the pull request's repository, number and head commit", pr)
	}
	cr := CheckRun{
		Name:       ValidateCheck,
		HeadSHA:    pr.HeadSHA,
		Status:     "completed",
		Conclusion: "success",
		ExternalID: v.Revision,
		Title:      "the ops repository is valid",
		Summary:    validationSummary(v),
	}
	if n := len(v.Problems); n > 0 {
		cr.Conclusion = "failure"
		cr.Title = plural(n, "problem") + " in the ops repository"
		for _, p := range v.Problems {
			cr.Annotations = append(cr.Annotations, Annotation{Path: p.Path, Line: p.Line, Col: p.Col, Level: "failure", Title: "dayops", Message: p.Message})
		}
	}
	var errs []error
	listProblems := false
	if _, err := d.client.CreateCheckRun(ctx, pr.Repo, cr); refused(err) {
		// A token that may not create check runs: a commit status says
		// whether the revision loads, and the comment lists the problems.
		d.log.Warn("github refused the validation check run; a commit status instead", "pr", pr.String(), "err", err)
		listProblems = true
		state := "success"
		if cr.Conclusion != "success" {
			state = "failure"
		}
		errs = append(errs, d.client.SetCommitStatus(ctx, pr.Repo, pr.HeadSHA, CommitStatus{Context: ValidateCheck, State: state, Description: cr.Title}))
	} else if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, d.summaryComment(ctx, pr, validationComment(v, listProblems)))
	return errors.Join(errs...)
}

// summaryComment edits the pull request's summary comment, or posts it.
func (d *Door) summaryComment(ctx context.Context, pr dayops.PullRequest, body string) error {
	id, err := d.client.FindComment(ctx, pr.Repo, pr.Number, d.botLogin, validateMarker)
	if err != nil {
		return err
	}
	if id != 0 {
		return d.client.EditComment(ctx, pr.Repo, id, body)
	}
	_, err = d.client.CreateComment(ctx, pr.Repo, pr.Number, body)
	return err
}

// validationSummary is the check run's summary: the problems, then the
// catalog diff.
func validationSummary(v Validation) string {
	var b strings.Builder
	if len(v.Problems) == 0 {
		b.WriteString("dayops loaded every definition")
	} else {
		b.WriteString("dayops cannot load this revision: " + plural(len(v.Problems), "problem") + ".\n")
		for i, p := range v.Problems {
			if i == maxSummaryProblems {
				fmt.Fprintf(&b, "\n- … and %d more, each marked at its line", len(v.Problems)-i)
				break
			}
			b.WriteString("\n- " + problemLine(p))
		}
	}
	if v.Revision != "" {
		b.WriteString("\n\nRevision `" + strings.ReplaceAll(v.Revision, "`", "") + "`.")
	}
	if v.Summary != "" {
		b.WriteString("\n\n" + v.Summary)
	}
	return fit(b.String(), maxCheckText)
}

// validationComment is the pull request's summary comment; with
// listProblems (no check run could carry them) it lists the problems.
func validationComment(v Validation, listProblems bool) string {
	var b strings.Builder
	b.WriteString(validateMarker + "\n### dayops: this pull request in the catalog\n\n")
	if n := len(v.Problems); n > 0 && listProblems {
		b.WriteString("❌ " + plural(n, "problem") + " keep this revision from loading:\n")
		for i, p := range v.Problems {
			if i == maxSummaryProblems {
				fmt.Fprintf(&b, "\n- … and %d more", n-i)
				break
			}
			b.WriteString("\n- " + problemLine(p))
		}
	} else if n > 0 {
		b.WriteString("❌ " + plural(n, "problem") + " keep this revision from loading: see the **" + ValidateCheck + "** check, where each is marked at its line.")
	} else {
		b.WriteString("✅ Every definition loads.")
	}
	if v.Revision != "" {
		b.WriteString(" (revision `" + strings.ReplaceAll(v.Revision, "`", "") + "`)")
	}
	if v.Summary != "" {
		b.WriteString("\n\n" + v.Summary)
	}
	return fit(b.String(), MaxComment)
}

func problemLine(p Problem) string {
	at := "`" + strings.ReplaceAll(p.Path, "`", "") + "`"
	if p.Line > 0 {
		at += fmt.Sprintf(" line %d", p.Line)
	}
	return at + ": " + escape(dayops.Truncate(p.Message, 500))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
