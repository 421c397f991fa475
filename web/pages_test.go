package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/dayops/dayops"
	"github.com/google/go-cmp/cmp"
)

// TestRunPage: a run page shows who asked and approved, the parameters,
// the revision and its changes, every step, and the end of the log, with
// every secret masked; the log pages page back, search and download it.
func TestRunPage(t *testing.T) {
	w := newWorld(t)
	r := w.run(dayops.RunRunning)
	ctx := context.Background()
	if err := w.store.AddApproval(ctx, &dayops.Approval{RunID: r.ID, Gate: "production", Actor: dayops.Actor{ID: "slack:U0BOB", Name: "bob"},
		Approved: true, Valid: true}, dayops.AuditEvent{Actor: "slack:U0BOB", Action: "run.approve", Allowed: true}); err != nil {
		t.Fatal(err)
	}
	w.lines(r.ID, 1200, func(seq int64) string {
		if seq == 1100 {
			return "export TOKEN=" + secret
		}
		return fmt.Sprintf("line %d <b>", seq)
	})
	link := w.link(r.ID)
	q := url.Values{}
	if u, err := url.Parse(link); err == nil {
		q = u.Query()
	}
	signed := func(path string) string {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		return path + sep + q.Encode()
	}
	rec := w.get(link, "", nil)
	body := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("run page = %d:\n%s", rec.Code, body)
	}
	for _, want := range []string{
		"Run #1 deploy-web production", `class="state running"`, "day1", "service web",
		"alice <code>slack:U0ALICE</code>", "bob <code>slack:U0BOB</code> approved (production)",
		"<th>version</th><td>v1.2.3</td>", "<th>token</th><td>***</td>",
		`title="0123456789abcdef0123456789abcdef01234567"`, "0123456789ab",
		"at <code>aaaabbbbcccc</code>", `<span class="add">&#43;  retries: 2 # token ***</span>`, `<span class="del">-  retries: 1</span>`,
		`href="/runs/1/log?step=0&amp;exp=`, `>Build</a>`, "1.5s", `id="step-1"`, `<span class="state running">running</span>`,
		`id="L701"`, `id="L1200"`, "line 1200 &lt;b&gt;", "export TOKEN=***",
		`href="/runs/1/log?before=701&amp;` + strings.ReplaceAll(q.Encode(), "&", "&amp;"),
		`data-events="/runs/1/events?after=1200&amp;exp=`,
		"Referrer-Policy",
	} {
		if want == "Referrer-Policy" {
			if rec.Header().Get(want) != "no-referrer" {
				t.Errorf("the page may leak its signed link through Referer: Referrer-Policy %q", rec.Header().Get(want))
			}
			continue
		}
		if !strings.Contains(body, want) {
			t.Errorf("the run page lacks %q", want)
		}
	}
	for _, not := range []string{secret, `id="L700"`, "<b>"} {
		if strings.Contains(body, not) {
			t.Errorf("the run page has %q", not)
		}
	}

	// The log pages.
	tests := []struct {
		name      string
		path      string
		first     int64
		last      int64
		want      []string
		notWanted []string
	}{
		{"earlier", "/runs/1/log?before=701", 201, 700, []string{"log?before=201", "log?after=700"}, nil},
		{"later", "/runs/1/log?after=1000", 1001, 1200, []string{"log?before=1001"}, []string{"log?after="}},
		{"from the start", "/runs/1/log?after=0", 1, 500, []string{"log?after=500"}, nil},
		{"search", "/runs/1/log?q=LINE+77", 77, 779, []string{`lines with “LINE 77”`}, []string{"more matches"}},
		{"search on", "/runs/1/log?q=line+77&after=770", 771, 779, nil, nil},
		{"a secret is not searchable", "/runs/1/log?q=" + url.QueryEscape(secret), 0, 0, []string{"No lines contain"}, nil},
		{"nor its mask", "/runs/1/log?q=***", 0, 0, []string{"No lines contain"}, nil},
		{"a step", "/runs/1/log?step=1", 1, 500, []string{"step 1 Install", `log?step=1&amp;after=500&amp;exp=`}, nil},
		{"a step on", "/runs/1/log?step=1&after=1000", 1001, 1200, nil, []string{"later lines"}},
		{"a step and text", "/runs/1/log?step=1&q=line+119", 119, 1199, []string{"step 1 Install, lines with “line 119”"}, nil},
		{"a quiet step", "/runs/1/log?step=0", 0, 0, []string{"No lines."}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := w.get(signed(tc.path), "", nil)
			body := rec.Body.String()
			if rec.Code != 200 {
				t.Fatalf("GET %s = %d:\n%s", tc.path, rec.Code, body)
			}
			first, last := seqRange(body)
			if first != tc.first || last != tc.last {
				t.Errorf("GET %s shows lines %d…%d, want %d…%d", tc.path, first, last, tc.first, tc.last)
			}
			for _, want := range tc.want {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s lacks %q", tc.path, want)
				}
			}
			for _, not := range append(tc.notWanted, secret) {
				if strings.Contains(body, not) {
					t.Errorf("GET %s has %q", tc.path, not)
				}
			}
		})
	}
	if rec := w.get(signed("/runs/1/log?step=7"), "", nil); rec.Code != 400 || !strings.Contains(rec.Body.String(), "step &#34;7&#34; is not a step of run 1: use the number in the first column of its steps, 0 to 1") {
		t.Errorf("a bad step = %d:\n%s", rec.Code, rec.Body)
	}
	if rec := w.get(signed("/runs/1/log?before=x"), "", nil); rec.Code != 400 || !strings.Contains(rec.Body.String(), "before &#34;x&#34; is not a line number") {
		t.Errorf("a bad before = %d:\n%s", rec.Code, rec.Body)
	}

	// The download is the whole log, masked.
	rec = w.get(signed("/runs/1/log.txt"), "", nil)
	var want strings.Builder
	for i := int64(1); i <= 1200; i++ {
		if i == 1100 {
			want.WriteString("export TOKEN=***\n")
			continue
		}
		fmt.Fprintf(&want, "line %d <b>\n", i)
	}
	if rec.Body.String() != want.String() {
		t.Errorf("log.txt is %d bytes, want the %d of every line masked", rec.Body.Len(), want.Len())
	}
	if got := rec.Header().Get("Content-Disposition"); got != `attachment; filename="dayops-run-1.log"` {
		t.Errorf("log.txt Content-Disposition %q", got)
	}
}

