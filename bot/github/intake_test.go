package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/commands"
	"github.com/dayops/dayops/internal/testkit/fixtures"
)

const testSecret = "It's a Secret to Everybody"

// memInbox is an Inbox in memory (the SQLite one is tested by the storage
// conformance suite, and end to end in cmd/dayops).
type memInbox struct {
	mu     sync.Mutex
	rows   []dayops.Inbound
	claims map[int64]inboxClaim // row ID -> its claim
	seen   map[string]bool
	fails  int // AddInbound fails this many more times
}

func (m *memInbox) AddInbound(ctx context.Context, in dayops.Inbound) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fails > 0 {
		m.fails--
		return false, fmt.Errorf("database is locked")
	}
	for _, r := range m.rows {
		if r.Source == in.Source && r.Delivery == in.Delivery {
			return false, nil
		}
	}
	in.ID = int64(len(m.rows) + 1)
	if in.NextAt.IsZero() {
		in.NextAt = in.ReceivedAt
	}
	m.rows = append(m.rows, in)
	return true, nil
}

func (m *memInbox) update(id int64, f func(*dayops.Inbound)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.rows {
		if m.rows[i].ID == id && m.rows[i].DoneAt.IsZero() {
			f(&m.rows[i])
			return nil
		}
	}
	return dayops.Errorf(dayops.KindNotFound, "inbound delivery %d is not waiting", id)
}

func (m *memInbox) MarkInboundDone(ctx context.Context, id int64, at time.Time) error {
	return m.update(id, func(r *dayops.Inbound) { r.DoneAt = at })
}

func (m *memInbox) MarkInboundFailed(ctx context.Context, id int64, next time.Time, lastError string) error {
	return m.update(id, func(r *dayops.Inbound) {
		r.Attempts++
		r.NextAt = next
		r.LastError = lastError
		delete(m.claims, r.ID)
	})
}

func (m *memInbox) FirstDelivery(ctx context.Context, source, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	k := source + "\x00" + id
	if m.seen[k] {
		return false, nil
	}
	m.seen[k] = true
	return true, nil
}

func (m *memInbox) pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.rows {
		if r.DoneAt.IsZero() {
			n++
		}
	}
	return n
}

// fakeReader answers as GitHub would, and fails on demand.
type fakeReader struct {
	mu        sync.Mutex
	reactions []string
	prs       map[string]dayops.PullRequest
	groups    map[string][]string
	fail      int // PullRequest fails this many more times
}

func (f *fakeReader) React(ctx context.Context, repo string, id int64, content string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reactions = append(f.reactions, fmt.Sprintf("%s/%d/%s", repo, id, content))
	return nil
}

func (f *fakeReader) PullRequest(ctx context.Context, repo string, n int) (dayops.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return dayops.PullRequest{}, fmt.Errorf("GET /repos/%s/pulls/%d: 502 Bad Gateway", repo, n)
	}
	pr, ok := f.prs[fmt.Sprintf("%s#%d", repo, n)]
	if !ok {
		return dayops.PullRequest{}, dayops.Errorf(dayops.KindNotFound, "no pull request %s#%d", repo, n)
	}
	return pr, nil
}

func (f *fakeReader) Groups(ctx context.Context, login string, teams []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.groups[login], nil
}

// recorder is the pipeline: it records what it is given.
type recorder struct {
	mu   sync.Mutex
	subs []bot.Submission
	prs  []dayops.PullRequest
}

func (r *recorder) Submit(ctx context.Context, s bot.Submission) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs = append(r.subs, s)
}

func (r *recorder) Prefix() string { return commands.DefaultPrefix }

func (r *recorder) submissions() []bot.Submission {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Submission(nil), r.subs...)
}

func (r *recorder) pullRequests() []dayops.PullRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dayops.PullRequest(nil), r.prs...)
}

type intakeWorld struct {
	in     *Intake
	inbox  *memInbox
	reader *fakeReader
	pipe   *recorder
	syncs  chan struct{}
	valid  chan dayops.PullRequest
}

const atlantisRepo = "runatlantis/atlantis-tests"

