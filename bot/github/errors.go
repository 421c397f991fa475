package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/dayops/dayops"
)

// defaultLimitWait is how long a rate-limited call is told to wait when
// GitHub says nothing about when to try again (GitHub's advice for
// secondary limits: at least a minute).
const defaultLimitWait = time.Minute

// RateLimited is a call GitHub refused for its rate limits: its primary
// limit (X-RateLimit-Remaining: 0 until X-RateLimit-Reset), or a secondary
// limit (403 or 429 with Retry-After). It implements bot.RetryAfter, so the
// bot tries again when GitHub allows, and unwraps to a dayops.Error of
// KindUnavailable.
type RateLimited struct {
	Op    string        // the call: "create comment"
	After time.Duration // how long GitHub asks to wait
}

// Error says which call was refused and for how long.
func (e *RateLimited) Error() string {
	return fmt.Sprintf("github %s rate limited: retry after %s", e.Op, e.After)
}

// RetryAfter is how long GitHub asks to wait.
func (e *RateLimited) RetryAfter() time.Duration { return e.After }

// Unwrap makes a RateLimited an unavailable dayops.Error.
func (e *RateLimited) Unwrap() error {
	return &dayops.Error{Kind: dayops.KindUnavailable, Message: "GitHub is rate limiting dayops; it tries again in " + e.After.String(), Op: "github " + e.Op}
}

// callError turns a failed GitHub call into the client's error: rate
// limits as *RateLimited, the rest as a dayops.Error whose message says what
// went wrong and what to check. GitHub's own message is kept (it names the
// field or the permission); the request's URL is not repeated.
func (c *Client) callError(op string, err error) error {
	if err == nil {
		return nil
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return &RateLimited{Op: op, After: c.until(rl.Rate.Reset.Time)}
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) {
		after := defaultLimitWait
		if ab.RetryAfter != nil {
			after = max(*ab.RetryAfter, time.Second)
		}
		return &RateLimited{Op: op, After: after}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &dayops.Error{Kind: dayops.KindTimeout, Message: "github " + op + ": no answer from GitHub in time", Op: op, Err: err}
	}
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return &dayops.Error{Kind: dayops.KindUnavailable, Message: "github " + op + ": cannot reach GitHub; check github.api_url and the network", Op: op, Err: err}
	}
	status := er.Response.StatusCode
	if after, ok := c.limitWait(er.Response); ok && (status == http.StatusTooManyRequests || status == http.StatusForbidden) {
		return &RateLimited{Op: op, After: after}
	}
	if status == http.StatusTooManyRequests {
		return &RateLimited{Op: op, After: defaultLimitWait}
	}
	msg := er.Message
	for _, e := range er.Errors {
		if e.Message != "" {
			msg += "; " + e.Message
		} else if e.Field != "" {
			msg += "; " + e.Field + " " + e.Code
		}
	}
	msg = strings.TrimLeft(msg, "; ")
	if msg == "" {
		msg = http.StatusText(status)
	}
	var kind dayops.Kind
	var hint string
	switch {
	case status >= 500:
		kind, hint = dayops.KindUnavailable, "GitHub is failing; dayops tries again later"
	case status == http.StatusUnauthorized:
		kind, hint = dayops.KindForbidden, "check DAYOPS_GITHUB_TOKEN"
	case status == http.StatusForbidden:
		kind, hint = dayops.KindForbidden, "check the token's permissions on the repository"
	case status == http.StatusNotFound:
		kind, hint = dayops.KindNotFound, "check the name, and that the token can see the repository"
	case status == http.StatusUnprocessableEntity || status == http.StatusBadRequest:
		kind, hint = dayops.KindInvalid, "GitHub refused what dayops sent"
	case status == http.StatusConflict:
		kind, hint = dayops.KindConflict, "GitHub refused it in the repository's present state"
	default:
		kind, hint = dayops.KindUnavailable, "unexpected answer from GitHub"
	}
	return &dayops.Error{Kind: kind, Message: fmt.Sprintf("github %s: %d %s: %s", op, status, msg, hint), Op: op, Err: err}
}

// statusOf is the HTTP status of a failed call, 0 when it has none.
func statusOf(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// limitWait is how long a rate-limited answer asks to wait: Retry-After,
// else X-RateLimit-Reset when X-RateLimit-Remaining is 0; false when the
// answer is not about rate limits.
func (c *Client) limitWait(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if t, err := http.ParseTime(ra); err == nil {
			return c.until(t), true
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return c.until(time.Unix(s, 0)), true
		}
		return defaultLimitWait, true
	}
	return 0, false
}

// until is the wait until t, at least a second (GitHub's clock and ours
// differ by that much).
func (c *Client) until(t time.Time) time.Duration {
	return max(t.Sub(c.now()), time.Second)
}
