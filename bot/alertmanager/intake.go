package alertmanager

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

// Path is where Alertmanager's webhook receiver posts.
const Path = "/hooks/alertmanager"

// maxBody bounds a notification: Alertmanager's own payloads are a few
// kilobytes per alert, and max_alerts keeps groups in bounds.
const maxBody = 4 << 20

// Pipeline is what the intake hands notifications to: *bot.Bot.
type Pipeline interface {
	Alert(ctx context.Context, n bot.AlertNotice) error
}

// Options configure an Intake.
type Options struct {
	Token    string   // the bearer token Alertmanager sends; empty refuses every request
	Pipeline Pipeline // required
	// Timeout bounds the handling of one notification, default 20s;
	// Alertmanager's webhook timeout should be longer.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Intake is the http.Handler of POST /hooks/alertmanager.
type Intake struct {
	token    [sha256.Size]byte
	hasToken bool
	pipeline Pipeline
	timeout  time.Duration
	log      *slog.Logger
	closed   atomic.Bool
}

// Close makes the intake answer 503 from now on: dayops is shutting down
// and Alertmanager sends the notification again (to it after the restart,
// or to another replica).
func (in *Intake) Close() { in.closed.Store(true) }

// New returns an Intake.
func New(opts Options) (*Intake, error) {
	if opts.Pipeline == nil {
		return nil, errors.New("alertmanager: Pipeline is required")
	}
	in := &Intake{token: sha256.Sum256([]byte(opts.Token)), hasToken: opts.Token != "", pipeline: opts.Pipeline,
		timeout: opts.Timeout, log: opts.Logger}
	if in.timeout <= 0 {
		in.timeout = 20 * time.Second
	}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	return in, nil
}

// authorized compares the request's bearer token with the configured one
// in constant time (of equal-length digests: the length leaks nothing).
func (in *Intake) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !in.hasToken {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], in.token[:]) == 1
}

// ServeHTTP answers one notification.
func (in *Intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !in.authorized(r) {
		in.log.Warn("alertmanager: refused a request without the right bearer token", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="dayops"`)
		http.Error(w, "a valid bearer token is required (DAYOPS_ALERTMANAGER_TOKEN, sent by the receiver's http_config.authorization)", http.StatusUnauthorized)
		return
	}
	if in.closed.Load() {
		http.Error(w, "dayops is shutting down; Alertmanager will send it again", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, fmt.Sprintf("reading the body: %v", err), http.StatusBadRequest)
		return
	}
	n, err := Decode(body)
	if err != nil {
		http.Error(w, dayops.UserMessage(err, ""), http.StatusBadRequest)
		return
	}
	in.log.Info("alertmanager notification", "status", n.Status, "group_key", n.GroupKey, "alerts", len(n.Alerts))
	// The work runs on its own context: Alertmanager hanging up must not
	// leave a group half answered.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), in.timeout)
	defer cancel()
	if err := in.pipeline.Alert(ctx, n); err != nil {
		if dayops.KindOf(err) == dayops.KindInvalid {
			http.Error(w, dayops.UserMessage(err, ""), http.StatusBadRequest)
			return
		}
		in.log.Error("alertmanager: handling a notification", "group_key", n.GroupKey, "status", n.Status, "err", err)
		http.Error(w, "dayops could not record the notification; Alertmanager will send it again", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// payload is Alertmanager's webhook body, version 4.
type payload struct {
	Version           string            `json:"version"`
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	GroupKey          string            `json:"groupKey"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

// Decode reads a version 4 webhook body. Errors are KindInvalid and say
// what is wrong.
func Decode(body []byte) (bot.AlertNotice, error) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return bot.AlertNotice{}, dayops.Errorf(dayops.KindInvalid, "the body is not an Alertmanager webhook payload: %s", dayops.Truncate(err.Error(), 200))
	}
	switch {
	case p.Version != "4":
		return bot.AlertNotice{}, dayops.Errorf(dayops.KindInvalid, "payload version %q: dayops reads Alertmanager's webhook version 4", dayops.Truncate(p.Version, 20))
	case p.Status != bot.AlertFiring && p.Status != bot.AlertResolved:
		return bot.AlertNotice{}, dayops.Errorf(dayops.KindInvalid, "status %q is neither firing nor resolved", dayops.Truncate(p.Status, 20))
	case p.GroupKey == "":
		return bot.AlertNotice{}, dayops.Errorf(dayops.KindInvalid, "the payload has no groupKey")
	case len(p.Alerts) == 0:
		return bot.AlertNotice{}, dayops.Errorf(dayops.KindInvalid, "the payload has no alerts")
	}
	n := bot.AlertNotice{Receiver: p.Receiver, Status: p.Status, GroupKey: p.GroupKey, GroupLabels: p.GroupLabels,
		CommonLabels: p.CommonLabels, CommonAnnotations: p.CommonAnnotations, ExternalURL: p.ExternalURL}
	for i, a := range p.Alerts {
		switch {
		case a.Status != bot.AlertFiring && a.Status != bot.AlertResolved:
			return bot.AlertNotice{}, dayops.Errorf(dayops.KindInvalid, "alert %d: status %q is neither firing nor resolved", i, dayops.Truncate(a.Status, 20))
		case a.Fingerprint == "":
			return bot.AlertNotice{}, dayops.Errorf(dayops.KindInvalid, "alert %d has no fingerprint", i)
		case a.StartsAt.IsZero():
			return bot.AlertNotice{}, dayops.Errorf(dayops.KindInvalid, "alert %d has no startsAt", i)
		}
		n.Alerts = append(n.Alerts, bot.Alert{Status: a.Status, Labels: a.Labels, Annotations: a.Annotations,
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL, Fingerprint: a.Fingerprint})
	}
	return n, nil
}
