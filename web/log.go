package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dayops/dayops"
)

// logPage is how many lines a page of the log or of search results shows;
// textPage how many lines log.txt reads at a time; replayLines how many
// stored lines the live log sends at most before the live ones.
const (
	logPage     = 500
	textPage    = 5000
	replayLines = 1000
)

// logView is a page of a log: before or after a line, or search results.
type logView struct {
	page
	Run     *dayops.Run
	Steps   map[int]string
	Search  string
	Step    int    // the step whose lines are shown, -1 every step
	StepOf  string // its name
	Lines   []dayops.LogLine
	Earlier int64 // a line before which there are more, 0 none
	Later   int64 // a line after which there are more, 0 none
}

// logPage serves /runs/{id}/log: ?before=SEQ, ?after=SEQ (a page of lines
// before or after that line), ?q=TEXT and ?step=INDEX (lines containing
// TEXT, lines of one step; both page on with &after=SEQ), or without a
// query the end of the log.
func (s *Server) logPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vw := viewerOf(ctx)
	q := r.URL.Query()
	seqOf := func(key string) (int64, bool) {
		v := q.Get(key)
		if v == "" {
			return 0, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.problem(w, http.StatusBadRequest, fmt.Sprintf("%s %q is not a line number: use the number shown left of a line, e.g. %s=1000", key, v, key), "")
			return 0, false
		}
		return n, true
	}
	before, ok := seqOf("before")
	if !ok {
		return
	}
	after, ok := seqOf("after")
	if !ok {
		return
	}
	run, err := s.opts.Store.Run(ctx, vw.RunID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := logView{page: page{Title: fmt.Sprintf("Log of run #%d", run.ID), User: vw.User, Viewer: vw},
		Run: run, Steps: stepNames(run), Search: strings.TrimSpace(q.Get("q")), Step: -1}
	if st := q.Get("step"); st != "" {
		n, err := strconv.Atoi(st)
		name, ok := v.Steps[n]
		if err != nil || !ok {
			s.problem(w, http.StatusBadRequest, fmt.Sprintf("step %q is not a step of run %d: use the number in the first column of its steps, 0 to %d", st, run.ID, len(run.Steps)-1), "")
			return
		}
		v.Step, v.StepOf = n, name
	}
	switch {
	case v.Search != "" || v.Step >= 0:
		v.Lines, err = s.search(r, run.ID, v.Step, v.Search, after)
		if len(v.Lines) == logPage {
			v.Later = v.Lines[len(v.Lines)-1].Seq
		}
	case q.Has("after"):
		v.Lines, err = s.opts.Store.Logs(ctx, run.ID, after, logPage)
		if len(v.Lines) > 0 {
			v.Earlier = v.Lines[0].Seq
		}
		if len(v.Lines) == logPage {
			v.Later = v.Lines[len(v.Lines)-1].Seq
		}
	default:
		v.Lines, err = s.opts.Store.LogsBefore(ctx, run.ID, before, logPage)
		if len(v.Lines) == logPage {
			v.Earlier = v.Lines[0].Seq
		}
		if before > 0 && len(v.Lines) > 0 {
			v.Later = v.Lines[len(v.Lines)-1].Seq
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "log.html", v)
}

// search returns up to logPage lines after afterSeq whose redacted text
// still contains text: searching for a secret finds nothing, not the lines
// that hold it.
func (s *Server) search(r *http.Request, runID int64, step int, text string, afterSeq int64) ([]dayops.LogLine, error) {
	want := strings.ToLower(text)
	var out []dayops.LogLine
	for len(out) < logPage {
		limit := logPage - len(out)
		lines, err := s.opts.Store.SearchLogs(r.Context(), runID, step, text, afterSeq, limit)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			afterSeq = l.Seq
			if strings.Contains(strings.ToLower(s.redact(l.Text)), want) {
				out = append(out, l)
			}
		}
		if len(lines) < limit {
			break
		}
	}
	return out, nil
}