// seqRange is the first and last line number a page shows (0 for none).
func seqRange(body string) (first, last int64) {
	for _, part := range strings.Split(body, `data-seq="`)[1:] {
		var n int64
		fmt.Sscanf(part, "%d", &n)
		if first == 0 {
			first = n
		}
		last = n
	}
	return first, last
}

// TestRunList: the list filters by definition, environment, state, person
// and trigger, and pages; a bad filter says which values exist.
func TestRunList(t *testing.T) {
	w := newWorld(t)
	for i := range 70 {
		state := dayops.RunSucceeded
		if i%7 == 0 {
			state = dayops.RunFailed
		}
		w.run(state, func(r *dayops.Run) {
			if i%2 == 1 {
				r.Environment = "staging"
			}
			if i%5 == 0 {
				r.Definition, r.Trigger, r.Actor = "backup-db", dayops.TriggerSchedule, dayops.TriggerActor(dayops.TriggerSchedule)
			}
			if i == 69 {
				r.Actor = dayops.Actor{ID: "slack:U0BOB", Name: "bob <script>"}
			}
		})
	}
	login := w.login()
	ids := func(query string) ([]int64, string) {
		t.Helper()
		rec := w.get("/runs"+query, "", login)
		if rec.Code != 200 {
			t.Fatalf("GET /runs%s = %d:\n%s", query, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		var out []int64
		for _, part := range strings.Split(body, `<td><a href="/runs/`)[1:] {
			var n int64
			fmt.Sscanf(part, "%d", &n)
			out = append(out, n)
		}
		return out, body
	}
	want := func(from, to int64, keep func(i int64) bool) []int64 {
		var out []int64
		for id := from; id >= to; id-- {
			if keep == nil || keep(id-1) {
				out = append(out, id)
			}
		}
		return out
	}
	tests := []struct {
		query string
		want  []int64
		says  []string
	}{
		{"", want(70, 21, nil), []string{`href="/runs?before=21"`, "bob &lt;script&gt;"}},
		{"?before=21", want(20, 1, nil), []string{`href="/runs">newest`}},
		{"?definition=backup-db", want(66, 1, func(i int64) bool { return i%5 == 0 }), nil},
		{"?environment=staging&state=failed", want(70, 1, func(i int64) bool { return i%2 == 1 && i%7 == 0 }), []string{`<option selected>failed</option>`}},
		{"?person=slack:U0BOB", []int64{70}, nil},
		{"?trigger=schedule&environment=production", want(70, 1, func(i int64) bool { return i%5 == 0 && i%2 == 0 }), nil},
		{"?definition=nope", nil, []string{"No run matches these filters."}},
	}
	for _, tc := range tests {
		got, body := ids(tc.query)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("GET /runs%s (-want +got):\n%s", tc.query, diff)
		}
		for _, s := range tc.says {
			if !strings.Contains(body, s) {
				t.Errorf("GET /runs%s lacks %q", tc.query, s)
			}
		}
	}
	for _, tc := range []struct{ query, want string }{
		{"?state=done", "state &#34;done&#34; is not a run state: use one of pending, awaiting_approval"},
		{"?trigger=cron", "trigger &#34;cron&#34; is not a trigger: use one of chat, button"},
		{"?before=-3", "before &#34;-3&#34; is not a run ID"},
	} {
		rec := w.get("/runs"+tc.query, "", login)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("GET /runs%s = %d, want 400 saying %q:\n%s", tc.query, rec.Code, tc.want, rec.Body)
		}
	}
}

// TestSearchSkipsMaskedLines: lines that match only through a secret are
// left out, and the page still fills with the real matches after them.
func TestSearchSkipsMaskedLines(t *testing.T) {
	w := newWorld(t)
	r := w.run(dayops.RunRunning)
	w.lines(r.ID, 1200, func(seq int64) string {
		if seq <= 600 {
			return "token " + secret
		}
		return fmt.Sprintf("token fine %d", seq)
	})
	rec := w.get("/runs/1/log?q=secret-value", "", w.login())
	if first, last := seqRange(rec.Body.String()); first != 0 || last != 0 {
		t.Errorf("a search for part of a secret shows lines %d…%d, want none", first, last)
	}
	rec = w.get("/runs/1/log?q=fine", "", w.login())
	body := rec.Body.String()
	if first, last := seqRange(body); first != 601 || last != 1100 {
		t.Errorf("search shows lines %d…%d, want 601…1100", first, last)
	}
	if !strings.Contains(body, `log?q=fine&amp;after=1100"`) {
		t.Errorf("no link to more matches after 1100:\n%s", body[len(body)-2000:])
	}
}
