package githubtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops/bot/github/githubtest"
)

func do(t *testing.T, method, url, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestFailNextMatchesMethodAndPrefix(t *testing.T) {
	fake := githubtest.New(t)
	fake.FailNext("POST /repos/o/r/issues/", 503, 2)
	fake.LimitNext("/repos/o/r/check-runs", 429, 1, 7)
	fake.SpendRateLimit("GET /user", 1, time.Unix(2000000000, 0))
	fake.FailNext("PATCH /repos/o/r/check-runs/", 403, 1)

	tests := []struct {
		method, path, body string
		want               int
		header, value      string
	}{
		{"GET", "/repos/o/r/issues/1/comments", "", 200, "", ""}, // another method
		{"POST", "/repos/o/r/issues/1/comments", `{"body":"a"}`, 503, "", ""},
		{"POST", "/repos/o/r/issues/1/comments", `{"body":"a"}`, 503, "", ""},
		{"POST", "/repos/o/r/issues/1/comments", `{"body":"a"}`, 201, "", ""}, // only two
		{"POST", "/repos/o/r/check-runs", `{"name":"x","head_sha":"a"}`, 429, "Retry-After", "7"},
		{"GET", "/user", "", 403, "X-RateLimit-Reset", "2000000000"},
		{"GET", "/user", "", 200, "", ""},
		{"PATCH", "/repos/o/r/check-runs/1", `{}`, 403, "Retry-After", "1"},
		{"GET", "/nothing/here", "", 404, "", ""},
	}
	for i, tt := range tests {
		resp := do(t, tt.method, fake.URL+strings.TrimPrefix(tt.path, "/"), tt.body)
		if resp.StatusCode != tt.want {
			t.Errorf("%d: %s %s = %d, want %d", i, tt.method, tt.path, resp.StatusCode, tt.want)
		}
		if tt.header != "" && resp.Header.Get(tt.header) != tt.value {
			t.Errorf("%d: %s %s: %s %q, want %q", i, tt.method, tt.path, tt.header, resp.Header.Get(tt.header), tt.value)
		}
	}
	var got []string
	for _, c := range fake.Calls() {
		got = append(got, c.String()+" "+http.StatusText(c.Status))
	}
	if len(got) != len(tests) || got[1] != "POST /repos/o/r/issues/1/comments Service Unavailable" {
		t.Errorf("calls recorded: %q", got)
	}
	if n := len(fake.CallsTo("POST /repos/o/r/issues/")); n != 3 {
		t.Errorf("CallsTo counted %d, want 3", n)
	}
	if c := fake.Calls()[1]; c.Body != `{"body":"a"}` {
		t.Errorf("recorded body %q", c.Body)
	}
}

func TestListingsArePaged(t *testing.T) {
	fake := githubtest.New(t)
	for range 150 {
		fake.AddComment("o/r", 1, "bob", "hi")
	}
	var ids []float64
	next := fake.URL + "repos/o/r/issues/1/comments?per_page=100"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		resp := do(t, "GET", next, "")
		var list []map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			ids = append(ids, c["id"].(float64))
		}
		next = ""
		if l := resp.Header.Get("Link"); l != "" {
			next = strings.TrimPrefix(strings.Split(l, ">")[0], "<")
		}
	}
	if len(ids) != 150 || ids[0] == ids[149] {
		t.Errorf("%d comments over the pages", len(ids))
	}
}

func TestRequireToken(t *testing.T) {
	fake := githubtest.New(t)
	fake.RequireToken("s3cret")
	if resp := do(t, "GET", fake.URL+"user", ""); resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	resp := do(t, "GET", fake.URL+"user", "", "Authorization", "Bearer s3cret")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"dayops[bot]"`) {
		t.Errorf("with the token: %d %s", resp.StatusCode, body)
	}
}

func TestRefusesWhatGitHubRefuses(t *testing.T) {
	fake := githubtest.New(t)
	many := make([]githubtest.Annotation, 51)
	for i := range many {
		many[i] = githubtest.Annotation{Path: "a", StartLine: 1, EndLine: 1, AnnotationLevel: "failure", Message: "m"}
	}
	tooMany, _ := json.Marshal(map[string]any{"name": "x", "head_sha": "a", "output": map[string]any{"title": "t", "summary": "s", "annotations": many}})
	tests := []struct {
		name, method, path, body string
	}{
		{"a comment too long", "POST", "repos/o/r/issues/1/comments", `{"body":"` + strings.Repeat("x", 65537) + `"}`},
		{"an empty comment", "POST", "repos/o/r/issues/1/comments", `{"body":""}`},
		{"51 annotations", "POST", "repos/o/r/check-runs", string(tooMany)},
		{"completed without a conclusion", "POST", "repos/o/r/check-runs", `{"name":"x","head_sha":"a","status":"completed"}`},
		{"an unknown reaction", "POST", "repos/o/r/issues/comments/1/reactions", `{"content":"party"}`},
		{"a deployment without a ref", "POST", "repos/o/r/deployments", `{"environment":"staging"}`},
		{"not JSON", "POST", "repos/o/r/deployments", `{`},
	}
	for _, tt := range tests {
		if resp := do(t, tt.method, fake.URL+tt.path, tt.body); resp.StatusCode/100 != 4 {
			t.Errorf("%s: %d, want a 4xx", tt.name, resp.StatusCode)
		}
	}
	if len(fake.Comments("o/r", 1)) != 0 || len(fake.CheckRuns("o/r")) != 0 || len(fake.Deployments("o/r")) != 0 {
		t.Error("a refused call changed the state")
	}
}

func TestStateAsTestsReadIt(t *testing.T) {
	fake := githubtest.New(t)
	id := fake.AddComment("o/r", 2, "alice", "first")
	do(t, "PATCH", fake.URL+"repos/o/r/issues/comments/"+itoa(id), `{"body":"second"}`)
	do(t, "POST", fake.URL+"repos/o/r/issues/comments/"+itoa(id)+"/reactions", `{"content":"eyes"}`)
	c, ok := fake.Comment(id)
	want := githubtest.Comment{ID: id, Repo: "o/r", Number: 2, Author: "alice", Body: "second", Edits: []string{"first"}, Reactions: []string{"eyes"}}
	if d := cmp.Diff(want, c); !ok || d != "" {
		t.Errorf("comment (-want +got):\n%s", d)
	}
	do(t, "POST", fake.URL+"repos/o/r/deployments", `{"ref":"abc","environment":"staging"}`)
	dep := fake.Deployments("o/r")[0]
	do(t, "POST", fake.URL+"repos/o/r/deployments/"+itoa(dep.ID)+"/statuses", `{"state":"success","log_url":"https://d/runs/1"}`)
	if got := fake.Deployments("o/r")[0]; got.State() != "success" || got.Statuses[0].LogURL != "https://d/runs/1" {
		t.Errorf("deployment %+v", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
