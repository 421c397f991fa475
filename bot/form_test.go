package bot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot"
)

func TestMissingParameterAnswersWithAForm(t *testing.T) {
	tests := []struct {
		name     string
		who      dayops.Actor
		text     string
		wantText string
		wantForm *bot.Form
	}{
		{name: "deploy without its version", who: carol, text: "deploy web staging",
			wantText: "deploy-web staging needs version: type /ops run deploy-web staging version=VALUE",
			wantForm: &bot.Form{Definition: "deploy-web", Title: "deploy-web staging", Environment: "staging", Trigger: dayops.TriggerChat,
				Instructions: "Deploy the web service",
				Fields:       []bot.FormField{{Name: "version", Label: "version", Hint: "Image tag", Kind: bot.FieldText, Required: true}}}},
		{name: "a user without the role is refused, not asked", who: carol, text: "deploy web production",
			wantText: "not allowed"},
		{name: "all there: no form", who: carol, text: "deploy web staging v1.2.0", wantText: ""},
		{name: "an unknown parameter is not dropped into a form", who: carol, text: "deploy web staging verison=v1.2.0", wantText: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.say(tt.who, tt.text)
			w.bot.Wait()
			posts := w.door.Posts()
			if tt.wantText == "" {
				if len(w.engine.Requests()) != 1 {
					t.Fatalf("want a run started, got posts %+v", posts)
				}
				return
			}
			if len(w.engine.Requests()) != 0 {
				t.Fatalf("a run was started: %+v", w.engine.Requests())
			}
			if len(posts) != 1 {
				t.Fatalf("want one answer, got %+v", posts)
			}
			m := posts[0].Msg
			if !strings.Contains(m.Text, tt.wantText) || !m.Private {
				t.Errorf("answer %q (private %v), want %q", m.Text, m.Private, tt.wantText)
			}
			if diff := cmp.Diff(tt.wantForm, m.Form); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWantsForm(t *testing.T) {
	w := newWorld(t)
	for text, want := range map[string]bool{
		"deploy web staging":         true,
		"run deploy-web staging":     true,
		"deploy web staging v1.2.0":  false,
		"deploy web staging tag=v1":  false, // the start says tag is unknown
		"deploy web nowhere":         false, // the answer is an error, not a form
		"run restart-web production": false, // no parameters
		"status":                     false,
	} {
		if got := w.bot.WantsForm(text); got != want {
			t.Errorf("WantsForm(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestCheckForm(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name string
		in   bot.FormValues
		want map[string]string
	}{
		{name: "good", in: bot.FormValues{Definition: "deploy-web", Environment: "staging", Values: map[string]string{"version": "v1.2.0"}}},
		{name: "bad pattern", in: bot.FormValues{Definition: "deploy-web", Environment: "staging", Values: map[string]string{"version": "latest"}},
			want: map[string]string{"version": `"latest" does not match the pattern ^v\d+\.\d+\.\d+$`}},
		{name: "empty required", in: bot.FormValues{Definition: "deploy-web", Environment: "staging", Values: map[string]string{"version": ""}},
			want: map[string]string{"version": `required: a value matching ^v\d+\.\d+\.\d+$`}},
		{name: "environment field", in: bot.FormValues{Definition: "restart-web", Values: map[string]string{bot.FormEnvironment: "prod"}},
			want: map[string]string{bot.FormEnvironment: `restart-web has no environment "prod" — did you mean "production"?`}},
		{name: "definition gone", in: bot.FormValues{Definition: "deploy-api", Environment: "staging"},
			want: map[string]string{"": `no definition "deploy-api" — did you mean "deploy-web"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, w.bot.CheckForm(tt.in)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubmitFormStartsTheRun(t *testing.T) {
	w := newWorld(t)
	w.bot.SubmitForm(context.Background(), carol, here, dayops.TriggerChat,
		bot.FormValues{Definition: "restart-web", Values: map[string]string{bot.FormEnvironment: "staging"}})
	w.bot.SubmitForm(context.Background(), carol, here, dayops.TriggerChat,
		bot.FormValues{Definition: "deploy-web", Environment: "staging", Values: map[string]string{"version": "v1.3.0"}})
	w.bot.Wait()
	reqs := w.engine.Requests()
	// carol may deploy to staging, not restart: the form's run is authorised like typed text.
	if len(reqs) != 1 || reqs[0].Definition != "deploy-web" || reqs[0].Params["version"] != "v1.3.0" || reqs[0].Actor.ID != carol.ID {
		t.Fatalf("requests %+v", reqs)
	}
	if tr := w.door.Transcript(); !strings.Contains(tr, "not allowed") {
		t.Errorf("the refused restart is not answered:\n%s", tr)
	}
}

func TestRunAndRetryButtons(t *testing.T) {
	failed := func(w *world) {
		w.store.Add(&dayops.Run{Definition: "deploy-web", Environment: "staging", Phase: dayops.Day1, State: dayops.RunFailed,
			Actor: alice, Thread: here, Params: map[string]string{"version": "v1.2.0"}})
	}
	tests := []struct {
		name     string
		setup    func(w *world)
		click    bot.Click
		started  string // "DEFINITION ENV by ACTOR", or "" for none
		want     string // in the answer
		wantForm bool
	}{
		{name: "retry a failed run as the clicker", setup: failed, click: bot.Click{Actor: carol, Action: bot.ActionRetry, Value: "1"},
			started: "deploy-web staging v1.2.0 by console:carol"},
		{name: "retry of a run that succeeded", click: bot.Click{Actor: carol, Action: bot.ActionRetry, Value: "1"},
			setup: func(w *world) {
				failed(w)
				w.store.Update(1, func(r *dayops.Run) { r.State = dayops.RunSucceeded })
			}, want: "this Retry button no longer applies: run 1 is succeeded, and only a failed run is retried. Nothing was started."},
		{name: "retry of a run retried already", click: bot.Click{Actor: carol, Action: bot.ActionRetry, Value: "1"},
			setup: func(w *world) {
				failed(w)
				failed(w)
				w.store.Update(2, func(r *dayops.Run) { r.State = dayops.RunRunning })
			}, want: "no longer applies: run 2 of deploy-web staging came after it and is running"},
		{name: "retry of an unknown run", click: bot.Click{Actor: carol, Action: bot.ActionRetry, Value: "7"},
			want: "no longer applies: run 7 is not known"},
		{name: "retry re-authorised", setup: failed, click: bot.Click{Actor: dave, Action: bot.ActionRetry, Value: "1"},
			want: "not allowed"},
		{name: "run button opens the form", click: bot.Click{Actor: alice, Action: bot.ActionRun, Value: "restart-web|production"},
			want: "to run restart-web production, type: /ops run restart-web production", wantForm: true},
		{name: "run button without environment asks for it", click: bot.Click{Actor: alice, Action: bot.ActionRun, Value: "restart-web"},
			want: "to run restart-web, type: /ops run restart-web ENV", wantForm: true},
		{name: "run button of a runbook gone", click: bot.Click{Actor: alice, Action: bot.ActionRun, Value: "restart-api|staging"},
			want: `this Run button no longer applies: no definition "restart-api"`},
		{name: "run button refused", click: bot.Click{Actor: carol, Action: bot.ActionRun, Value: "restart-web|production"},
			want: "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			tt.click.Thread = here
			w.bot.HandleClick(context.Background(), tt.click)
			w.bot.Wait()
			var started string
			if reqs := w.engine.Requests(); len(reqs) == 1 {
				r := reqs[0]
				started = r.Definition + " " + r.Environment + " " + r.Params["version"] + " by " + r.Actor.ID
				if r.Trigger != dayops.TriggerButton {
					t.Errorf("trigger %s", r.Trigger)
				}
			} else if len(reqs) > 1 {
				t.Fatalf("%d runs started", len(reqs))
			}
			if started != tt.started {
				t.Errorf("started %q, want %q", started, tt.started)
			}
			if tt.want == "" {
				return
			}
			posts := w.door.Posts()
			if len(posts) != 1 || !strings.Contains(posts[0].Msg.Text, tt.want) || !posts[0].Msg.Private {
				t.Fatalf("answers %+v, want one private with %q", posts, tt.want)
			}
			if got := posts[0].Msg.Form != nil; got != tt.wantForm {
				t.Errorf("form %v, want %v", got, tt.wantForm)
			}
		})
	}
}
