package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// http step defaults (SPEC §5).
const (
	defaultHTTPStatus   = 200
	defaultHTTPInterval = 5 * time.Second
	defaultHTTPTimeout  = 10 * time.Second
	maxHTTPBody         = 1 << 20
	maxRedirects        = 10
)

// client is the http steps' client: redirects stay on http and https.
func (e *Executor) client() *http.Client {
	base := e.http
	if base == nil {
		base = &http.Client{Transport: http.DefaultTransport}
	}
	c := *base
	c.Timeout = 0 // per attempt, from the step
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s: only http and https are followed", req.URL.Scheme)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
	return &c
}

// httpCheck runs an http step: it requests the expanded URL until the
// expected status (and body text) come back or the attempts run out.
func (x *runExec) httpCheck(ctx context.Context, i int, st dayops.Step) stepResult {
	h := st.HTTP
	if h == nil {
		return stepResult{state: dayops.StepFailed, message: fmt.Sprintf("step %s has no http check", st.Name)}
	}
	raw, _ := dayops.Expand(h.URL, x.scope)
	want, _ := dayops.Expand(h.BodyContains, x.scope)
	show := x.e.redactor.Redact(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return stepResult{state: dayops.StepFailed, exit: -1, message: fmt.Sprintf("step %s: %q is not an http or https URL", st.Name, dayops.Truncate(show, 200))}
	}
	method := httpMethod(h)
	status := h.Status
	if status == 0 {
		status = defaultHTTPStatus
	}
	attempts := max(h.Attempts, 1)
	interval := h.Interval
	if interval <= 0 {
		interval = defaultHTTPInterval
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = defaultHTTPTimeout
	}
	client := x.e.client()
	var last string
	for a := 1; a <= attempts; a++ {
		got, ok := x.httpAttempt(ctx, client, method, u.String(), timeout, status, want)
		last = got
		x.log.system(i, "%s %s → %s (attempt %d of %d)", method, show, got, a, attempts)
		if ok {
			return stepResult{state: dayops.StepSucceeded}
		}
		if a == attempts || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(interval):
		case <-ctx.Done():
		}
	}
	return stepResult{state: dayops.StepFailed, exit: -1,
		message: fmt.Sprintf("step %s failed: %s %s → %s after %d attempts", st.Name, method, dayops.Truncate(show, 200), last, attempts)}
}

// httpAttempt makes one request and says what came back.
func (x *runExec) httpAttempt(ctx context.Context, client *http.Client, method, target string, timeout time.Duration, status int, want string) (string, bool) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, method, target, nil)
	if err != nil {
		return "invalid request: " + err.Error(), false
	}
	req.Header.Set("User-Agent", "dayops")
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is already shown, redacted
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Sprintf("no answer within %s", timeout), false
		}
		return x.e.redactor.Redact(err.Error()), false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody))
	got := resp.Status
	if resp.StatusCode != status {
		return fmt.Sprintf("%s, expected %d", got, status), false
	}
	if want != "" && !strings.Contains(string(body), want) {
		return fmt.Sprintf("%s, but the body does not contain %q", got, dayops.Truncate(x.e.redactor.Redact(want), 80)), false
	}
	return got, true
}
