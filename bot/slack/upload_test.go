package slack

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/dayops/dayops"
)

// uploadHandlers fake Slack's v2 file upload: files.getUploadURLExternal
// answers an upload URL on the fake server, the bytes posted there are
// recorded as an "upload" call (Form "filename" and "content"), and
// files.completeUploadExternal shares the file.
func (f *fakeSlack) uploadHandlers(c slacktest.Customize) {
	c.Handle("/files.getUploadURLExternal", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		if e := f.refuse["files.getUploadURLExternal"]; e != "" {
			f.mu.Unlock()
			fmt.Fprintf(w, `{"ok":false,"error":%q}`, e)
			return
		}
		f.seq++
		id := fmt.Sprintf("F%06d", f.seq)
		f.calls = append(f.calls, call{Method: "files.getUploadURLExternal", Form: r.Form, TS: id})
		f.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"upload_url":%q,"file_id":%q}`, "http://"+f.srv.ServerAddr+"/upload/"+id, id)
	})
	c.Handle("/upload/", func(w http.ResponseWriter, r *http.Request) {
		file, hdr, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		content, _ := io.ReadAll(file)
		f.mu.Lock()
		f.calls = append(f.calls, call{Method: "upload", TS: strings.TrimPrefix(r.URL.Path, "/upload/"),
			Form: url.Values{"filename": {hdr.Filename}, "content": {string(content)}}})
		f.mu.Unlock()
		fmt.Fprint(w, "OK")
	})
	c.Handle("/files.completeUploadExternal", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.calls = append(f.calls, call{Method: "files.completeUploadExternal", Form: r.Form})
		f.mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"files":[{"id":"F1","title":"output"}]}`)
	})
}

// failedRun is a world whose run 1 (a staging deploy by W111) failed in its
// second step, with output lines in both steps, one holding a secret that
// was stored unmasked.
func failedRun(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	w.serve(signed(PathCommands, commandForm(t, sreUser, "deploy web staging v1.2.0"), time.Now()))
	if n := len(w.engine.Requests()); n != 1 {
		t.Fatalf("%d runs started", n)
	}
	for i := range 30 {
		step := 0
		if i >= 10 {
			step = 1
		}
		w.store.AddLogs(dayops.LogLine{RunID: 1, Step: step, Seq: int64(i + 1), Stream: dayops.Stdout, Text: fmt.Sprintf("line %d of step %d", i, step)})
	}
	w.store.AddLogs(dayops.LogLine{RunID: 1, Step: 1, Seq: 31, Stream: dayops.Stderr, Text: "password=hunter2-secret refused"})
	w.store.Update(1, func(r *dayops.Run) {
		r.State = dayops.RunFailed
		r.Steps = []dayops.StepRun{
			{RunID: 1, Index: 0, Name: "build", State: dayops.StepSucceeded},
			{RunID: 1, Index: 1, Name: "migrate", State: dayops.StepFailed, Error: "exit 1"},
		}
	})
	w.settle()
	return w
}

