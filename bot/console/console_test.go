package console

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/dayops/dayops/bot/bottest"
)

// demoEngine stands in for the executor: it keeps runs in a bottest.Store and
// plays them through their steps on its own goroutines, reporting each
// change to the bot as the executor does.
type demoEngine struct {
	store  *bottest.Store
	notify func(dayops.RunEvent)
	settle func() // waits until the bot has shown the last change
	wg     sync.WaitGroup
	output []string // what restart-web's Start prints; default "start attempt N refused"
	reason string   // why restart-web fails; default its exit status
}

var steps = map[string][]string{
	"deploy-web":  {"Back up the database", "Install the version", "Verify"},
	"restart-web": {"Stop", "Start"},
}

func (e *demoEngine) Plan(ctx context.Context, req dayops.RunRequest) (*dayops.Plan, error) {
	return nil, dayops.Errorf(dayops.KindInvalid, "no plans in this test")
}

func (e *demoEngine) Start(ctx context.Context, req dayops.RunRequest) (*dayops.Run, error) {
	if v, ok := req.Params["version"]; req.Definition == "deploy-web" && (!ok || !strings.HasPrefix(v, "v")) {
		return nil, dayops.Errorf(dayops.KindInvalid, "parameter version: %q does not match the pattern ^v\\d+\\.\\d+\\.\\d+$", v)
	}
	r := &dayops.Run{Definition: req.Definition, Environment: req.Environment, Params: req.Params, Phase: dayops.Day1,
		Actor: req.Actor, Thread: req.Thread, Trigger: req.Trigger, Revision: "0123456789abcdef", State: dayops.RunPending}
	if req.Environment == "production" {
		r.State = dayops.RunAwaitingApproval
	}
	for i, name := range steps[req.Definition] {
		r.Steps = append(r.Steps, dayops.StepRun{Index: i, Name: name, State: dayops.StepPending})
	}
	if req.Definition == "restart-web" {
		r.Steps = append(r.Steps, dayops.StepRun{Index: 2, Name: "Undo", State: dayops.StepPending, Rollback: true})
	}
	e.store.Add(r)
	if req.Environment != "production" {
		e.play(r.ID)
	}
	return e.get(r.ID), nil
}

// play runs the run's steps in the background; restart-web fails its last
// main step and rolls back.
func (e *demoEngine) play(id int64) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.change(id, func(r *dayops.Run) { r.State = dayops.RunRunning })
		at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
		r := e.get(id)
		for i, s := range r.Steps {
			e.change(id, func(r *dayops.Run) { r.Steps[i].State, r.Steps[i].StartedAt = dayops.StepRunning, at })
			end := dayops.StepSucceeded
			if r.Definition == "restart-web" && s.Name == "Start" {
				output := e.output
				if output == nil {
					for n := 1; n <= 12; n++ {
						output = append(output, fmt.Sprintf("start attempt %d refused", n))
					}
				}
				for n, text := range output {
					l := dayops.LogLine{RunID: id, Step: i, Seq: int64(n + 1), Text: text}
					e.store.AddLogs(l)
					e.notify(dayops.RunEvent{Kind: dayops.EventLog, Run: e.get(id), Line: &l})
				}
				end = dayops.StepFailed
			}
			at = at.Add(400 * time.Millisecond)
			e.change(id, func(r *dayops.Run) { r.Steps[i].State, r.Steps[i].EndedAt = end, at })
		}
		e.change(id, func(r *dayops.Run) {
			r.State = dayops.RunSucceeded
			if r.Definition == "restart-web" {
				r.State, r.Reason = dayops.RunFailed, "step Start failed: exit status 1"
				if e.reason != "" {
					r.Reason = e.reason
				}
			}
		})
	}()
}

func (e *demoEngine) change(id int64, f func(r *dayops.Run)) {
	r := e.store.Update(id, f)
	e.notify(dayops.RunEvent{Kind: dayops.EventState, Run: r})
	if e.settle != nil {
		e.settle() // one change at a time, so that each shows as a line
	}
}

func (e *demoEngine) Approve(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) (*dayops.Approval, error) {
	r := e.get(runID)
	if r == nil {
		return nil, dayops.Errorf(dayops.KindNotFound, "no run %d", runID)
	}
	if r.Actor.ID == who.ID {
		return nil, dayops.Errorf(dayops.KindForbidden, "%s asked for run %d, so %s cannot approve it", who.Name, runID, who.Name)
	}
	a := dayops.Approval{RunID: runID, Gate: dayops.GateEnvironment, Actor: who, Approved: true, Valid: true, Have: 1, Need: 1}
	e.store.AddApproval(a)
	e.notify(dayops.RunEvent{Kind: dayops.EventApproval, Run: r, Approval: &a})
	e.play(runID)
	return &a, nil
}

func (e *demoEngine) Answer(ctx context.Context, runID int64, question int, yes bool, note string, who dayops.Actor, where dayops.Thread) (*dayops.Answer, error) {
	return nil, dayops.Errorf(dayops.KindConflict, "run %d is not waiting for checklist answers", runID)
}

