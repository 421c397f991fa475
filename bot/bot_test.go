package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
	"github.com/google/go-cmp/cmp"
)

func TestHandle(t *testing.T) {
	failedRun := func(w *world) {
		r := &dayops.Run{Definition: "deploy-web", Environment: "staging", Phase: dayops.Day1, Service: "web", State: dayops.RunFailed,
			Actor: alice, Revision: "feedfacecafe0000", Params: map[string]string{"version": "v1.2.0"},
			StartedAt: testNow.Add(-time.Minute), EndedAt: testNow.Add(-50 * time.Second), Reason: "step Install failed: exit status 3",
			Steps: []dayops.StepRun{
				{Index: 0, Name: "Back up", State: dayops.StepSucceeded, StartedAt: testNow.Add(-time.Minute), EndedAt: testNow.Add(-59 * time.Second)},
				{Index: 1, Name: "Install", State: dayops.StepFailed, Error: "exit status 3"},
				{Index: 2, Name: "Roll back", State: dayops.StepSucceeded, Rollback: true},
			}}
		w.store.Add(r)
		for i := 1; i <= 15; i++ {
			w.store.AddLogs(dayops.LogLine{RunID: 1, Step: 1, Seq: int64(i), Text: fmt.Sprintf("install line %d", i)})
		}
		w.store.AddLogs(dayops.LogLine{RunID: 1, Step: 2, Seq: 16, Text: "rollback output"})
	}
	waitingRun := func(by dayops.Actor) func(w *world) {
		return func(w *world) {
			w.store.Add(&dayops.Run{Definition: "deploy-web", Environment: "production", Phase: dayops.Day1, Service: "web",
				State: dayops.RunAwaitingApproval, Actor: by, Thread: here, Trigger: dayops.TriggerChat})
		}
	}
	plan := &dayops.Plan{
		Definition: &dayops.Definition{Name: "deploy-web", Phase: dayops.Day1}, Revision: "0123456789abcdef0123", Environment: "production",
		Params: map[string]string{"version": "v1.2.0"}, Env: []dayops.EnvVar{{Name: "IMAGE", Value: "registry/web:v1.2.0"}, {Name: "TOKEN", Value: "hunter2-secret"}},
		ConcurrencyKey: "deploy-web-production", Timeout: 30 * time.Minute,
		Steps:     []dayops.PlannedStep{{Index: 0, Name: "Back up", Kind: dayops.StepKindRun, Detail: "./backup.sh", Retries: 2}},
		Rollback:  []dayops.PlannedStep{{Index: 1, Name: "Roll back", Kind: dayops.StepKindRun, Detail: "./rollback.sh", Rollback: true}},
		Approval:  &dayops.ApprovalRule{Count: 1, From: []string{"sre"}},
		Approvers: []string{"console:alice", "console:bob"}, Secrets: []string{"KUBE_TOKEN"},
		Changes: "--- a\n+++ b\n-timeout: 10m\n+timeout: 30m\n", ChangesSince: "aaaabbbbccccdddd",
	}
	tests := []struct {
		name    string
		who     dayops.Actor
		text    string
		setup   func(w *world)
		want    []string // substrings of everything posted
		notWant []string
		calls   []string // engine calls, exactly
		audit   string   // "allowed", "refused", or "" for no audit row
	}{
		{name: "help", who: alice, text: "help",
			want: []string{"/ops deploy SERVICE ENV [VERSION] [key=value…]", "/ops whoami"}, audit: "allowed"},
		{name: "help without a role", who: dave, text: "help",
			want: []string{"/ops whoami", "Only the commands your roles allow are listed"}, notWant: []string{"/ops deploy", "/ops list"}, audit: "allowed"},
		{name: "help topic", who: dave, text: "help deploy", want: []string{"usage: /ops deploy SERVICE ENV", "example: /ops deploy web staging v1.2.0"}, audit: "allowed"},
		{name: "unknown verb", who: alice, text: "deplyo web staging", want: []string{`unknown command "deplyo" — did you mean "deploy"?`}},
		{name: "ignored", who: alice, text: "   "},
		{name: "list", who: alice, text: "list",
			want: []string{"3 definitions at revision 0123456789ab", "day0\n  preflight — Check tools and disk space",
				"day1\n  deploy-web (service web) — Deploy the web service", "day2\n  restart-web — Restart the web service"},
			audit: "allowed"},
		{name: "list shows what the asker may run", who: carol, text: "list",
			want: []string{"1 definition at revision 0123456789ab",
				"day1\n  deploy-web (service web; you may run it in staging) — Deploy the web service",
				"2 more that your roles do not let you run are left out"},
			notWant: []string{"preflight", "restart-web"}, audit: "allowed"},
		{name: "list phase", who: alice, text: "list day2", want: []string{"1 day2 definition at revision", "restart-web"},
			notWant: []string{"deploy-web"}, audit: "allowed"},
		{name: "list without read", who: dave, text: "list",
			want: []string{"not allowed: dave (console:dave) has no role in dayops"}, audit: "refused"},
		{name: "describe", who: carol, text: "describe deploy-web",
			want: []string{"deploy-web (day1) — Deploy the web service", "service: web",
				"environments: staging; production (approvals: 1 from sre)",
				`version (string, required, pattern ^v\d+\.\d+\.\d+$) — Image tag`,
				"concurrency: deploy-web-${{ env }}", "timeout: 30m0s", "secrets: KUBE_TOKEN", "triggers: schedule 0 3 * * *",
				"source: ops/day1/deploy-web.yaml@0123456789ab",
				"1. Back up the database — run: ./scripts/backup-db.sh (timeout 10m0s, retries 2)",
				"2. Verify — http: GET http://127.0.0.1/healthz", "rollback:\n  1. Roll back — run: ./scripts/rollback.sh"},
			calls: []string{"changes deploy-web "}, audit: "allowed"},
		{name: "describe shows what changed", who: carol, text: "describe deploy-web",
			setup: func(w *world) {
				w.engine.Since, w.engine.Diff = "fedcba9876543210", "--- a@fedcba987654\n+++ b@0123456789ab\n-  retries: 1\n+  retries: 2\n"
			},
			want:  []string{"changed since its last successful run at fedcba987654:", "-  retries: 1\n+  retries: 2"},
			calls: []string{"changes deploy-web "}, audit: "allowed"},
		{name: "no role learns no names", who: dave, text: "describe deplo-web",
			want: []string{"not allowed: dave (console:dave) has no role in dayops"}, notWant: []string{"deploy-web", "did you mean"}, audit: "refused"},
		{name: "describe typo", who: carol, text: "describe deplo-web",
			want: []string{`no definition "deplo-web" — did you mean "deploy-web"?`}},
		{name: "run a service name", who: alice, text: "run web staging",
			want: []string{`no definition "web": service web is deployed by "deploy-web" (/ops deploy web ENV)`}},
		{name: "plan", who: carol, text: "plan deploy-web production version=v1.2.0",
			setup: func(w *world) { w.engine.PlanAnswer = plan },
			want: []string{"Plan for deploy-web production at revision 0123456789ab — nothing has run",
				"params: version=v1.2.0", "lock key: deploy-web-production", "timeout: 30m0s",
				"approvals: 1 from sre, never the requester; may approve: console:alice, console:bob",
				"IMAGE=registry/web:v1.2.0", "TOKEN=***", "1. Back up — run: ./backup.sh (retries 2)", "rollback:\n  1. Roll back",
				"changed since its last successful run at aaaabbbbcccc:\n--- a", "+timeout: 30m"},
			notWant: []string{"hunter2"},
			calls:   []string{"plan deploy-web production"}, audit: "allowed"},
		{name: "plan needs the environment", who: carol, text: "plan deploy-web",
			want: []string{"deploy-web needs an environment: one of staging, production"}},
		{name: "deploy", who: carol, text: "deploy web staging v1.2.0",
			want:  []string{"Run #1 deploy-web staging — pending", "asked by carol", "revision 0123456789ab", "version=v1.2.0", "[1] Cancel run 1", "https://dayops.example.com/runs/1"},
			calls: []string{"start deploy-web staging"}, audit: "allowed"},
		{name: "deploy refused", who: carol, text: "deploy web production v1.2.0",
			want:  []string{"not allowed: carol (console:carol) has no role that allows run day1:deploy-web:production"},
			audit: "refused"},
		{name: "deploy unknown service", who: alice, text: "deploy wbe staging", want: []string{`no service "wbe" — did you mean "web"?`}},
		{name: "deploy unknown environment", who: alice, text: "deploy web prod v1.2.0",
			want: []string{`deploy-web has no environment "prod" — did you mean "production"?`}},
		{name: "deploy without service", who: alice, text: "deploy staging",
			want: []string{"missing SERVICE: only a pull request comment may leave it out\nusage: /ops deploy SERVICE ENV"}},
		{name: "run", who: alice, text: "run restart-web production", want: []string{"Run #1 restart-web production — pending"},
			calls: []string{"start restart-web production"}, audit: "allowed"},
		{name: "engine refuses", who: alice, text: "deploy web staging latest",
			setup: func(w *world) {
				w.engine.StartErr = dayops.Errorf(dayops.KindInvalid, `parameter version: "latest" does not match the pattern ^v\d+\.\d+\.\d+$`)
			},
			want:  []string{`parameter version: "latest" does not match the pattern ^v\d+\.\d+\.\d+$`},
			calls: []string{"start deploy-web staging"}, audit: "allowed"},
		{name: "internal errors hide details", who: alice, text: "run restart-web staging",
			setup: func(w *world) { w.engine.StartErr = errors.New("dial tcp: password hunter2-secret refused") },
			want:  []string{"internal error (at 2025-03-01T12:05:00Z)"}, notWant: []string{"hunter2", "dial"},
			calls: []string{"start restart-web staging"}, audit: "allowed"},
		{name: "user errors are redacted", who: alice, text: "run restart-web staging",
			setup: func(w *world) { w.engine.StartErr = dayops.Errorf(dayops.KindInvalid, "bad token hunter2-secret") },
			want:  []string{"bad token ***"}, notWant: []string{"hunter2"},
			calls: []string{"start restart-web staging"}, audit: "allowed"},
		{name: "approve as requester", who: alice, text: "approve 1", setup: waitingRun(alice),
			want: []string{"not allowed: alice requested run 1 and cannot approve it: someone else must"}, notWant: []string{"approved"},
			audit: "refused"},
		{name: "approve", who: bob, text: "approve #1", setup: waitingRun(alice),
			want: []string{"bob approved run 1 (1 of 1)"}, calls: []string{"approve 1 console:bob"}, audit: "allowed"},
		{name: "approve that does not count", who: bob, text: "approve 1", setup: func(w *world) {
			waitingRun(alice)(w)
			w.engine.Approval = &dayops.Approval{RunID: 1, Actor: bob, Approved: true, Note: "bob has approved already"}
		}, want: []string{"bob's approval of run 1 does not count: bob has approved already"},
			calls: []string{"approve 1 console:bob"}, audit: "allowed"},
		{name: "approve without the grant", who: carol, text: "approve 1", setup: waitingRun(alice),
			want: []string{"not allowed: carol (console:carol) has no role that allows approve day1:deploy-web:production"}, audit: "refused"},
		{name: "approve unknown run", who: bob, text: "approve 99", want: []string{"no run 99"}},
		{name: "deny", who: bob, text: "deny 1 not during the sale", setup: waitingRun(alice),
			want: []string{"bob denied run 1: not during the sale"}, calls: []string{"deny 1 console:bob not during the sale"}, audit: "allowed"},
		{name: "requester cancels own run", who: carol, text: "cancel 1", setup: waitingRun(carol),
			want: []string{"carol is cancelling run 1 deploy-web"}, calls: []string{"cancel 1 console:carol"}, audit: "allowed"},
		{name: "cancel refused", who: dave, text: "cancel 1", setup: waitingRun(alice),
			want: []string{"not allowed: dave (console:dave) has no role in dayops"}, audit: "refused"},
		{name: "lock refused", who: carol, text: "lock production freeze",
			want: []string{"not allowed: carol (console:carol) has no role that allows lock"}, audit: "refused"},
		{name: "lock", who: carol, text: "lock staging release freeze",
			want:  []string{"staging is locked by carol: release freeze. Deploys to staging wait until someone types: /ops unlock staging"},
			calls: []string{"lock staging release freeze"}, audit: "allowed"},
		{name: "lock typo", who: alice, text: "lock prod", want: []string{`no definition declares environment "prod" — did you mean "production"?`}},
		{name: "unlock own freeze", who: carol, text: "unlock staging", setup: frozenBy(carol, "release freeze"),
			want: []string{"staging is unlocked by carol"}, notWant: []string{"was locked by"}, calls: []string{"unlock staging"}, audit: "allowed"},
		{name: "unlock an SRE's freeze", who: carol, text: "unlock staging", setup: frozenBy(alice, "db migration"),
			want: []string{"not allowed: carol (console:carol) has no role that allows unlock:staging; the freeze of staging is alice's"}, audit: "refused"},
		{name: "unlock someone else's freeze", who: bob, text: "unlock staging", setup: frozenBy(alice, "db migration"),
			want: []string{"staging is unlocked by bob: it was locked by alice (db migration) since 2025-03-01 11:00 UTC"}, calls: []string{"unlock staging"}, audit: "allowed"},
		{name: "unlock what is not locked", who: bob, text: "unlock staging", want: []string{"staging is not locked"}, audit: "allowed"},
		{name: "status idle", who: carol, text: "status", want: []string{"no active runs"}, audit: "allowed"},
		{name: "status active", who: carol, text: "status", setup: func(w *world) {
			waitingRun(alice)(w)
			w.store.LockList = []dayops.EnvLock{{Environment: "production", Actor: bob, Reason: "sale", CreatedAt: testNow}}
		}, want: []string{"1 active runs\n  #1 deploy-web production — awaiting approval · alice · 2025-03-01 12:00Z",
			"production is locked by bob since 2025-03-01 12:05Z: sale"}, audit: "allowed"},
		{name: "status of a failed run", who: carol, text: "status 1", setup: failedRun,
			want: []string{"Run #1 deploy-web staging — failed", "step Install failed: exit status 3",
				"succeeded         Back up  1.0s", "failed            Install  (exit status 3)", "rollback:\n  succeeded         Roll back",
				"last output of Install:\n  | install line 6\n", "| install line 15", "https://dayops.example.com/runs/1", "[1] Retry run 1  [2] Full output"},
			notWant: []string{"install line 5\n", "rollback output", "[3]"}, audit: "allowed"},
		{name: "status of an awaiting run", who: carol, text: "status 1", setup: waitingRun(alice),
			want:  []string{"waiting for approval (not alice, who asked): approve 1 or deny 1", "[1] Approve run 1  [2] Deny"},
			audit: "allowed"},
		{name: "history", who: carol, text: "history web", setup: failedRun,
			want: []string{"last 1 runs\n  #1 deploy-web staging — failed · alice · 2025-03-01 12:00Z · 10.0s · version=v1.2.0"}, audit: "allowed"},
		{name: "history typo", who: carol, text: "history deplo-web", want: []string{`did you mean "deploy-web"?`}, audit: "allowed"},
		{name: "sync", who: carol, text: "sync", setup: func(w *world) {
			w.cats.Record = dayops.SyncRecord{Revision: "9999aaaabbbbcccc", Serving: "0123456789abcdef", Outcome: dayops.SyncInvalid,
				Errors: []string{"ops/x.yaml:3:1: unknown key foo"}}
			w.store.SyncList = []dayops.SyncRecord{
				{Time: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), Outcome: dayops.SyncInvalid, Revision: "9999aaaabbbbcccc", Definitions: 8, Duration: 23 * time.Millisecond, Errors: []string{"x"}},
				{Time: time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC), Outcome: dayops.SyncUpdated, Revision: "0123456789abcdef", Definitions: 8, Duration: 40 * time.Millisecond},
			}
		}, want: []string{"revision 9999aaaabbbb is invalid, so dayops keeps serving 0123456789ab", "ops/x.yaml:3:1: unknown key foo",
			"recent syncs:", "2026-11-23 12:00:00Z  invalid   9999aaaabbbb  8 definitions", "(1 problem(s))", "2026-11-23 11:00:00Z  updated   0123456789ab"}, audit: "allowed"},
		{name: "whoami", who: carol, text: "whoami", want: []string{"you are carol (console:carol)", "role dev allows: day1:*:staging, read"}, audit: "allowed"},
		{name: "whoami without role", who: dave, text: "whoami", want: []string{"you have no role"}, audit: "allowed"},
		{name: "rollback", who: alice, text: "rollback web production", want: []string{"Run #1 deploy-web production — pending", "rolls back run 1"},
			calls: []string{"rollback web production"}, audit: "allowed"},
		{name: "rollback unknown service", who: alice, text: "rollback wbe production", want: []string{`did you mean "web"?`}},
		{name: "unaudited means refused", who: alice, text: "run restart-web staging",
			setup: func(w *world) { w.store.AuditErr = errors.New("disk full") },
			want:  []string{"internal error"}, notWant: []string{"Run #"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			before := len(w.store.Audits())
			w.say(tt.who, tt.text)
			w.bot.Wait()
			got := w.door.Transcript()
			for _, s := range tt.want {
				if !strings.Contains(got, s) {
					t.Errorf("reply lacks %q; got:\n%s", s, got)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(got, s) {
					t.Errorf("reply has %q; got:\n%s", s, got)
				}
			}
			if tt.want == nil && got != "" {
				t.Errorf("want no reply, got:\n%s", got)
			}
			if diff := cmp.Diff(tt.calls, w.engine.Calls()); diff != "" {
				t.Errorf("engine calls (-want +got):\n%s", diff)
			}
			audits := w.store.Audits()[before:]
			switch {
			case tt.audit == "" && len(audits) > 0:
				t.Errorf("want no audit row, got %+v", audits)
			case tt.audit != "" && len(audits) != 1:
				t.Errorf("want one audit row, got %+v", audits)
			case tt.audit != "":
				a := audits[0]
				verb, _, _ := strings.Cut(tt.text, " ")
				if a.Allowed != (tt.audit == "allowed") || a.Actor != tt.who.ID || a.Where != here.String() ||
					a.Action != "command."+verb || a.Reason == "" || a.Target == "" {
					t.Errorf("audit row %+v, want %s by %s at %s", a, tt.audit, tt.who.ID, here)
				}
			}
		})
	}
}

