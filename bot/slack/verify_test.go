package slack

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignatureExample(t *testing.T) {
	var ex struct {
		Secret    string `json:"signing_secret"`
		Timestamp string `json:"timestamp"`
		Body      string `json:"body"`
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal(fixture(t, "signature_example.json"), &ex); err != nil {
		t.Fatal(err)
	}
	sec, _ := strconv.ParseInt(ex.Timestamp, 10, 64)
	at := time.Unix(sec, 0)
	header := func(ts, sig string) http.Header {
		h := http.Header{}
		if ts != "" {
			h.Set("X-Slack-Request-Timestamp", ts)
		}
		if sig != "" {
			h.Set("X-Slack-Signature", sig)
		}
		return h
	}
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		ok     bool
	}{
		{"documented example", ex.Secret, header(ex.Timestamp, ex.Signature), ex.Body, at, true},
		{"4m59s later", ex.Secret, header(ex.Timestamp, ex.Signature), ex.Body, at.Add(299 * time.Second), true},
		{"6 minutes later", ex.Secret, header(ex.Timestamp, ex.Signature), ex.Body, at.Add(6 * time.Minute), false},
		{"6 minutes early", ex.Secret, header(ex.Timestamp, ex.Signature), ex.Body, at.Add(-6 * time.Minute), false},
		{"another secret", "not-the-secret", header(ex.Timestamp, ex.Signature), ex.Body, at, false},
		{"body changed", ex.Secret, header(ex.Timestamp, ex.Signature), ex.Body + "&x=1", at, false},
		{"timestamp changed", ex.Secret, header(strconv.FormatInt(sec+1, 10), ex.Signature), ex.Body, at, false},
		{"signature in upper case", ex.Secret, header(ex.Timestamp, strings.ToUpper(ex.Signature)), ex.Body, at, false},
		{"no signature", ex.Secret, header(ex.Timestamp, ""), ex.Body, at, false},
		{"no timestamp", ex.Secret, header("", ex.Signature), ex.Body, at, false},
		{"no secret configured", "", header(ex.Timestamp, signature("", ex.Timestamp, []byte(ex.Body))), ex.Body, at, false},
		{"timestamp not a number", ex.Secret, header("1531420618.5", ex.Signature), ex.Body, at, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(tt.secret, tt.h, []byte(tt.body), tt.now)
			if (err == nil) != tt.ok {
				t.Errorf("verify = %v; want ok %v", err, tt.ok)
			}
		})
	}
}

// TestIntakeRefusesBadRequests sends each endpoint what it must refuse: the
// answer has the right status and nothing is done, neither in Slack nor in
// the engine.
func TestIntakeRefusesBadRequests(t *testing.T) {
	w := newWorld(t)
	good := commandForm(t, sreUser, "deploy web staging v1.2.0")
	mention := mentionBody(t, sreUser, "<@"+botUser+"> deploy web staging v1.2.0", "EvBad")
	click := clickForm(t, sreUser, ActionIDCancel, "1", "trig-bad", "", "")
	now := time.Now()
	resign := func(r *http.Request, sig string) *http.Request { r.Header.Set("X-Slack-Signature", sig); return r }
	tests := []struct {
		name   string
		req    *http.Request
		status int
		reason string // in the body
	}{
		{"bad signature", resign(signed(PathCommands, good, now), "v0="+strings.Repeat("0", 64)), 401, "signature"},
		{"no signature", resign(signed(PathEvents, mention, now), ""), 401, "signature"},
		{"old timestamp", signed(PathCommands, good, now.Add(-6*time.Minute)), 401, "signature"},
		{"future timestamp", signed(PathInteractions, click, now.Add(6*time.Minute)), 401, "signature"},
		{"signed for another body", func() *http.Request {
			r := signed(PathEvents, mention, now)
			r.Body = httptest.NewRequest("POST", "/", strings.NewReader(strings.Replace(mention, "EvBad", "EvOther", 1))).Body
			return r
		}(), 401, "signature"},
		{"malformed form body", signed(PathCommands, "user_id=%zz&command=/ops", now), 400, "malformed form body"},
		{"command without a user", signed(PathCommands, "command=%2Fops&channel_id=C1&text=help", now), 400, "user_id"},
		{"payload not JSON", signed(PathInteractions, url.Values{"payload": {"{not json"}}.Encode(), now), 400, "payload is not JSON"},
		{"no payload", signed(PathInteractions, "x=1", now), 400, "without a payload"},
		{"malformed interaction form", signed(PathInteractions, "payload=%", now), 400, "malformed form body"},
		{"event not JSON", signed(PathEvents, "token=x", now), 400, "not an Events API JSON"},
		{"event without an id", signed(PathEvents, `{"type":"event_callback","event":{"type":"app_mention"}}`, now), 400, "event_id"},
		{"too large", signed(PathEvents, strings.Repeat(" ", maxBody+1), now), 413, "over"},
		{"GET", httptest.NewRequest(http.MethodGet, PathCommands, nil), 405, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := w.serve(tt.req)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.reason) {
				t.Errorf("answer %d %q; want %d with %q", rec.Code, rec.Body.String(), tt.status, tt.reason)
			}
		})
	}
	if calls := w.slack.Calls(); len(calls) > 0 {
		t.Errorf("slack was called: %s", methods(calls))
	}
	if calls := w.engine.Calls(); len(calls) > 0 {
		t.Errorf("engine was called: %q", calls)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(fixture(f, "slash_command.form"))
	f.Add([]byte(commandForm(f, sreUser, "deploy web staging v1.2.0")))
	f.Add([]byte("%zz"))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decodeCommand(body)
		if err == nil && (c.UserID == "" || c.ChannelID == "" || c.Command == "") {
			t.Errorf("decoded %+v without its required fields", c)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	for _, name := range []string{"event_app_mention.json", "event_message.json", "event_message_bot.json",
		"event_url_verification.json", "event_channel_created.json", "event_message_changed.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"type":"event_callback","event_id":"E1","event":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, _, err := decodeEvent(body)
		if err != nil {
			return
		}
		if env.Type == "event_callback" && env.EventID == "" || env.Type == "url_verification" && env.Challenge == "" {
			t.Errorf("decoded %+v without its required fields", env)
		}
	})
}

func FuzzDecodeInteraction(f *testing.F) {
	f.Add([]byte(url.Values{"payload": {string(fixture(f, "block_actions.json"))}}.Encode()))
	f.Add([]byte(clickForm(f, sreUser, ActionIDApprove, "1", "trig", "1.1", "1.2")))
	f.Add([]byte("payload=%7B%7D"))
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := decodeInteraction(body)
		if err == nil && cb.Type == "" {
			t.Errorf("decoded an interaction without a type")
		}
	})
}