func (e *demoEngine) Deny(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread, reason string) error {
	return nil
}
func (e *demoEngine) Cancel(ctx context.Context, runID int64, who dayops.Actor, where dayops.Thread) error {
	return nil
}
func (e *demoEngine) Lock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread, reason string) error {
	return nil
}
func (e *demoEngine) Unlock(ctx context.Context, env string, who dayops.Actor, where dayops.Thread) error {
	return nil
}
func (e *demoEngine) Rollback(ctx context.Context, service, env string, who dayops.Actor, where dayops.Thread) (*dayops.Run, error) {
	return nil, dayops.Errorf(dayops.KindNotFound, "no successful deploy to roll back to")
}

func (e *demoEngine) Changes(ctx context.Context, name, env string) (string, string, error) {
	return "", "", nil
}

func (e *demoEngine) Supersede(ctx context.Context, id int64, who dayops.Actor, note string) (bool, error) {
	return false, nil
}

// get reads a run of the engine's store; nil when there is none.
func (e *demoEngine) get(id int64) *dayops.Run {
	r, err := e.store.Run(context.Background(), id)
	if err != nil {
		return nil
	}
	return r
}

// syncBuffer is an io.Writer safe for the test to read while the bot writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// session runs a script through a console wired to the real bot and returns
// the transcript once every run has ended and every message is out.
func session(t *testing.T, script string, interactive bool) string {
	t.Helper()
	return sessionWith(t, script, interactive, &demoEngine{})
}

