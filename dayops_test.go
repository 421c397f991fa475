package dayops

import (
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParamCheck(t *testing.T) {
	version := Param{Name: "version", Type: ParamString, Pattern: regexp.MustCompile(`^v\d+\.\d+\.\d+$`)}
	tests := []struct {
		p       Param
		in      string
		want    string
		wantErr string
	}{
		{version, "v1.2.0", "v1.2.0", ""},
		{version, "latest", "", `parameter version: "latest" does not match the pattern ^v\d+\.\d+\.\d+$`},
		{version, "v1.2.0; touch /tmp/pwned", "", "does not match"},
		{version, "v1.2.0\nrm -rf /", "", "control characters"},
		{version, "\xff", "", "valid UTF-8"},
		{version, strings.Repeat("a", MaxParamLength+1), "", "the limit is"},
		{Param{Name: "n", Type: ParamInt}, "007", "7", ""},
		{Param{Name: "n", Type: ParamInt}, "seven", "", "not a whole number"},
		{Param{Name: "b", Type: ParamBool}, "TRUE", "true", ""},
		{Param{Name: "b", Type: ParamBool}, "yes", "", "not true or false"},
		{Param{Name: "c", Type: ParamChoice, Choices: []string{"a", "b"}}, "b", "b", ""},
		{Param{Name: "c", Type: ParamChoice, Choices: []string{"a", "b"}}, "z", "", "not one of a, b"},
	}
	for _, tt := range tests {
		got, err := tt.p.Check(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Check(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			if KindOf(err) != KindInvalid {
				t.Errorf("Check(%q) kind = %q, want invalid", tt.in, KindOf(err))
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Check(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestResolveParams(t *testing.T) {
	d := &Definition{Name: "deploy-web", Params: []Param{
		{Name: "version", Type: ParamString, Required: true},
		{Name: "dry", Type: ParamBool, Default: "false", HasDefault: true},
		{Name: "note", Type: ParamString},
	}}
	got, err := d.ResolveParams(map[string]string{"version": "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"version": "v1", "dry": "false"}, got); diff != "" {
		t.Errorf("resolved (-want +got):\n%s", diff)
	}
	_, err = d.ResolveParams(map[string]string{"verison": "v1"})
	for _, want := range []string{`no parameter "verison"`, "version is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestCheckEnvironment(t *testing.T) {
	d := &Definition{Name: "d", Environments: []Environment{{Name: "staging"}, {Name: "production"}}}
	if err := d.CheckEnvironment("staging"); err != nil {
		t.Error(err)
	}
	for _, env := range []string{"", "prod"} {
		if err := d.CheckEnvironment(env); KindOf(err) != KindInvalid {
			t.Errorf("CheckEnvironment(%q) = %v, want invalid", env, err)
		}
	}
	if err := (&Definition{Name: "x"}).CheckEnvironment("staging"); err == nil {
		t.Error("definition without environments accepted an environment")
	}
}

func TestRunStateMoves(t *testing.T) {
	tests := []struct {
		from, to RunState
		ok       bool
	}{
		{RunPending, RunAwaitingApproval, true},
		{RunPending, RunQueued, true},
		{RunPending, RunRunning, true},
		{RunAwaitingApproval, RunQueued, true},
		{RunAwaitingApproval, RunDenied, true},
		{RunQueued, RunRunning, true},
		{RunRunning, RunAwaitingApproval, true},
		{RunAwaitingApproval, RunRunning, true},
		{RunRunning, RunSucceeded, true},
		{RunRunning, RunInterrupted, true},
		{RunQueued, RunCancelled, true},
		{RunQueued, RunSucceeded, false},
		{RunRunning, RunQueued, false},
		{RunQueued, RunPending, false},
		{RunSucceeded, RunFailed, false},
		{RunFailed, RunFailed, false},
		{RunDenied, RunRunning, false},
		{RunRunning, RunRunning, false},
	}
	for _, tt := range tests {
		if got := tt.from.CanMoveTo(tt.to); got != tt.ok {
			t.Errorf("%s -> %s = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}

func TestCatalog(t *testing.T) {
	web := &Definition{Name: "deploy-web", Phase: Day1, Service: "web"}
	diag := &Definition{Name: "diagnose-web", Phase: Day2}
	c, err := NewCatalog("abc", []*Definition{diag, web})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"deploy-web", "diagnose-web"}, c.Names()); diff != "" {
		t.Error(diff)
	}
	if d, ok := c.ForService("web"); !ok || d != web {
		t.Errorf("ForService(web) = %v, %v", d, ok)
	}
	if got := c.ByPhase(Day2); len(got) != 1 || got[0] != diag {
		t.Errorf("ByPhase(day2) = %v", got)
	}
	if _, err := c.Get("nope"); KindOf(err) != KindNotFound {
		t.Errorf("Get(nope) = %v", err)
	}
	if _, err := NewCatalog("abc", []*Definition{web, {Name: "deploy-web"}}); err == nil {
		t.Error("duplicate names accepted")
	}
	if _, err := NewCatalog("abc", []*Definition{web, {Name: "other", Phase: Day1, Service: "web"}}); err == nil {
		t.Error("two deploys of one service accepted")
	}
	var nilCat *Catalog
	if nilCat.Len() != 0 || nilCat.Revision() != "" {
		t.Error("nil catalog is not empty")
	}
}

func TestTemplates(t *testing.T) {
	scope := Scope{
		Params:      map[string]string{"version": "v1.2.0", "evil": "${{ params.version }}$(touch /tmp/x)"},
		Environment: "staging",
		Vars:        map[string]string{"DEMO_URL": "http://127.0.0.1:1"},
		Steps:       map[string]map[string]string{"install": {"previous": "v1.1.0"}},
		Run:         map[string]string{"id": "7"},
	}
	tests := []struct{ in, want, wantErr string }{
		{"plain", "plain", ""},
		{"deploy-${{ env }}", "deploy-staging", ""},
		{"${{params.version}}/${{ steps.install.outputs.previous }}", "v1.2.0/v1.1.0", ""},
		{"${{ vars.DEMO_URL }}/x ${{ vars.UNSET }}", "http://127.0.0.1:1/x ", ""},
		{"${{ params.evil }}", "${{ params.version }}$(touch /tmp/x)", ""},
		{"${{ run.id }}", "7", ""},
		{"${{ secrets.X }}", "", "unknown expression root"},
		{"${{ params }}", "", "params.NAME"},
		{"${{ env.X }}", "", "no fields"},
		{"${{ pr.nope }}", "", "pr.FIELD"},
		{"${{ steps.a.b }}", "", "steps.ID.outputs.KEY"},
		{"${{ params.version", "", "unterminated"},
		{"${{ }}", "", "empty expression"},
		{"${{ params.a || 'x' }}", "", "only dotted names"},
	}
	for _, tt := range tests {
		got, err := Expand(tt.in, scope)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Expand(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	_, err := ParseTemplate("ab ${{ bad root }}")
	var ee *ExprError
	if !errors.As(err, &ee) || ee.Offset != 3 {
		t.Errorf("offset: %v", err)
	}
}

func FuzzExpand(f *testing.F) {
	f.Add("deploy-${{ env }}-${{ params.x }}")
	f.Add("${{")
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := ParseTemplate(s)
		if err != nil {
			return
		}
		for _, r := range tpl.Refs() {
			if r.Root == "" {
				t.Fatalf("empty root in %q", s)
			}
		}
		if !HasExpression(s) && tpl.Expand(Scope{}) != s {
			t.Fatalf("literal %q changed", s)
		}
	})
}

func TestRedactor(t *testing.T) {
	secret := "hunter2-s3cr3t/+="
	r := NewRedactor(secret, "ab") // "ab" is too short to mask
	in := strings.Join([]string{
		"plain " + secret,
		"b64 " + base64.StdEncoding.EncodeToString([]byte(secret)),
		"url " + url.QueryEscape(secret),
		"cred https://user:tok@example.com/repo.git",
		"lab",
	}, "\n")
	out := r.Redact(in)
	for _, leak := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), url.QueryEscape(secret), "tok@"} {
		if strings.Contains(out, leak) {
			t.Errorf("%q leaked in %q", leak, out)
		}
	}
	if !strings.Contains(out, "https://***@example.com") || !strings.Contains(out, "lab") {
		t.Errorf("redacted too much or too little: %q", out)
	}
	r2 := r.With("another-secret")
	if got := r2.Redact("another-secret " + secret); got != Mask+" "+Mask {
		t.Errorf("With lost values: %q", got)
	}
	var nilR *Redactor
	if got := nilR.Redact("x"); got != "x" {
		t.Errorf("nil redactor = %q", got)
	}
}

func TestPolicy(t *testing.T) {
	p := Policy{
		Roles: []Role{
			{Name: "sre", Members: []string{"slack:U1", "slack-group:S0SRE"}, Allow: []string{"*"}},
			{Name: "dev", Members: []string{"slack-group:S0DEV"}, Allow: []string{"day1:*:staging", "day2:diagnose-*", "read", "lock:staging"}},
			{Name: "wide", Members: []string{"slack:U4"}, Allow: []string{"*:*:*", "*:*"}},
		},
		Channels: []ChannelRule{{Pattern: regexp.MustCompile("^inc-"), Allow: []string{"day2:*"}}},
	}
	sre := Actor{ID: "slack:U1"}
	wide := Actor{ID: "slack:U4"}
	dev := Actor{ID: "slack:U2", Groups: []string{"slack-group:S0DEV"}}
	nobody := Actor{ID: "slack:U3"}
	general := Thread{Door: "slack", Name: "general"}
	inc := Thread{Door: "slack", Name: "inc-db"}
	tests := []struct {
		a     Actor
		where Thread
		act   Action
		ok    bool
	}{
		{sre, general, Action{Kind: ActRun, Phase: Day1, Name: "deploy-web", Environment: "production"}, true},
		{dev, general, Action{Kind: ActRun, Phase: Day1, Name: "deploy-web", Environment: "staging"}, true},
		{dev, general, Action{Kind: ActRun, Phase: Day1, Name: "deploy-web", Environment: "production"}, false},
		{dev, general, Action{Kind: ActRun, Phase: Day2, Name: "diagnose-web"}, true},
		{dev, general, Action{Kind: ActRun, Phase: Day2, Name: "restore-db", Environment: "staging"}, false},
		{dev, general, Action{Kind: ActRead}, true},
		{dev, general, Action{Kind: ActLock, Environment: "staging"}, true},
		{dev, general, Action{Kind: ActLock, Environment: "production"}, false},
		{dev, general, Action{Kind: ActUnlock, Environment: "staging"}, false}, // lifting is a grant of its own
		{sre, general, Action{Kind: ActUnlock, Environment: "production"}, true},
		{wide, general, Action{Kind: ActRun, Phase: Day1, Name: "deploy-web", Environment: "production"}, true},
		{wide, general, Action{Kind: ActLock, Environment: "staging"}, false}, // phase globs never grant a freeze
		{wide, general, Action{Kind: ActUnlock, Environment: "staging"}, false},
		{nobody, general, Action{Kind: ActRead}, false},
		{nobody, general, Action{Kind: ActRun, Phase: Day2, Name: "diagnose-web"}, false},
		{sre, inc, Action{Kind: ActRun, Phase: Day1, Name: "deploy-web", Environment: "staging"}, false},
		{sre, inc, Action{Kind: ActRun, Phase: Day2, Name: "restart-web", Environment: "staging"}, true},
	}
	for _, tt := range tests {
		v := p.Authorize(tt.a, tt.where, tt.act)
		if v.Allowed != tt.ok || v.Reason == "" {
			t.Errorf("Authorize(%s, #%s, %+v) = %+v, want allowed=%v with a reason", tt.a.ID, tt.where.Name, tt.act, v, tt.ok)
		}
	}
	if diff := cmp.Diff([]string{"dev"}, p.RolesOf(dev)); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"slack-group:S0SRE", "slack:U1"}, p.Members([]string{"sre"})); diff != "" {
		t.Error(diff)
	}
}

func TestPlanHash(t *testing.T) {
	d := &Definition{Name: "x", Source: Source{Content: []byte("a")}}
	h1 := PlanHash("rev", d, "staging", map[string]string{"a": "1", "b": "2"})
	if h1 != PlanHash("rev", d, "staging", map[string]string{"b": "2", "a": "1"}) {
		t.Error("hash depends on map order")
	}
	d2 := &Definition{Name: "x", Source: Source{Content: []byte("b")}}
	for _, h := range []string{
		PlanHash("rev2", d, "staging", map[string]string{"a": "1", "b": "2"}),
		PlanHash("rev", d2, "staging", map[string]string{"a": "1", "b": "2"}),
		PlanHash("rev", d, "production", map[string]string{"a": "1", "b": "2"}),
		PlanHash("rev", d, "staging", map[string]string{"a": "1", "b": "3"}),
	} {
		if h == h1 {
			t.Error("hash ignores a change")
		}
	}
}

func TestUserMessage(t *testing.T) {
	if got := UserMessage(Errorf(KindInvalid, "bad %s", "x"), "run 1"); got != "bad x" {
		t.Error(got)
	}
	if got := UserMessage(errors.New("db path /secret"), "run 1"); got != "internal error (run 1)" {
		t.Error(got)
	}
	wrapped := &Error{Kind: KindNotFound, Message: "no run 4", Op: "store.run", Err: errors.New("sql")}
	if KindOf(errors.Join(errors.New("x"), wrapped)) != KindNotFound {
		t.Error("KindOf does not see through wrapping")
	}
}