func newIntake(t *testing.T) *intakeWorld {
	t.Helper()
	w := &intakeWorld{
		inbox: &memInbox{},
		reader: &fakeReader{prs: map[string]dayops.PullRequest{
			atlantisRepo + "#1": {Repo: atlantisRepo, Number: 1, Author: "octocat", HeadSHA: "c0ffee1", BaseRef: "main"},
			atlantisRepo + "#2": {Repo: atlantisRepo, Number: 2, Author: "mallory", HeadSHA: "bad5ha", BaseRef: "main", Fork: true},
		}, groups: map[string][]string{"runatlantis": {"github-team:org/sre"}}},
		pipe:  &recorder{},
		syncs: make(chan struct{}, 10),
		valid: make(chan dayops.PullRequest, 10),
	}
	in, err := NewIntake(IntakeOptions{
		Secret: testSecret, Inbox: w.inbox, Pipeline: w.pipe, GitHub: w.reader,
		Repos:    map[string]string{atlantisRepo: "web", "Codertocat/Hello-World": "api"},
		Teams:    []string{"org/sre"},
		BotLogin: "dayops-bot",
		OnPullRequest: func(ctx context.Context, pr dayops.PullRequest, where dayops.Thread) {
			w.pipe.mu.Lock()
			defer w.pipe.mu.Unlock()
			w.pipe.prs = append(w.pipe.prs, pr)
		},
		OpsRepo: OpsRepo{Name: "org/ops", Branch: "main",
			Sync:     func(ctx context.Context) error { w.syncs <- struct{}{}; return nil },
			Validate: func(ctx context.Context, pr dayops.PullRequest) error { w.valid <- pr; return nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	in.Start()
	t.Cleanup(in.Close)
	w.in = in
	return w
}

// deliver sends body as GitHub does, signed with secret.
func (w *intakeWorld) deliver(t testing.TB, event, delivery string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/github/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", Signature(testSecret, body))
	rec := httptest.NewRecorder()
	w.in.ServeHTTP(rec, req)
	return rec
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func commentBody(t testing.TB, text string) []byte {
	m := fixtures.JSON(t, "github", "issue_comment_created_on_pr.json")
	fixtures.Set(m, "comment.body", text)
	return fixtures.Encode(t, m)
}

func TestSignatureExample(t *testing.T) {
	var ex struct{ Secret, Payload, Signature string }
	if err := json.Unmarshal(fixtures.Read(t, "github", "signature_example.json"), &ex); err != nil {
		t.Fatal(err)
	}
	if err := verify(ex.Secret, ex.Signature, []byte(ex.Payload)); err != nil {
		t.Errorf("GitHub's documented test vector: %v", err)
	}
	if got := Signature(ex.Secret, []byte(ex.Payload)); got != ex.Signature {
		t.Errorf("Signature = %s, want %s", got, ex.Signature)
	}
	for name, c := range map[string]struct{ secret, sig, payload string }{
		"wrong secret":   {"another", ex.Signature, ex.Payload},
		"changed body":   {ex.Secret, ex.Signature, ex.Payload + " "},
		"no secret":      {"", ex.Signature, ex.Payload},
		"sha1 header":    {ex.Secret, "sha1=" + strings.TrimPrefix(ex.Signature, "sha256="), ex.Payload},
		"not hex":        {ex.Secret, "sha256=zz", ex.Payload},
		"missing header": {ex.Secret, "", ex.Payload},
	} {
		if err := verify(c.secret, c.sig, []byte(c.payload)); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestWebhookAnswers(t *testing.T) {
	w := newIntake(t)
	comment := commentBody(t, "/ops deploy staging")
	big := commentBody(t, "/ops deploy staging\n"+strings.Repeat("x", 1<<20))
	other := fixtures.JSON(t, "github", "issue_comment_created_on_pr.json")
	fixtures.Set(other, "repository.full_name", "someone/else")
	fixtures.Set(other, "comment.body", "/ops deploy staging")

	tests := []struct {
		name, event string
		body        []byte
		sign        func(b []byte) string
		want        int
		wantText    string
	}{
		{"ping", "ping", fixtures.Encode(t, fixtures.JSON(t, "github", "ping.json")), nil, 200, "pong"},
		{"missing signature", "issue_comment", comment, func([]byte) string { return "" }, 401, "missing X-Hub-Signature-256"},
		{"bad signature", "issue_comment", comment, func(b []byte) string { return Signature("guess", b) }, 401, "does not match"},
		{"unknown event", "pull_request_review", fixtures.Encode(t, fixtures.JSON(t, "github", "pull_request_review_submitted.json")), nil, 204, ""},
		{"check run event", "check_run", fixtures.Encode(t, fixtures.JSON(t, "github", "check_run_requested_action.json")), nil, 204, ""},
		{"malformed JSON", "issue_comment", []byte(`{"action": "created", "issue": `), nil, 400, "malformed issue_comment payload"},
		{"JSON of another shape", "pull_request", []byte(`{"number": "one"}`), nil, 400, "malformed pull_request payload"},
		{"no repository", "push", []byte(`{"ref": "refs/heads/main"}`), nil, 400, "not owner/name"},
		{"repository not in github.repos", "issue_comment", fixtures.Encode(t, other), nil, 200, "someone/else is not in github.repos"},
		{"comment on an issue", "issue_comment", fixtures.Encode(t, fixtures.JSON(t, "github", "issue_comment_created.json")), nil, 200, "not on a pull request"},
		{"edited comment", "issue_comment", fixtures.Encode(t, fixtures.JSON(t, "github", "issue_comment_edited.json")), nil, 200, "comment edited"},
		{"deleted comment", "issue_comment", fixtures.Encode(t, fixtures.JSON(t, "github", "issue_comment_deleted.json")), nil, 200, "comment deleted"},
		{"tag push", "push", fixtures.Encode(t, fixtures.JSON(t, "github", "push_tag.json")), nil, 200, "application repository"},
		{"a 1 MB comment", "issue_comment", big, nil, 413, "longer than GitHub allows"},
		{"a command", "issue_comment", comment, nil, 202, "accepted"},
	}
	for i, tc := range tests {
		req := httptest.NewRequest(http.MethodPost, "/github/webhook", bytes.NewReader(tc.body))
		req.Header.Set("X-GitHub-Event", tc.event)
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("delivery-%d", i))
		sig := Signature(testSecret, tc.body)
		if tc.sign != nil {
			sig = tc.sign(tc.body)
		}
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		rec := httptest.NewRecorder()
		w.in.ServeHTTP(rec, req)
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.wantText) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, rec.Code, rec.Body.String(), tc.want, tc.wantText)
		}
	}
	waitFor(t, "the inbox processed", func() bool { return w.inbox.pending() == 0 })
	subs := w.pipe.submissions()
	if len(subs) != 1 {
		t.Fatalf("submissions %+v, want the one command", subs)
	}
	if w.inbox.fails != 0 || len(w.inbox.rows) != 1 {
		t.Errorf("stored %d deliveries, want the 1 accepted", len(w.inbox.rows))
	}
}

func TestCommentCommandThroughThePipeline(t *testing.T) {
	w := newIntake(t)
	body := "LGTM, shipping.\n" +
		"/ops deploy staging\n" +
		"> /ops deploy production (quoted: not a command)\n" +
		"<!-- /ops run wipe-db production -->\n" +
		"```\n/ops run in-a-code-block\n```\n" +
		"  /ops   status  \n" +
		"/opsx nothing\n"
	if rec := w.deliver(t, "issue_comment", "d-1", commentBody(t, body)); rec.Code != 202 {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	waitFor(t, "two submissions", func() bool { return len(w.pipe.submissions()) == 2 })
	subs := w.pipe.submissions()
	deploy, status := subs[0], subs[1]
	wantThread := dayops.Thread{Door: "github", Channel: atlantisRepo + "#1", Name: atlantisRepo + "#1"}
	if deploy.Actor.ID != "github:runatlantis" || deploy.Trigger != dayops.TriggerPRComment || deploy.Thread != wantThread {
		t.Errorf("deploy submitted as %+v in %+v (%s)", deploy.Actor, deploy.Thread, deploy.Trigger)
	}
	if len(deploy.Actor.Groups) != 1 || deploy.Actor.Groups[0] != "github-team:org/sre" {
		t.Errorf("groups %v, want the team the roles name", deploy.Actor.Groups)
	}
	c := deploy.Command
	if c == nil || c.Verb != commands.VerbDeploy || c.Service != "web" || c.Environment != "staging" || c.Version != "c0ffee1" || c.Params["version"] != "c0ffee1" {
		t.Errorf("deploy ENV became %+v, want the repo's service at the PR head", c)
	}
	if deploy.Context["pr.head_sha"] != "c0ffee1" || deploy.Context["pr.number"] != "1" || deploy.Context["pr.author"] != "octocat" {
		t.Errorf("context %v", deploy.Context)
	}
	if status.Text != "status" || status.Command != nil {
		t.Errorf("second command %+v", status)
	}
	w.reader.mu.Lock()
	reactions := w.reader.reactions
	w.reader.mu.Unlock()
	if len(reactions) != 1 || reactions[0] != atlantisRepo+"/396926483/eyes" {
		t.Errorf("reactions %v, want one 👀 on the comment", reactions)
	}
}

func TestRedeliveriesRunOnce(t *testing.T) {
	w := newIntake(t)
	body := commentBody(t, "/ops deploy staging")
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- w.deliver(t, "issue_comment", "same-delivery", body).Code
		}()
	}
	wg.Wait()
	close(codes)
	accepted := 0
	for c := range codes {
		switch c {
		case 202:
			accepted++
		case 200:
		default:
			t.Errorf("answer %d", c)
		}
	}
	waitFor(t, "the delivery processed", func() bool { return w.inbox.pending() == 0 })
	time.Sleep(50 * time.Millisecond)
	if accepted != 1 || len(w.pipe.submissions()) != 1 {
		t.Errorf("50 deliveries: %d accepted, %d submissions; want 1 and 1", accepted, len(w.pipe.submissions()))
	}
}

func TestStoredDeliveryRunsAfterARestart(t *testing.T) {
	inbox := &memInbox{}
	body := commentBody(t, "/ops deploy staging")
	// The first process stores the delivery and answers, and dies before
	// it processes it (its worker never started).
	first := &intakeWorld{inbox: inbox, reader: &fakeReader{}, pipe: &recorder{}}
	in, err := NewIntake(IntakeOptions{Secret: testSecret, Inbox: inbox, Pipeline: first.pipe, GitHub: first.reader,
		Repos: map[string]string{atlantisRepo: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	first.in = in
	if rec := first.deliver(t, "issue_comment", "d-crash", body); rec.Code != 202 {
		t.Fatalf("answer %d", rec.Code)
	}
	in.Close()
	if len(first.pipe.submissions()) != 0 {
		t.Fatal("the first process ran it")
	}
	// The next process runs it, once; GitHub's first answer is a 502.
	reader := &fakeReader{fail: 1, prs: map[string]dayops.PullRequest{atlantisRepo + "#1": {Repo: atlantisRepo, Number: 1, HeadSHA: "c0ffee1"}}}
	pipe := &recorder{}
	in2, err := NewIntake(IntakeOptions{Secret: testSecret, Inbox: inbox, Pipeline: pipe, GitHub: reader,
		Repos: map[string]string{atlantisRepo: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	in2.Start()
	defer in2.Close()
	waitFor(t, "the stored delivery run after the restart", func() bool { return len(pipe.submissions()) == 1 })
	inbox.mu.Lock()
	attempts := inbox.rows[0].Attempts
	inbox.mu.Unlock()
	if attempts != 1 {
		t.Errorf("attempts %d, want 1 failed before the one that worked", attempts)
	}
}

func TestPullRequestEvents(t *testing.T) {
	w := newIntake(t)
	merged := fixtures.JSON(t, "github", "pull_request_closed.json")
	fixtures.Set(merged, "pull_request.merged", true)
	fixtures.Set(merged, "pull_request.merged_at", "2019-05-15T15:20:33Z")
	w.deliver(t, "pull_request", "pr-merged", fixtures.Encode(t, merged))
	w.deliver(t, "pull_request", "pr-closed", fixtures.Encode(t, fixtures.JSON(t, "github", "pull_request_closed.json")))
	w.deliver(t, "pull_request", "pr-labeled", fixtures.Encode(t, fixtures.JSON(t, "github", "pull_request_labeled.json")))
	waitFor(t, "three pull request events", func() bool { return len(w.pipe.pullRequests()) == 3 })
	prs := w.pipe.pullRequests()
	if prs[0].Action != dayops.PRMerged || prs[0].Repo != "Codertocat/Hello-World" || prs[0].Number != 2 || prs[0].BaseRef != "master" || prs[0].Fork || prs[0].MergeSHA == "" {
		t.Errorf("merged: %+v", prs[0])
	}
	if got := prs[0].Context()[dayops.ContextPRMergedAt]; got != "2019-05-15T15:20:33Z" {
		t.Errorf("merged: context %s = %q, want the merge time (lead time starts there)", dayops.ContextPRMergedAt, got)
	}
	if prs[1].Action != dayops.PRClosed || prs[1].MergeSHA != "" || !prs[1].MergedAt.IsZero() {
		t.Errorf("closed unmerged: %+v", prs[1])
	}
	if prs[2].Action != dayops.PRLabeled || prs[2].Label == "" {
		t.Errorf("labeled: %+v", prs[2])
	}
	// A pull request whose fork was deleted comes with a null head
	// repository: it is a fork's all the same.
	gone := fixtures.JSON(t, "github", "pull_request_labeled.json")
	fixtures.Set(gone, "pull_request.head.repo", nil)
	w.deliver(t, "pull_request", "pr-fork-gone", fixtures.Encode(t, gone))
	waitFor(t, "the fork's event", func() bool { return len(w.pipe.pullRequests()) == 4 })
	if pr := w.pipe.pullRequests()[3]; !pr.Fork {
		t.Errorf("a pull request with a null head repository: %+v, want a fork", pr)
	}

	// The ops repo: a pull request is validated, a push to its branch syncs.
	opened := fixtures.JSON(t, "github", "pull_request_opened.json")
	fixtures.Set(opened, "repository.full_name", "org/ops")
	w.deliver(t, "pull_request", "ops-pr", fixtures.Encode(t, opened))
	push := fixtures.JSON(t, "github", "push_new-branch.json")
	fixtures.Set(push, "repository.full_name", "org/ops")
	fixtures.Set(push, "ref", "refs/heads/main")
	w.deliver(t, "push", "ops-push", fixtures.Encode(t, push))
	select {
	case pr := <-w.valid:
		if pr.Repo != "org/ops" || pr.Action != dayops.PROpened {
			t.Errorf("validated %+v", pr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the ops repo pull request was not validated")
	}
	select {
	case <-w.syncs:
	case <-time.After(10 * time.Second):
		t.Fatal("a push to the ops repo's branch did not sync")
	}
	if n := len(w.pipe.pullRequests()); n != 4 {
		t.Errorf("the ops repo's pull request reached the triggers (%d events)", n)
	}
}

func TestCommandLines(t *testing.T) {
	tests := []struct {
		body string
		want []string
	}{
		{"/ops deploy staging", []string{"deploy staging"}},
		{"/ops", []string{""}},
		{"text\r\n/ops status\r\n", []string{"status"}},
		{"> /ops deploy production", nil},
		{"  > /ops deploy production", nil},
		{"<!-- /ops deploy production -->", nil},
		{"<!--\n/ops deploy production\n-->\n/ops status", []string{"status"}},
		{"before <!-- x --> /ops status", nil},
		{"<!-- unterminated\n/ops deploy production", nil},
		{"```\n/ops deploy production\n```\n/ops status", []string{"status"}},
		{"~~~sh\n/ops deploy production\n~~~", nil},
		{"/opsdeploy staging", nil},
		{"please /ops deploy staging", nil},
		{"\t/ops help", []string{"help"}},
	}
	for _, tc := range tests {
		got := CommandLines(tc.body, "/ops")
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("CommandLines(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"issue_comment_created_on_pr.json", "pull_request_closed.json", "push_new-branch.json", "pull_request_labeled.json"} {
		f.Add(strings.SplitN(name, "_", 3)[0], fixtures.Read(f, "github", name))
	}
	f.Add("issue_comment", []byte(`{"issue":{"number":1,"pull_request":{}},"comment":{"id":1,"body":"/ops x"},"repository":{"full_name":"a/b"}}`))
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		for _, k := range []string{EventIssueComment, EventPullRequest, EventPush, kind} {
			ev, err := decode(k, body)
			if err != nil {
				continue
			}
			if ev.repo == "" || strings.Count(ev.repo, "/") != 1 {
				t.Fatalf("decoded a repository %q", ev.repo)
			}
			in := &Intake{opts: IntakeOptions{Repos: map[string]string{ev.repo: "svc"}, OpsRepo: OpsRepo{Name: "org/ops"}}}
			_ = in.irrelevant(ev)
			if ev.comment != nil {
				CommandLines(ev.comment.GetComment().GetBody(), "/ops")
			}
			if ev.pr != nil {
				fromEvent(ev.pr)
			}
		}
	})
}