// sessionWith is session with an engine whose output and reason are set.
func sessionWith(t *testing.T, script string, interactive bool, engine *demoEngine) string {
	t.Helper()
	cat, err := dayops.NewCatalog("0123456789abcdef", []*dayops.Definition{
		{Phase: dayops.Day1, Name: "deploy-web", Service: "web", Description: "Deploy the web service",
			Environments: []dayops.Environment{{Name: "staging"}, {Name: "production", Approvals: &dayops.ApprovalRule{Count: 1, From: []string{"sre"}}}},
			Params:       []dayops.Param{{Name: "version", Type: dayops.ParamString, Required: true, Pattern: regexp.MustCompile(`^v\d+\.\d+\.\d+$`)}}},
		{Phase: dayops.Day2, Name: "restart-web", Description: "Restart the web service", Environments: []dayops.Environment{{Name: "staging"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	store := &bottest.Store{}
	engine.store = store
	b, err := bot.New(bot.Options{
		Engine: engine, Store: store, Catalogs: &bottest.Catalogs{Cat: cat, SyncErr: dayops.Errorf(dayops.KindUnavailable, "no sync in this test")},
		Policy: dayops.Policy{Roles: []dayops.Role{{Name: "sre", Members: []string{"console:alice", "console:bob"}, Allow: []string{"*"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	engine.notify = b.Notify
	engine.settle = b.Wait
	out := &syncBuffer{}
	c := New(Options{In: strings.NewReader(script), Out: out, Bot: b, Users: []string{"bob", "carol"}, Interactive: interactive})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	engine.wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestApprovalFlow(t *testing.T) {
	got := session(t, `# the production approval of the demo
/ops deploy web production version=v1.2.0
/ops approve 1
/as bob
1
`, false)
	for _, want := range []string{
		"alice > /ops deploy web production version=v1.2.0\nbot > Run #1 deploy-web production - awaiting approval\n",
		"bot > asked by alice | revision 0123456789ab | version=v1.2.0\n",
		"bot > waiting for approval (not alice, who asked): approve 1 or deny 1\n",
		"bot > [1] Approve run 1  [2] Deny\nalice > /ops approve 1\nbot > not allowed: alice requested run 1 and cannot approve it: someone else must\n",
		"alice > /as bob\n-- you are now bob (console:bob)\nbob > 1\n-- bob chose [1] Approve run 1\n",
		// Then one line per change while it runs.
		"bot > Run #1 deploy-web production - running\nbot > [1] Cancel run 1\n",
		"bot > #1 running           Back up the database\n",
		"bot > #1 succeeded         Back up the database  0.4s\n",
		"bot > #1 running           Verify\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("transcript lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(got, "bot > bob approved run 1 (1 of 1)\n") {
		t.Errorf("no approval reply:\n%s", got)
	}
	if strings.Index(got, "approved run 1") > strings.Index(got, "production - running") {
		t.Errorf("the approval is announced after the run went on:\n%s", got)
	}
	if strings.Count(got, "approved run 1") != 1 {
		t.Errorf("approval announced more than once:\n%s", got)
	}
	// The run ends with its summary: every step, the final state word.
	summary := got[strings.LastIndex(got, "bot > Run #1 deploy-web production - "):]
	for _, want := range []string{"Run #1 deploy-web production - succeeded\n", "succeeded         Back up the database  0.4s\n",
		"succeeded         Install the version  0.4s\n", "succeeded         Verify  0.4s\n"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "[1]") {
		t.Errorf("a finished run offers choices:\n%s", summary)
	}
	for i, r := range got {
		if r > 0x7f {
			t.Fatalf("non-ASCII %q at %d in plain output:\n%s", r, i, got)
		}
	}
}

func TestFailedRunAndChoices(t *testing.T) {
	got := session(t, `1
list
@dayops list day2
/opz list
/users
/as Not A Name
/as carol
run restart-web staging
`, false)
	for _, want := range []string{
		"alice > 1\n-- there is nothing to choose from yet\n",
		"alice > list\nbot > 2 definitions at revision 0123456789ab\n",
		"alice > @dayops list day2\nbot > 1 day2 definition at revision 0123456789ab\n",
		"-- unknown console command /opz: type /ops help, /as NAME, /users or /quit\n",
		"-- users (/as NAME switches; any name works, roles decide what it may do):\n-- * alice (console:alice)\n--   bob (console:bob)\n--   carol (console:carol)\n",
		`-- "not a name" is not a user name`,
		"carol > run restart-web staging\nbot > not allowed: carol (console:carol) has no role in dayops\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("transcript lacks %q:\n%s", want, got)
		}
	}
}

func TestFailedRunSummary(t *testing.T) {
	got := session(t, "/ops run restart-web staging\n", false)
	summary := got[strings.LastIndex(got, "bot > Run #1 restart-web staging - "):]
	for _, want := range []string{
		"Run #1 restart-web staging - failed\n", "step Start failed: exit status 1\n",
		"succeeded         Stop  0.4s\n", "failed            Start  0.4s\n", "rollback:\nbot >   succeeded         Undo  0.4s\n",
		"last output of Start:\nbot >   | start attempt 3 refused\n", "| start attempt 12 refused\n",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "attempt 2 refused") {
		t.Errorf("summary quotes more than the last lines:\n%s", summary)
	}
}

func TestInteractive(t *testing.T) {
	got := session(t, "/ops deploy web staging version=v1.2.0\n/quit\n/ops list\n", true)
	for _, want := range []string{"bot ▸ Run #1 deploy-web staging — ", // pending, or running when the first events came first
		"bot ▸ #1 ▶ Back up the database\n", "bot ▸ #1 ✓ Back up the database  0.4s\n", "bot ▸   ✓ Verify  0.4s\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("transcript lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "alice > ") || strings.Contains(got, "definitions at revision") {
		t.Errorf("typed lines echoed on a terminal, or input read after /quit:\n%s", got)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	store := &bottest.Store{}
	b, err := bot.New(bot.Options{Engine: &demoEngine{store: store}, Store: store, Catalogs: &bottest.Catalogs{}})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{In: blockingReader{}, Out: &syncBuffer{}, Bot: b})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx); err != context.Canceled {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

type blockingReader struct{}

func (blockingReader) Read(p []byte) (int, error) { select {} }

func TestChoicesFollowWhatWasPrinted(t *testing.T) {
	store := &bottest.Store{}
	b, err := bot.New(bot.Options{Engine: &demoEngine{store: store}, Store: store, Catalogs: &bottest.Catalogs{}})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	c := New(Options{Out: out, Bot: b})
	ctx := context.Background()
	run := func(id int64, state dayops.RunState, buttons ...bot.Button) bot.Message {
		return bot.Message{Run: &bot.RunView{ID: id, Title: fmt.Sprintf("Run #%d x - %s", id, state), State: state}, Buttons: buttons}
	}
	cancel1 := bot.Button{Label: "Cancel run 1", Action: bot.ActionCancel, Value: "1"}
	approve2 := bot.Button{Label: "Approve run 2", Action: bot.ActionApprove, Value: "2"}
	m1, _ := c.Post(ctx, dayops.Thread{}, run(1, dayops.RunPending, cancel1))
	c.Post(ctx, dayops.Thread{}, run(2, dayops.RunAwaitingApproval, approve2))
	// Run 1 moves on, offering the same button, which is not printed again.
	c.Update(ctx, dayops.Thread{}, m1, run(1, dayops.RunRunning, cancel1))
	if len(c.choices) != 1 || c.choices[0] != approve2 {
		t.Errorf("choices = %+v, want those of run 2, printed last", c.choices)
	}
	if strings.Count(out.String(), "[1] Cancel run 1") != 1 {
		t.Errorf("unchanged choices printed again:\n%s", out)
	}
	c.Update(ctx, dayops.Thread{}, m1, run(1, dayops.RunSucceeded))
	if len(c.choices) != 1 || c.choices[0] != approve2 {
		t.Errorf("choices = %+v after run 1 ended", c.choices)
	}
}

// TestMissingParameterIsExplained: the terminal shows no forms; a deploy
// without its required version says what to type instead, and starts
// nothing.
func TestMissingParameterIsExplained(t *testing.T) {
	got := session(t, "/ops deploy web staging\n", false)
	want := "bot > deploy-web staging needs version: type /ops run deploy-web staging version=VALUE\n"
	if !strings.Contains(got, want) || strings.Contains(got, "Run #1") {
		t.Errorf("transcript lacks %q or started a run:\n%s", want, got)
	}
}
