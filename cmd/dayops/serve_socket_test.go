package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack/slacktest"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/fixtures"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

// socketConn is one Socket Mode connection dayops opened to the fake Slack.
type socketConn struct {
	c    *websocket.Conn
	acks chan string // the envelope IDs acknowledged on it
	done chan struct{}
}

// socketSlack is a recordingSlack that also serves Socket Mode:
// apps.connections.open answers the URL of its own /ws, and every
// connection dayops opens there is handed to the test on conns. It takes
// file uploads too (serve_output_test.go).
type socketSlack struct {
	*recordingSlack
	conns chan *socketConn
	mu    sync.Mutex
	opens int // apps.connections.open calls
}

func newSocketSlack(t *testing.T) *socketSlack {
	f := &socketSlack{recordingSlack: &recordingSlack{}, conns: make(chan *socketConn, 4)}
	rec := f.recordingSlack
	rec.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		for _, m := range []string{"chat.postMessage", "chat.postEphemeral", "chat.update"} {
			c.Handle("/"+m, rec.record(m))
		}
		c.Handle("/auth.test", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"ok":true,"user":"dayops","user_id":"UDAYOPS","team_id":"T111","bot_id":"B111"}`)
		})
		c.Handle("/conversations.info", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			fmt.Fprintf(w, `{"ok":true,"channel":{"id":%q,"name":"deploys"}}`, r.Form.Get("channel"))
		})
		c.Handle("/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
			if got := r.Header.Get("Authorization"); got != "Bearer xapp-test-token" {
				fmt.Fprint(w, `{"ok":false,"error":"invalid_auth"}`)
				return
			}
			f.mu.Lock()
			f.opens++
			f.mu.Unlock()
			fmt.Fprintf(w, `{"ok":true,"url":%q}`, "ws://"+rec.srv.ServerAddr+"/ws")
		})
		rec.uploads(c)
		c.Handle("/ws", slacktest.Websocket(func(c *websocket.Conn) {
			sc := &socketConn{c: c, acks: make(chan string, 16), done: make(chan struct{})}
			go func() {
				for {
					var ack struct {
						EnvelopeID string `json:"envelope_id"`
					}
					if err := c.ReadJSON(&ack); err != nil {
						return
					}
					sc.acks <- ack.EnvelopeID
				}
			}()
			f.conns <- sc
			<-sc.done
		}))
	})
	rec.srv.Start()
	t.Cleanup(rec.srv.Stop)
	return f
}

// next is the next connection dayops opens.
func (f *socketSlack) next(t *testing.T) *socketConn {
	t.Helper()
	select {
	case sc := <-f.conns:
		return sc
	case <-time.After(30 * time.Second):
		t.Fatal("dayops opened no Socket Mode connection")
		return nil
	}
}

// send writes a frame and, for an envelope, waits for its acknowledgement
// on this connection.
func (sc *socketConn) send(t *testing.T, frame map[string]any) {
	t.Helper()
	if err := sc.c.WriteJSON(frame); err != nil {
		t.Fatal(err)
	}
	id, _ := frame["envelope_id"].(string)
	if id == "" {
		return
	}
	select {
	case got := <-sc.acks:
		if got != id {
			t.Fatalf("acknowledged %q; want %q", got, id)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("envelope %s not acknowledged within Slack's 3 s", id)
	}
}

// socketFixture is a Socket Mode fixture of the shared Slack fixtures.
func socketFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixtures.Read(t, "slack", name), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestServeSlackSocketModeEndToEnd: `dayops serve` with slack.mode socket
// and an app token connects to Slack's Socket Mode; a slash command
// envelope starts a run; Slack asks for a reconnect (disconnect) while the
// run goes on and redelivers the same envelope on the new connection. The
// run is started once, its message ends in the final state, and every
// envelope is acknowledged.
func TestServeSlackSocketModeEndToEnd(t *testing.T) {
	fake := newSocketSlack(t)
	gs := gitserver.New(t)
	gs.Commit("defs", map[string]string{"ops/nap.yaml": "apiVersion: dayops/v1\nphase: day2\nname: nap\nsteps:\n  - name: Nap\n    run: sleep 2\n"})
	file := serveConfig(t, gs.URL(), "30s") + "base_url: https://dayops.example.com\nslack: {mode: socket}\nroles:\n  sre: {members: [\"slack:W111\"], allow: [\"*\"]}\n"
	d := startServe(t, file, "DAYOPS_SLACK_BOT_TOKEN", "xoxb-test-token", "DAYOPS_SLACK_APP_TOKEN", "xapp-test-token",
		"DAYOPS_SLACK_API_URL", fake.srv.GetAPIURL())
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, d.url+"/readyz"); return code == http.StatusOK })

	hello := socketFixture(t, "socket_hello.json")
	disconnect := socketFixture(t, "socket_disconnect.json")
	command := socketFixture(t, "socket_slash_commands.json")
	p := command["payload"].(map[string]any)
	p["command"], p["text"], p["user_id"], p["user_name"] = commandsPrefix, "run nap", "W111", "alice"

	first := fake.next(t)
	first.send(t, hello)
	first.send(t, command)
	eventually(t, 30*time.Second, "the run is running", func() bool { return storedRunState(t, d) == string(dayops.RunRunning) })
	first.send(t, disconnect)
	second := fake.next(t) // the new connection opens before the old is dropped
	close(first.done)
	second.send(t, hello)
	second.send(t, command) // Slack redelivers what it counts as not handled
	if state := storedRunState(t, d); state != string(dayops.RunRunning) {
		t.Fatalf("run 1 is %q once the envelope is redelivered; the test wants it still running", state)
	}

	eventually(t, 30*time.Second, "the run's message shows its end", func() bool { _, ok := fake.finalUpdate(); return ok })
	d.srv.bot.Wait()
	close(second.done)

	runs, err := d.srv.store.Runs(context.Background(), dayops.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Errorf("%d runs started; want one", len(runs))
	} else if runs[0].State != dayops.RunSucceeded || runs[0].Actor.ID != "slack:W111" {
		t.Errorf("run by %s is %s; want by slack:W111, succeeded", runs[0].Actor.ID, runs[0].State)
	}
	roots, runMessages := 0, 0
	var thread string
	for _, c := range fake.Calls() {
		switch {
		case c.method == "chat.postMessage" && c.form.Get("thread_ts") == "":
			roots++
		case c.method == "chat.postMessage":
			runMessages++
			thread = c.form.Get("thread_ts")
		}
	}
	if roots != 1 || runMessages != 1 || thread == "" {
		t.Errorf("%d root messages and %d run messages posted (thread %q); want one of each, the run's in the root's thread", roots, runMessages, thread)
	}
	fake.mu.Lock()
	opens := fake.opens
	fake.mu.Unlock()
	if opens < 2 {
		t.Errorf("apps.connections.open called %d times; want a new connection after the disconnect", opens)
	}
	if bad := strings.Count(d.logs.String(), `"level":"ERROR"`); bad > 0 {
		t.Errorf("%d errors logged:\n%s", bad, d.logs.String())
	}
}
