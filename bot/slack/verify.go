package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds the body of one request from Slack. Slack's payloads are a
// few kilobytes; a modal's state stays well under this.
const maxBody = 1 << 20

// maxSkew is how far a request's timestamp may be from the door's clock.
// Slack's own recommendation: older requests may be replays.
const maxSkew = 5 * time.Minute

// errBadSignature is why a request is refused with 401; the reason is logged,
// never told to the sender, who learns only that it is not accepted.
type errBadSignature struct{ reason string }

func (e errBadSignature) Error() string { return "request not signed by slack: " + e.reason }

// signature is the v0 signature Slack sends for body at timestamp ts.
func signature(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// verify checks the signature headers of a request against its raw body:
// the v0 HMAC-SHA256 of "v0:timestamp:body" under the signing secret,
// compared in constant time, and a timestamp within maxSkew of now.
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	if secret == "" {
		// An empty key is a key anyone has.
		return errBadSignature{"no signing secret configured (DAYOPS_SLACK_SIGNING_SECRET): dayops takes no HTTP requests from Slack"}
	}
	ts := h.Get("X-Slack-Request-Timestamp")
	sig := h.Get("X-Slack-Signature")
	if ts == "" || sig == "" {
		return errBadSignature{"missing X-Slack-Request-Timestamp or X-Slack-Signature"}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errBadSignature{fmt.Sprintf("timestamp %q is not a number of seconds", ts)}
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return errBadSignature{fmt.Sprintf("timestamp %s is %s off the server clock (at most %s)", ts, d.Round(time.Second), maxSkew)}
	}
	want := signature(secret, ts, body)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errBadSignature{"signature does not match the body"}
	}
	return nil
}

// errTooLarge is a body over maxBody.
var errTooLarge = errors.New("request body too large")

// readSigned reads the body of r (at most maxBody) and verifies it. It
// answers the request itself when it refuses it: 413 for a body too large,
// 401 for a bad signature; ok is false then.
func (d *Door) readSigned(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "only POST is accepted here", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err == nil && len(body) > maxBody {
		err = errTooLarge
	}
	if err != nil {
		d.log.Warn("slack request body not read", "path", r.URL.Path, "err", err)
		if errors.Is(err, errTooLarge) {
			http.Error(w, fmt.Sprintf("request body over %d bytes", maxBody), http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "request body could not be read", http.StatusBadRequest)
		}
		return nil, false
	}
	if err := verify(d.secret, r.Header, body, d.now()); err != nil {
		d.log.Warn("slack request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		http.Error(w, "bad or missing Slack signature: check the app's signing secret (DAYOPS_SLACK_SIGNING_SECRET) and the server clock", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// badRequest answers 400 with the reason, which the sender may read.
func badRequest(w http.ResponseWriter, reason string) {
	http.Error(w, strings.TrimSpace(reason), http.StatusBadRequest)
}