// logText serves /runs/{id}/log.txt: the whole log as text, read and sent
// a page at a time, so its size costs the server nothing.
func (s *Server) logText(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := viewerOf(ctx).RunID
	run, err := s.opts.Store.Run(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="dayops-run-%d.log"`, run.ID))
	bw := bufio.NewWriterSize(w, 64<<10)
	var after int64
	for {
		lines, err := s.opts.Store.Logs(ctx, run.ID, after, textPage)
		if err != nil {
			// The status is sent: say so at the end of the text.
			s.log.Error("streaming a log", "run_id", run.ID, "err", err)
			fmt.Fprintf(bw, "\n[dayops: the log could not be read past line %d; download it again]\n", after)
			break
		}
		for _, l := range lines {
			bw.WriteString(s.redact(l.Text))
			bw.WriteByte('\n')
		}
		if len(lines) < textPage {
			break
		}
		after = lines[len(lines)-1].Seq
	}
	bw.Flush()
}

// liveLine is a log line as the live log sends it.
type liveLine struct {
	Seq    int64  `json:"seq"`
	Step   string `json:"step"`
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

// liveStep is a step's change as the live log sends it.
type liveStep struct {
	Index    int    `json:"index"`
	State    string `json:"state"`
	Duration string `json:"duration"`
}

// liveState is the run's state as the live log sends it.
type liveState struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
	Final  bool   `json:"final"`
}

// liveLog serves /runs/{id}/events: the run's log lines after Last-Event-ID
// (a browser that reconnects sends the last line it has) or ?after=SEQ as
// server-sent events with the line's Seq as ID, then the live ones, with no
// line lost or sent twice (dayops.Follow), and the changes of steps and the
// run's state. It ends with an "end" event once the run has ended. When the
// client is further behind than replayLines, a "gap" event says which lines
// it skips (the page links them) rather than sending a huge log.
func (s *Server) liveLog(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := viewerOf(ctx).RunID
	after, err := resumeFrom(r)
	if err != nil {
		s.problem(w, http.StatusBadRequest, err.Error(), "")
		return
	}
	last, err := s.opts.Store.LogsBefore(ctx, id, 0, 1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.opts.Store.Run(ctx, id); err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bw := bufio.NewWriter(w)
	fmt.Fprint(bw, "retry: 1000\n\n")
	if len(last) == 1 && last[0].Seq-after > replayLines {
		skipTo := last[0].Seq - replayLines
		writeEvent(bw, "gap", "", map[string]int64{"after": after, "before": skipTo + 1})
		after = skipTo
	}
	bw.Flush()
	rc.Flush()

	steps := map[int]string{}
	snapshot := true // Follow's first event is the run as stored, not its end
	events := dayops.Follow(ctx, s.opts.Store, s.opts.Events, id, after)
	beat := time.NewTicker(s.opts.Heartbeat)
	defer beat.Stop()
	for {
		var ev dayops.RunEvent
		var open bool
		select {
		case ev, open = <-events:
		case <-beat.C:
			fmt.Fprint(bw, ": ping\n\n")
			if bw.Flush() != nil || rc.Flush() != nil {
				return
			}
			continue
		}
		if !open {
			return
		}
		end := false
		switch {
		case ev.Kind == dayops.EventLog && ev.Line != nil:
			l := s.lineView(steps, *ev.Line)
			writeEvent(bw, "log", strconv.FormatInt(l.Seq, 10), liveLine{Seq: l.Seq, Step: l.Step, Stream: string(l.Stream), Text: l.Text})
		case ev.Kind == dayops.EventStep && ev.Step != nil:
			st := *ev.Step
			steps[st.Index] = st.Name
			d := ""
			if !st.StartedAt.IsZero() && !st.EndedAt.IsZero() {
				d = st.EndedAt.Sub(st.StartedAt).Round(time.Millisecond).String()
			}
			writeEvent(bw, "step", "", liveStep{Index: st.Index, State: string(st.State), Duration: d})
		case (ev.Kind == dayops.EventState || ev.Kind == dayops.EventInterrupted) && ev.Run != nil:
			if len(ev.Run.Steps) > 0 {
				for k, v := range stepNames(ev.Run) {
					steps[k] = v
				}
			}
			final := ev.Run.State.Final() && !snapshot
			snapshot = false
			writeEvent(bw, "state", "", liveState{State: string(ev.Run.State), Reason: s.redact(ev.Run.Reason), Final: final})
			end = final
		case ev.Kind == "" && ev.Message != "":
			s.log.Error("following a run for its page", "run_id", id, "err", s.redact(ev.Message))
			writeEvent(bw, "problem", "", map[string]string{"message": "the live log stopped: the log cannot be read now; reload the page"})
			end = true
		}
		if end {
			writeEvent(bw, "end", "", struct{}{})
		}
		if len(events) == 0 || end {
			if bw.Flush() != nil || rc.Flush() != nil {
				return
			}
		}
		if end {
			return
		}
	}
}

// resumeFrom is the line after which the live log starts: Last-Event-ID
// when the browser reconnects, else ?after.
func resumeFrom(r *http.Request) (int64, error) {
	v, what := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if v == "" {
		v, what = r.URL.Query().Get("after"), "after"
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s %q is not a line number: it is the last line the page has, e.g. 1200", what, v)
	}
	return n, nil
}

// writeEvent writes one server-sent event; data is JSON on one line.
func writeEvent(w *bufio.Writer, event, id string, data any) {
	b, _ := json.Marshal(data)
	if id != "" {
		fmt.Fprintf(w, "id: %s\n", id)
	}
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
}
