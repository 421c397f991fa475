package web_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/web"
	"github.com/google/go-cmp/cmp"
)

// sse is one server-sent event.
type sse struct{ ID, Event, Data string }

// stream reads server-sent events from one response.
type stream struct {
	res    *http.Response
	events chan sse
}

// follow opens path with a Last-Event-ID (when lastID is not "") and reads
// its events.
func follow(t *testing.T, srv *httptest.Server, path, lastID string) *stream {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s = %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &stream{res: res, events: make(chan sse, 10000)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" {
					s.events <- ev
				}
				ev = sse{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	t.Cleanup(func() { res.Body.Close() })
	return s
}

// next is the next event, failing after a few seconds.
func (s *stream) next(t *testing.T) (sse, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return sse{}, false
}

// logsUntil reads events until the log line seq, returning the line
// numbers read and the other events' names.
func (s *stream) logsUntil(t *testing.T, seq int64) (seqs []int64, other []string) {
	t.Helper()
	for {
		ev, ok := s.next(t)
		if !ok {
			t.Fatalf("the stream ended before line %d (read %v)", seq, seqs)
		}
		if ev.Event != "log" {
			other = append(other, ev.Event)
			continue
		}
		var l struct {
			Seq  int64  `json:"seq"`
			Text string `json:"text"`
			Step string `json:"step"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &l); err != nil {
			t.Fatal(err)
		}
		if ev.ID != fmt.Sprint(l.Seq) {
			t.Errorf("line %d has event ID %q", l.Seq, ev.ID)
		}
		if l.Text != fmt.Sprintf("line %d", l.Seq) || l.Step != "Install" {
			t.Errorf("line %d = %q of step %q", l.Seq, l.Text, l.Step)
		}
		seqs = append(seqs, l.Seq)
		if l.Seq >= seq {
			return seqs, other
		}
	}
}

func seqs(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestLiveLog: the live log sends the lines after the page's last one, then
// new ones as they come; a connection dropped by the server resumes from
// Last-Event-ID with no line lost or twice, and the stream ends with the run.
func TestLiveLog(t *testing.T) {
	w := newWorld(t)
	r := w.run(dayops.RunRunning)
	w.lines(r.ID, 10, nil)
	srv := httptest.NewServer(w.mux)
	defer srv.Close()
	link := w.link(r.ID)
	q := link[strings.Index(link, "?")+1:]

	s := follow(t, srv, "/runs/1/events?after=10&"+q, "")
	w.lines(r.ID, 20, nil)
	got, _ := s.logsUntil(t, 30)

	srv.CloseClientConnections() // the server drops it
	for {
		if _, ok := s.next(t); !ok {
			break
		}
	}
	w.lines(r.ID, 15, nil) // while nobody listens
	s = follow(t, srv, "/runs/1/events?after=10&"+q, fmt.Sprint(got[len(got)-1]))
	more, _ := s.logsUntil(t, 45)
	got = append(got, more...)
	w.lines(r.ID, 5, nil)
	more, _ = s.logsUntil(t, 50)
	got = append(got, more...)
	if diff := cmp.Diff(seqs(11, 50), got); diff != "" {
		t.Errorf("lines across the drop (-want +got):\n%s", diff)
	}

	w.end(r.ID, dayops.RunFailed)
	var names []string
	for {
		ev, ok := s.next(t)
		if !ok {
			break
		}
		names = append(names, ev.Event)
		if ev.Event == "state" && !strings.Contains(ev.Data, `"state":"failed"`) {
			t.Errorf("state event %s", ev.Data)
		}
	}
	if diff := cmp.Diff([]string{"state", "end"}, names); diff != "" {
		t.Errorf("events at the end (-want +got):\n%s", diff)
	}
}

// TestLiveLogBacklog: a browser far behind is not sent the whole log: a
// gap event names the lines it skips, and the last ones follow.
func TestLiveLogBacklog(t *testing.T) {
	w := newWorld(t)
	r := w.run(dayops.RunRunning)
	w.lines(r.ID, 5000, nil)
	srv := httptest.NewServer(w.mux)
	defer srv.Close()
	login := w.login()
	req, _ := http.NewRequest("GET", srv.URL+"/runs/1/events", nil)
	req.Header = login
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	var head strings.Builder
	for !strings.Contains(head.String(), "id: 4001\n") {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading: %v after %q", err, head.String())
		}
		head.WriteString(line)
	}
	if !strings.Contains(head.String(), "event: gap\ndata: {\"after\":0,\"before\":4001}\n") {
		t.Errorf("no gap event before line 4001:\n%s", head.String())
	}
	if strings.Contains(head.String(), "id: 4000\n") {
		t.Errorf("line 4000 was sent")
	}
}

// TestLiveLogEnded: a run that has ended sends its lines after the given
// one, its state and the end; a bad Last-Event-ID is 400.
func TestLiveLogEnded(t *testing.T) {
	w := newWorld(t)
	r := w.run(dayops.RunRunning)
	w.lines(r.ID, 3, nil)
	w.end(r.ID, dayops.RunSucceeded)
	srv := httptest.NewServer(w.mux)
	defer srv.Close()
	link := w.link(r.ID)
	q := link[strings.Index(link, "?")+1:]
	s := follow(t, srv, "/runs/1/events?after=1&"+q, "")
	got, other := s.logsUntil(t, 3)
	if diff := cmp.Diff([]int64{2, 3}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	for {
		ev, ok := s.next(t)
		if !ok {
			break
		}
		other = append(other, ev.Event)
	}
	if diff := cmp.Diff([]string{"state", "state", "end"}, other); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/runs/1/events?"+q, nil)
	req.Header.Set("Last-Event-ID", "x")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("Last-Event-ID x = %d, want 400", res.StatusCode)
	}
}

// TestLiveLogHeartbeat: an idle live log sends a comment now and then, so
// that proxies keep the connection open.
func TestLiveLogHeartbeat(t *testing.T) {
	w := newWorld(t, func(o *web.Options) { o.Heartbeat = 20 * time.Millisecond })
	w.run(dayops.RunRunning)
	srv := httptest.NewServer(w.mux)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/runs/1/events", nil)
	req.Header = w.login()
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	deadline := time.Now().Add(5 * time.Second)
	for pings := 0; pings < 2; {
		if time.Now().After(deadline) {
			t.Fatal("no two heartbeats within 5s")
		}
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == ": ping\n" {
			pings++
		}
	}
}
