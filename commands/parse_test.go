package commands

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommands(t *testing.T) {
	tests := []struct {
		in   string
		want Command // Text defaults to the trimmed input
	}{
		// help, list, describe
		{"help", Command{Verb: VerbHelp}},
		{"help Deploy", Command{Verb: VerbHelp, Topic: "deploy"}},
		{"help nonsense", Command{Verb: VerbHelp, Topic: "nonsense"}},
		{"list", Command{Verb: VerbList}},
		{"list day0", Command{Verb: VerbList, Phase: "day0"}},
		{"list DAY2", Command{Verb: VerbList, Phase: "day2"}},
		{"describe deploy-api", Command{Verb: VerbDescribe, Name: "deploy-api"}},

		// plan and run
		{"plan deploy-api", Command{Verb: VerbPlan, Name: "deploy-api"}},
		{"plan deploy-api staging", Command{Verb: VerbPlan, Name: "deploy-api", Environment: "staging"}},
		{"plan deploy-api staging version=v1.2.0", Command{Verb: VerbPlan, Name: "deploy-api", Environment: "staging",
			Params: map[string]string{"version": "v1.2.0"}}},
		{"plan deploy-api version=v1", Command{Verb: VerbPlan, Name: "deploy-api", Params: map[string]string{"version": "v1"}}},
		{"run restart-worker prod_eu", Command{Verb: VerbRun, Name: "restart-worker", Environment: "prod_eu"}},
		{"RUN restart-worker a=1 b= c=x=y _d-e=\"two words\"", Command{Verb: VerbRun, Name: "restart-worker",
			Params: map[string]string{"a": "1", "b": "", "c": "x=y", "_d-e": "two words"}}},
		{"run x Key=1 key2=2", Command{Verb: VerbRun, Name: "x", Params: map[string]string{"Key": "1", "key2": "2"}}},
		{`run deploy-web production override="hotfix for INC-7" a=1`, Command{Verb: VerbRun, Name: "deploy-web", Environment: "production",
			Override: "hotfix for INC-7", Params: map[string]string{"a": "1"}}},
		{`deploy web production v2 Override="no time"`, Command{Verb: VerbDeploy, Service: "web", Environment: "production", Version: "v2",
			Override: "no time", Params: map[string]string{"version": "v2"}}},
		{`plan deploy-web production override=x`, Command{Verb: VerbPlan, Name: "deploy-web", Environment: "production",
			Params: map[string]string{"override": "x"}}}, // a plan overrides nothing: a parameter like any other

		// answer
		{"answer 42 2 yes", Command{Verb: VerbAnswer, RunID: 42, Question: 2, Answer: "yes"}},
		{"answer #42 1 NO the restore was never tested", Command{Verb: VerbAnswer, RunID: 42, Question: 1, Answer: "no",
			Reason: "the restore was never tested"}},

		// deploy in all its forms
		{"deploy web staging", Command{Verb: VerbDeploy, Service: "web", Environment: "staging"}},
		{"deploy web staging v1.2.0", Command{Verb: VerbDeploy, Service: "web", Environment: "staging", Version: "v1.2.0",
			Params: map[string]string{"version": "v1.2.0"}}},
		{"deploy web staging version=v1.2.0", Command{Verb: VerbDeploy, Service: "web", Environment: "staging", Version: "v1.2.0",
			Params: map[string]string{"version": "v1.2.0"}}},
		{"deploy web staging v1 version=v1 replicas=3", Command{Verb: VerbDeploy, Service: "web", Environment: "staging", Version: "v1",
			Params: map[string]string{"version": "v1", "replicas": "3"}}},
		{`deploy web staging version="v 1"`, Command{Verb: VerbDeploy, Service: "web", Environment: "staging", Version: "v 1",
			Params: map[string]string{"version": "v 1"}}},
		{"deploy web staging Version=v1", Command{Verb: VerbDeploy, Service: "web", Environment: "staging",
			Params: map[string]string{"Version": "v1"}}},
		{"deploy staging", Command{Verb: VerbDeploy, Environment: "staging"}},
		{"deploy staging replicas=2", Command{Verb: VerbDeploy, Environment: "staging", Params: map[string]string{"replicas": "2"}}},
		{"  Deploy   web\tstaging  ", Command{Verb: VerbDeploy, Service: "web", Environment: "staging"}},

		// rollback, status, history
		{"rollback web production", Command{Verb: VerbRollback, Service: "web", Environment: "production"}},
		{"status", Command{Verb: VerbStatus}},
		{"status 42", Command{Verb: VerbStatus, RunID: 42}},
		{"status #42", Command{Verb: VerbStatus, RunID: 42}},
		{"status 007", Command{Verb: VerbStatus, RunID: 7}},
		{"status 9223372036854775807", Command{Verb: VerbStatus, RunID: 9223372036854775807}},
		{"history", Command{Verb: VerbHistory}},
		{"history deploy-api", Command{Verb: VerbHistory, Name: "deploy-api"}},
		{"history deploy-api production", Command{Verb: VerbHistory, Name: "deploy-api", Environment: "production"}},

		// approvals and cancel
		{"approve #7", Command{Verb: VerbApprove, RunID: 7}},
		{"deny 7", Command{Verb: VerbDeny, RunID: 7}},
		{"deny 7 not   during the sale", Command{Verb: VerbDeny, RunID: 7, Reason: "not during the sale"}},
		{`deny 7 "two  spaces" kept x=y`, Command{Verb: VerbDeny, RunID: 7, Reason: "two  spaces kept x=y"}},
		{"deny 7 don’t ship on friday", Command{Verb: VerbDeny, RunID: 7, Reason: "don’t ship on friday"}},
		{`deny 7 "" ok`, Command{Verb: VerbDeny, RunID: 7, Reason: "ok"}},
		{"cancel 12", Command{Verb: VerbCancel, RunID: 12}},

		// locks and the rest
		{"lock production", Command{Verb: VerbLock, Environment: "production"}},
		{"lock production release freeze", Command{Verb: VerbLock, Environment: "production", Reason: "release freeze"}},
		{"lock production freeze=until-monday", Command{Verb: VerbLock, Environment: "production", Reason: "freeze=until-monday"}},
		{"unlock production", Command{Verb: VerbUnlock, Environment: "production"}},
		{"sync", Command{Verb: VerbSync}},
		{"SYNC", Command{Verb: VerbSync}},
		{"stats", Command{Verb: VerbStats}},
		{"stats web", Command{Verb: VerbStats, Service: "web"}},
		{"whoami", Command{Verb: VerbWhoami}},

		// quoting, including the typographic quotes Slack substitutes
		{`describe "deploy-api"`, Command{Verb: VerbDescribe, Name: "deploy-api"}},
		{`describe 'deploy-api'`, Command{Verb: VerbDescribe, Name: "deploy-api"}},
		{`describe deploy\-api`, Command{Verb: VerbDescribe, Name: "deploy-api"}},
		{"lock production “release freeze” now", Command{Verb: VerbLock, Environment: "production", Reason: "release freeze now"}},
		{"deploy web staging version=“v 2”", Command{Verb: VerbDeploy, Service: "web", Environment: "staging", Version: "v 2",
			Params: map[string]string{"version": "v 2"}}},
		{"run x note=‘it works’", Command{Verb: VerbRun, Name: "x", Params: map[string]string{"note": "it works"}}},
		{"run x msg=\"multi\nline\"", Command{Verb: VerbRun, Name: "x", Params: map[string]string{"msg": "multi\nline"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			want := tt.want
			if want.Text == "" {
				want.Text = strings.TrimSpace(tt.in)
			}
			got := Parse(tt.in)
			if diff := cmp.Diff(Result{Command: &want}, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseReplies(t *testing.T) {
	tests := []struct {
		in   string
		want []string // substrings the reply must contain
	}{
		// unknown verbs
		{"deplyo web staging", []string{`unknown command "deplyo"`, `did you mean "deploy"?`, "/ops help"}},
		{"DEPLOI web", []string{`did you mean "deploy"?`}},
		{"stat", []string{`did you mean "stats"?`}},
		{"approv 1", []string{`did you mean "approve"?`}},
		{"frobnicate", []string{`unknown command "frobnicate"`, "/ops help lists every command"}},
		{`""`, []string{`unknown command ""`}},

		// arity
		{"deploy", []string{"missing SERVICE and ENV", "usage: /ops deploy SERVICE ENV [VERSION] [key=value…]"}},
		{"deploy web staging v1 extra", []string{`unexpected word "extra"`, "key=value", "usage: /ops deploy"}},
		{"describe", []string{"missing NAME", "usage: /ops describe NAME"}},
		{"describe a b", []string{`unexpected word "b"`, "usage: /ops describe NAME"}},
		{"rollback web", []string{"missing ENV", "usage: /ops rollback SERVICE ENV"}},
		{"approve", []string{"missing RUN", "usage: /ops approve RUN"}},
		{"answer 42 2", []string{"missing yes|no", "usage: /ops answer RUN QUESTION yes|no [note…]"}},
		{"answer 42 two yes", []string{`invalid QUESTION "two": give the question's number`}},
		{"answer 42 2 maybe", []string{`invalid answer "maybe": answer yes or no`}},
		{`run deploy-web production override=""`, []string{`override needs a reason: write override="why it cannot wait"`}},
		{"deny", []string{"missing RUN", "usage: /ops deny RUN [reason…]"}},
		{"lock", []string{"missing ENV", "usage: /ops lock ENV [reason…]"}},
		{"unlock a b", []string{`unexpected word "b"`}},
		{"sync now", []string{`unexpected word "now"`, "usage: /ops sync"}},
		{"whoami me", []string{`unexpected word "me"`}},
		{"help a b", []string{`unexpected word "b"`, "usage: /ops help [COMMAND]"}},
		{"list day1 day2", []string{`unexpected word "day2"`}},
		{"history a b c", []string{`unexpected word "c"`}},

		// key=value where it does not belong, and duplicates
		{"status 4 verbose=1", []string{`status takes no key=value parameters, but got "verbose=1"`}},
		{"lock env=prod", []string{`lock takes no key=value parameters`}},
		{"rollback web prod version=v1", []string{"rollback takes no key=value"}},
		{"run x a=1 a=2", []string{`parameter "a" is given twice`}},
		{"run x Mode=1 mode=2", []string{`parameters "Mode" and "mode" differ only by case`}},
		{"deploy web staging v1 version=v2", []string{`VERSION "v1" and version="v2" disagree`}},
		{"deploy web staging v1 VERSION=v1", []string{`parameter "VERSION" both set the version`}},
		{`deploy web staging ""`, []string{"VERSION is empty"}},

		// invalid names
		{"describe Deploy-API", []string{`invalid NAME "Deploy-API"`, "lowercase", `did you mean "deploy-api"?`}},
		{"describe deploy_api", []string{`invalid NAME "deploy_api"`, "like deploy-api"}},
		{"describe -x", []string{`invalid NAME "-x"`}},
		{`describe ""`, []string{`invalid NAME ""`}},
		{"deploy web/api staging", []string{`invalid SERVICE "web/api"`}},
		{"deploy web Staging", []string{`invalid ENV "Staging"`, `did you mean "staging"?`}},
		{"deploy v1.2.0", []string{`invalid ENV "v1.2.0"`}},
		{"unlock prod.eu", []string{`invalid ENV "prod.eu"`, "underscores"}},
		{"stats Web!", []string{`invalid SERVICE "Web!"`}},
		{"list day4", []string{`invalid phase "day4"`, "day0, day1 or day2", `did you mean "day0"?`}},
		{"list production", []string{`invalid phase "production"`}},

		// run numbers
		{"approve abc", []string{`invalid RUN "abc"`, "like 42 or #42"}},
		{"cancel 0", []string{`invalid RUN "0"`}},
		{"cancel -1", []string{`invalid RUN "-1"`}},
		{"cancel +1", []string{`invalid RUN "+1"`}},
		{"cancel #", []string{`invalid RUN "#"`}},
		{"status 99999999999999999999", []string{`invalid RUN "99999999999999999999"`}},

		// quoting errors
		{`lock prod "release freeze`, []string{`unterminated " quote at character 11`}},
		{`deny 1 it's broken`, []string{`unterminated ' quote`, "apostrophe"}},
		{"lock prod “release freeze", []string{"unterminated “ quote", "close it with ”"}},
		{"lock prod ‘release freeze", []string{"unterminated ‘ quote", "close it with ’"}},

		// hostile input
		{"run x a=\x00", []string{"control character U+0000"}},
		{"deplyo\x1b[31m", []string{`unknown command "deplyo[31m"`}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Parse(tt.in)
			if got.Command != nil || got.Ignore {
				t.Fatalf("Parse(%q) = %+v, want a reply", tt.in, got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Reply, w) {
					t.Errorf("Parse(%q).Reply = %q, want it to contain %q", tt.in, got.Reply, w)
				}
			}
		})
	}
}

func TestParseIgnore(t *testing.T) {
	for _, in := range []string{"", " ", "\t\n ", "\u00a0\u3000"} {
		if got := Parse(in); !cmp.Equal(got, Result{Ignore: true}) {
			t.Errorf("Parse(%q) = %+v, want Ignore", in, got)
		}
	}
}

func TestParseLimits(t *testing.T) {
	long := "deploy web staging reason=" + strings.Repeat("x", MaxInputBytes)
	if got := Parse(long); !strings.Contains(got.Reply, "at most 4000") {
		t.Errorf("Parse(long).Reply = %q, want the size limit", got.Reply)
	}
	if got := Parse(long[:MaxInputBytes]); got.Command == nil {
		t.Errorf("Parse(%d bytes) = %+v, want a command", MaxInputBytes, got)
	}
	if got := Parse("deploy web \xff\xfe"); !strings.Contains(got.Reply, "UTF-8") {
		t.Errorf("Parse(invalid UTF-8).Reply = %q, want a UTF-8 complaint", got.Reply)
	}
}

// A reply quotes user text, but never much of it, and never its control
// or bidirectional formatting characters.
func TestParseReplyEcho(t *testing.T) {
	word := strings.Repeat("a", 200)
	got := Parse(word).Reply
	want := `unknown command "` + strings.Repeat("a", maxEcho) + `…"`
	if !strings.HasPrefix(got, want) {
		t.Errorf("Parse(200 letters).Reply = %q, want prefix %q", got, want)
	}
	got = Parse("describe \"evil\u202Egnp.exe\u200b\"").Reply
	if strings.ContainsAny(got, "\u202E\u200b") || !strings.Contains(got, `"evilgnp.exe"`) {
		t.Errorf("Reply = %q, want formatting characters dropped", got)
	}
	got = Parse("describe \"a\nb\"").Reply
	if !strings.Contains(got, `"a b"`) {
		t.Errorf("Reply = %q, want the newline shown as a space", got)
	}
}

func TestStripPrefix(t *testing.T) {
	tests := []struct {
		text, prefix string
		rest         string
		ok           bool
	}{
		{"/ops deploy web staging", "/ops", "deploy web staging", true},
		{"  /OPS   deploy x  ", "/ops", "deploy x", true},
		{"/ops", "/ops", "", true},
		{"/ops\ndeploy x", "/ops", "deploy x", true},
		{"/opsx deploy", "/ops", "/opsx deploy", false},
		{"/ops-deploy", "/ops", "/ops-deploy", false},
		{"deploy x", "/ops", "deploy x", false},
		{"/op", "/ops", "/op", false},
		{"please /ops deploy", "/ops", "please /ops deploy", false},
		{"/ops deploy", " /ops ", "deploy", true},
		{"!deploy web", "!", "deploy web", true},
		{"<@U123ABC> deploy web", "<@U123ABC>", "deploy web", true},
		{"<@U999> deploy web", "<@U123ABC>", "<@U999> deploy web", false},
		{"<@U123ABC> deploy web", "", "<@U123ABC> deploy web", true}, // mentions are the Slack door's business
		{"deploy web", "", "deploy web", true},
		{"  spaced  ", "", "spaced", true},
	}
	for _, tt := range tests {
		rest, ok := StripPrefix(tt.text, tt.prefix)
		if rest != tt.rest || ok != tt.ok {
			t.Errorf("StripPrefix(%q, %q) = %q, %v; want %q, %v", tt.text, tt.prefix, rest, ok, tt.rest, tt.ok)
		}
	}
}

// The issue's own example: a typo after the slash command.
func TestStripPrefixThenParse(t *testing.T) {
	rest, ok := StripPrefix("/ops deplyo web staging", "/ops")
	if !ok {
		t.Fatal("StripPrefix: no match")
	}
	if got := Parse(rest).Reply; !strings.Contains(got, `did you mean "deploy"`) {
		t.Errorf("Reply = %q, want a did-you-mean", got)
	}
}

func TestUsageReply(t *testing.T) {
	tests := []struct {
		verb    Verb
		problem string
		want    string
	}{
		{VerbDeploy, "missing SERVICE", "missing SERVICE\nusage: /ops deploy SERVICE ENV [VERSION] [key=value…]"},
		{VerbSync, "", "usage: /ops sync"},
		{"nope", "broken", "broken"},
	}
	for _, tt := range tests {
		if got := UsageReply(tt.verb, tt.problem); got != tt.want {
			t.Errorf("UsageReply(%q, %q) = %q, want %q", tt.verb, tt.problem, got, tt.want)
		}
	}
}

func TestGrammarPrefix(t *testing.T) {
	g := Grammar{Prefix: "/dayops"}
	for _, got := range []string{g.Help(""), g.Help("deploy"), g.Parse("deplyo web").Reply, g.Parse("deploy").Reply, g.UsageReply(VerbDeploy, "")} {
		if strings.Contains(got, DefaultPrefix+" ") || !strings.Contains(got, "/dayops ") {
			t.Errorf("reply does not use the configured prefix:\n%s", got)
		}
	}
}