func TestDeployRequest(t *testing.T) {
	w := newWorld(t)
	w.say(carol, "deploy web staging VERSION=v1.2.0 ")
	want := []dayops.RunRequest{{Definition: "deploy-web", Environment: "staging", Params: map[string]string{"version": "v1.2.0"},
		Actor: carol, Thread: here, Trigger: dayops.TriggerChat}}
	if diff := cmp.Diff(want, w.engine.Requests()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestClick(t *testing.T) {
	w := newWorld(t)
	w.store.Add(&dayops.Run{Definition: "deploy-web", Environment: "production", Phase: dayops.Day1,
		State: dayops.RunAwaitingApproval, Actor: alice, Thread: here})
	ctx := context.Background()
	w.bot.HandleClick(ctx, bot.Click{Actor: bob, Thread: here, Action: bot.ActionApprove, Value: "1"})
	w.bot.HandleClick(ctx, bot.Click{Actor: dave, Thread: here, Action: bot.ActionCancel, Value: "1"})
	w.bot.HandleClick(ctx, bot.Click{Actor: bob, Thread: here, Action: "explode", Value: "1"})
	if diff := cmp.Diff([]string{"approve 1 console:bob"}, w.engine.Calls()); diff != "" {
		t.Errorf("engine calls (-want +got):\n%s", diff)
	}
	got := w.door.Transcript()
	for _, s := range []string{"bob approved run 1 (1 of 1)", "not allowed: dave", "that button is not one dayops knows"} {
		if !strings.Contains(got, s) {
			t.Errorf("transcript lacks %q:\n%s", s, got)
		}
	}
	audits := w.store.Audits()
	if len(audits) != 2 || !audits[0].Allowed || audits[1].Allowed || audits[1].Action != "command.cancel" {
		t.Errorf("audits = %+v", audits)
	}
}

func TestStats(t *testing.T) {
	w := newWorld(t)
	h := time.Hour
	for _, tc := range []struct {
		r        dayops.Run
		ago      time.Duration // when it ended
		mergedAt time.Duration // how long before now its pull request merged, 0 for none
	}{
		{dayops.Run{State: dayops.RunSucceeded, Environment: "production"}, 40 * 24 * h, 40*24*h + 3*h}, // in 90 days only
		{dayops.Run{State: dayops.RunSucceeded, Environment: "production"}, 5 * h, 7 * h},
		{dayops.Run{State: dayops.RunFailed, Environment: "production"}, 4 * h, 0},
		{dayops.Run{State: dayops.RunSucceeded, Environment: "production"}, 3 * h, 0}, // rolled back by the next
		{dayops.Run{State: dayops.RunSucceeded, Environment: "production", RollbackOf: 4}, 2 * h, 0},
		{dayops.Run{State: dayops.RunDenied, Environment: "production"}, 90 * time.Minute, 0},
		{dayops.Run{State: dayops.RunSucceeded, Environment: "staging"}, h, 0},
	} {
		r := tc.r
		r.Definition, r.Service, r.Phase = "deploy-web", "web", dayops.Day1
		r.EndedAt = testNow.Add(-tc.ago)
		r.CreatedAt = r.EndedAt.Add(-time.Minute)
		if tc.mergedAt != 0 {
			r.Context = map[string]string{dayops.ContextPRMergedAt: testNow.Add(-tc.mergedAt).Format(time.RFC3339)}
		}
		w.store.Add(&r)
	}
	w.say(carol, "stats web")
	got := w.door.Transcript()
	for _, s := range []string{
		"deploys of web over the last 7 · 30 · 90 days",
		"web production\n",
		"  deployment frequency: 2.0 a week (2) · 0.5 a week (2) · 0.2 a week (3)",
		"  lead time for changes: 2h (median of 1) · 2h (median of 1) · 2h 30m (median of 2)",
		"  change failure rate: 67% (2 of 3) · 67% (2 of 3) · 50% (2 of 4)",
		"  time to restore: 2h (median of 1) · 2h (median of 1) · 2h (median of 1)",
		"web staging\n  deployment frequency: 1.0 a week (1) · 0.2 a week (1) · 0.1 a week (1)",
		"lead time: median from a pull request's merge to its deploy's success",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("stats lack %q:\n%s", s, got)
		}
	}
	w.say(carol, "stats wbe")
	if got := w.door.Transcript(); !strings.Contains(got, `no service "wbe" — did you mean "web"?`) {
		t.Errorf("stats typo:\n%s", got)
	}
}

// frozenBy sets up a freeze of staging by who.
func frozenBy(who dayops.Actor, reason string) func(w *world) {
	return func(w *world) {
		w.store.LockList = []dayops.EnvLock{{Environment: "staging", Actor: who, Reason: reason, CreatedAt: testNow.Add(-65 * time.Minute)}}
	}
}
