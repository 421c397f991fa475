package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"
)

// uploads fakes Slack's v2 file upload on f: files.getUploadURLExternal
// answers an upload URL on the same server, the bytes posted there are
// recorded as an "upload" call (form "filename" and "content"), and
// files.completeUploadExternal shares the file.
func (f *recordingSlack) uploads(c slacktest.Customize) {
	c.Handle("/files.getUploadURLExternal", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.calls = append(f.calls, slackCall{"files.getUploadURLExternal", r.Form})
		f.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"upload_url":%q,"file_id":"F1"}`, "http://"+f.srv.ServerAddr+"/upload/F1")
	})
	c.Handle("/upload/", func(w http.ResponseWriter, r *http.Request) {
		file, hdr, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		content, _ := io.ReadAll(file)
		f.mu.Lock()
		f.calls = append(f.calls, slackCall{"upload", url.Values{"filename": {hdr.Filename}, "content": {string(content)}}})
		f.mu.Unlock()
		fmt.Fprint(w, "OK")
	})
	c.Handle("/files.completeUploadExternal", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.calls = append(f.calls, slackCall{"files.completeUploadExternal", r.Form})
		f.mu.Unlock()
		fmt.Fprint(w, `{"ok":true,"files":[{"id":"F1","title":"output"}]}`)
	})
}

// TestServeSlackFullOutputEndToEnd: through `dayops serve` (HTTP mode), a
// run that fails offers Full output on its message; the click uploads the
// run's whole output as stored in the database into the run's thread, with
// the server's secrets masked.
func TestServeSlackFullOutputEndToEnd(t *testing.T) {
	fake := newSocketSlack(t)
	w := newSlackServeWorldOf(t, fake.recordingSlack, map[string]string{"ops/boom.yaml": "apiVersion: dayops/v1\nphase: day2\nname: boom\nsteps:\n" +
		"  - name: Boom\n    run: seq -f 'line %g of boom' 1 40; echo 'leaked xoxb-test-token'; exit 3\n"}, slackSRE)
	d := w.start(t)
	w.command(t, d, "run boom")
	eventually(t, 30*time.Second, "the run fails", func() bool { return storedRunState(t, d) == "failed" })
	eventually(t, 30*time.Second, "its message offers Full output", func() bool {
		for _, c := range fake.Calls() {
			if c.method == "chat.update" && strings.Contains(c.form.Get("blocks"), "dayops_output") {
				return true
			}
		}
		return false
	})

	w.click(t, d, "W111", "dayops_output", "1", "trig-output")
	var content string
	var done url.Values
	eventually(t, 30*time.Second, "the file is uploaded and shared", func() bool {
		for _, c := range fake.Calls() {
			switch c.method {
			case "upload":
				content = c.form.Get("content")
			case "files.completeUploadExternal":
				done = c.form
			}
		}
		return done != nil
	})
	for _, want := range []string{"== Boom ==", "line 1 of boom\n", "line 40 of boom\n", "leaked "} {
		if !strings.Contains(content, want) {
			t.Errorf("the file lacks %q:\n%s", want, content)
		}
	}
	if strings.Contains(content, "xoxb-test-token") {
		t.Errorf("the file holds the bot token:\n%s", content)
	}
	if done.Get("channel_id") != "C111" || done.Get("thread_ts") != w.runMessage() {
		t.Errorf("shared to %q thread %q; want C111 thread %q", done.Get("channel_id"), done.Get("thread_ts"), w.runMessage())
	}
	if bad := strings.Count(d.logs.String(), `"level":"ERROR"`); bad > 0 {
		t.Errorf("%d errors logged:\n%s", bad, d.logs.String())
	}
}