func TestFullOutputUploaded(t *testing.T) {
	w := failedRun(t)
	th := w.engine.Requests()[0].Thread
	offered := false
	for _, c := range w.slack.Calls() {
		offered = offered || (strings.Contains(c.Form.Get("blocks"), ActionIDOutput) && strings.Contains(c.Form.Get("blocks"), "Full output"))
	}
	if !offered {
		t.Fatalf("the failed run's message offers no Full output button; calls %s", methods(w.slack.Calls()))
	}
	before := len(w.slack.Calls())
	w.serve(signed(PathInteractions, clickForm(t, devUser, ActionIDOutput, "1", "trig-out", th.ID, w.runTS()), time.Now()))
	calls := w.slack.Calls()[before:]
	var got []string
	for _, c := range calls {
		got = append(got, c.Method)
	}
	want := []string{"files.getUploadURLExternal", "upload", "files.completeUploadExternal"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("slack calls %q; want %q", got, want)
	}
	content := calls[1].Form.Get("content")
	if n := calls[0].Form.Get("length"); n != fmt.Sprint(len(content)) {
		t.Errorf("announced length %s; uploaded %d bytes", n, len(content))
	}
	if calls[0].Form.Get("filename") != "run-1-output.txt" || calls[1].Form.Get("filename") != "run-1-output.txt" {
		t.Errorf("file named %q, uploaded as %q; want run-1-output.txt", calls[0].Form.Get("filename"), calls[1].Form.Get("filename"))
	}
	for _, l := range []string{"== build ==", "line 0 of step 0", "line 9 of step 0", "== migrate ==", "line 10 of step 1", "line 29 of step 1", "[stderr] password=" + dayops.Mask + " refused"} {
		if !strings.Contains(content, l) {
			t.Errorf("the file lacks %q:\n%s", l, content)
		}
	}
	if strings.Contains(content, "hunter2-secret") {
		t.Errorf("the file holds the secret:\n%s", content)
	}
	done := calls[2].Form
	if done.Get("channel_id") != th.Channel || done.Get("thread_ts") != th.ID {
		t.Errorf("shared to channel %q thread %q; want the run's thread %s", done.Get("channel_id"), done.Get("thread_ts"), th)
	}
	if !strings.Contains(done.Get("files"), calls[0].TS) {
		t.Errorf("completed files %s; want the uploaded %s", done.Get("files"), calls[0].TS)
	}
	if c := done.Get("initial_comment"); !strings.Contains(c, "Full output of run 1") || !strings.Contains(c, "31 lines") || !strings.Contains(c, "migrate failed") {
		t.Errorf("initial comment %q; want what the file is", c)
	}
}

func TestFullOutputRefused(t *testing.T) {
	for _, tc := range []struct {
		name, user, value, want string
	}{
		{name: "a user without a role", user: strangerU, value: "1", want: "has no role"},
		{name: "a run not known", user: sreUser, value: "7", want: "run 7 is not known"},
		{name: "no run", user: sreUser, value: "x", want: "names no run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := failedRun(t)
			th := w.engine.Requests()[0].Thread
			before := len(w.slack.Calls())
			w.serve(signed(PathInteractions, clickForm(t, tc.user, ActionIDOutput, tc.value, "trig-x", th.ID, w.runTS()), time.Now()))
			calls := w.slack.Calls()[before:]
			if len(calls) != 1 || calls[0].Method != "chat.postEphemeral" || !strings.Contains(calls[0].blocksText(), tc.want) {
				t.Errorf("slack calls %s (%+v); want one ephemeral answer saying %q", methods(calls), calls, tc.want)
			}
		})
	}
}

// TestFullOutputUploadRefused: where Slack refuses the upload (the app
// lacks files:write), the thread is still told what the file was and where
// to read it, without Slack's error.
func TestFullOutputUploadRefused(t *testing.T) {
	w := failedRun(t)
	th := w.engine.Requests()[0].Thread
	w.slack.mu.Lock()
	w.slack.refuse = map[string]string{"files.getUploadURLExternal": "missing_scope"}
	w.slack.mu.Unlock()
	before := len(w.slack.Calls())
	w.serve(signed(PathInteractions, clickForm(t, sreUser, ActionIDOutput, "1", "trig-refused", th.ID, w.runTS()), time.Now()))
	calls := w.slack.Calls()[before:]
	if len(calls) != 1 || calls[0].Method != "chat.postMessage" || calls[0].Form.Get("thread_ts") != th.ID {
		t.Fatalf("slack calls %s; want one message in the run's thread", methods(calls))
	}
	text := calls[0].blocksText()
	if !strings.Contains(text, "Full output of run 1") || !strings.Contains(text, "dayops logs 1") || strings.Contains(text, "missing_scope") {
		t.Errorf("message %q; want what the file was and where to read it, without Slack's error", text)
	}
}
