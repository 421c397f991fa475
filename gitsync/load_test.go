package gitsync

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/dayops/dayops"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite the errors.golden files of testdata/defs/invalid")

// defOpts compares definitions: regexps by source, empty slices as nil, and
// Source.Content left to the tests that care about it.
var defOpts = cmp.Options{
	cmp.Comparer(func(a, b *regexp.Regexp) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.String() == b.String()
	}),
	cmpopts.EquateEmpty(),
	cmpopts.IgnoreFields(dayops.Source{}, "Content"),
}

func TestLoadValidTree(t *testing.T) {
	const root = "testdata/defs/valid"
	cat, problems := LoadFS(os.DirFS(root), "ops", "0123456789abcdef0123456789abcdef01234567")
	if len(problems) > 0 {
		t.Fatalf("LoadFS reported problems for the valid tree:\n%s", joinProblems(problems))
	}
	wantNames := []string{"check-cluster", "deploy-api", "deploy-web", "notify-channel", "restart-api", "rotate-logs"}
	if diff := cmp.Diff(wantNames, cat.Names()); diff != "" {
		t.Errorf("catalog names (-want +got):\n%s", diff)
	}
	if got := cat.Revision(); got != "0123456789abcdef0123456789abcdef01234567" {
		t.Errorf("catalog revision = %q", got)
	}
	for _, d := range cat.All() {
		want, err := os.ReadFile(filepath.Join(root, d.Source.File))
		if err != nil {
			t.Fatalf("%s: Source.File %q is not the path within the tree: %v", d.Name, d.Source.File, err)
		}
		if string(d.Source.Content) != string(want) {
			t.Errorf("%s: Source.Content is not the file's bytes", d.Name)
		}
		if d.Source.Revision != cat.Revision() {
			t.Errorf("%s: Source.Revision = %q, want the catalog's", d.Name, d.Source.Revision)
		}
	}
	if d, ok := cat.ForService("api"); !ok || d.Name != "deploy-api" {
		t.Errorf("ForService(api) = %v, %v; want deploy-api (restart-api is day2 and does not count)", d, ok)
	}

	tests := []struct {
		name string
		want dayops.Definition
	}{
		{"deploy-api", deployAPI()},
		{"deploy-web", dayops.Definition{
			Phase: dayops.Day1, Name: "deploy-web", Service: "web",
			Environments: []dayops.Environment{{Name: "staging"}, {Name: "production", Approvals: &dayops.ApprovalRule{Count: 1}}},
			Params: []dayops.Param{
				{Name: "version", Type: dayops.ParamString, Required: true},
				{Name: "region", Type: dayops.ParamChoice, Choices: []string{"eu-west-1", "us-east-1"}, Default: "eu-west-1", HasDefault: true},
			},
			Steps: []dayops.Step{
				{Name: "run 1", Kind: dayops.StepKindRun, If: dayops.IfSuccess, Run: "./scripts/deploy-web.sh", Line: 17},
				{Name: "http 2", Kind: dayops.StepKindHTTP, If: dayops.IfSuccess, Line: 18, HTTP: &dayops.HTTPCheck{
					URL: "https://web.example.com/healthz", Method: "HEAD", Status: 200, Attempts: 1, Interval: 5 * time.Second, Timeout: 10 * time.Second}},
			},
			Source: dayops.Source{File: "ops/day1/deploy-web.yml", Revision: cat.Revision()},
		}},
		{"check-cluster", dayops.Definition{
			Phase: dayops.Day0, Name: "check-cluster", Description: "Pre-flight checks for a new cluster",
			Params: []dayops.Param{{Name: "cluster", Description: "Cluster name", Type: dayops.ParamString, Default: "main", HasDefault: true}},
			Steps: []dayops.Step{
				{ID: "nodes", Name: "nodes", Kind: dayops.StepKindRun, If: dayops.IfSuccess, Run: "kubectl get nodes -o wide", Line: 10},
				{ID: "dns", Name: "Resolve the ingress", Kind: dayops.StepKindRun, If: dayops.IfSuccess, Run: `dig +short "ingress.$DAYOPS_PARAM_CLUSTER.example.com"`, Line: 12},
				{Name: "Report", Kind: dayops.StepKindUses, If: dayops.IfFailure, Uses: "notify-channel", Line: 16,
					With: []dayops.EnvVar{{Name: "message", Value: "cluster ${{ params.cluster }} failed its checks"}}},
			},
			Triggers: dayops.Triggers{Schedule: []dayops.ScheduleTrigger{{Cron: "0 6 * * mon-fri"}, {Cron: "@daily", Window: 2 * time.Hour}}},
			Source:   dayops.Source{File: "ops/day0/check-cluster.yaml", Revision: cat.Revision()},
		}},
		{"restart-api", dayops.Definition{
			Phase: dayops.Day2, Name: "restart-api", Description: "Restart the API pods when the error rate spikes", Service: "api",
			Timeout: 15 * time.Minute,
			Steps: []dayops.Step{
				{Name: "run 1", Kind: dayops.StepKindRun, If: dayops.IfSuccess, Run: "kubectl -n api-production rollout restart deploy/api", Line: 8},
				{Name: "http 2", Kind: dayops.StepKindHTTP, If: dayops.IfSuccess, Line: 9, HTTP: &dayops.HTTPCheck{
					URL: "https://api.production.example.com/healthz", Method: "GET", Status: 200, Attempts: 30, Interval: 10 * time.Second, Timeout: 2 * time.Second}},
			},
			Triggers: dayops.Triggers{
				Incident: []dayops.IncidentTrigger{{Channel: regexp.MustCompile("^inc-"), Match: regexp.MustCompile(`(?i)\bapi\b`), Auto: true, Cooldown: 10 * time.Minute, Budget: 5}},
				Alert:    []dayops.AlertTrigger{{AlertName: "HighErrorRate", Labels: map[string]string{"service": "api", "severity": "critical"}, Auto: true, Cooldown: time.Hour, Budget: dayops.DefaultBudget}},
			},
			Source: dayops.Source{File: "ops/day2/restart-api.yaml", Revision: cat.Revision()},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cat.Lookup(tt.name)
			if !ok {
				t.Fatalf("%s is not in the catalog", tt.name)
			}
			if diff := cmp.Diff(tt.want, *got, defOpts); diff != "" {
				t.Errorf("definition (-want +got):\n%s", diff)
			}
		})
	}
}

func deployAPI() dayops.Definition {
	return dayops.Definition{
		Phase: dayops.Day1, Name: "deploy-api", Description: "Deploy the API service", Service: "api",
		Environments: []dayops.Environment{
			{Name: "staging", URL: "https://api.staging.example.com/"},
			{Name: "production", Approvals: &dayops.ApprovalRule{Count: 2, From: []string{"sre", "release-managers"}}},
		},
		Params: []dayops.Param{
			{Name: "version", Description: "Image tag", Type: dayops.ParamString, Pattern: regexp.MustCompile(`^v\d+\.\d+\.\d+$`), Required: true},
			{Name: "replicas", Type: dayops.ParamInt, Default: "3", HasDefault: true},
			{Name: "dry_run", Type: dayops.ParamBool, Default: "false", HasDefault: true},
		},
		Concurrency: "deploy-api-${{ env }}",
		Timeout:     90 * time.Minute,
		Secrets:     []string{"KUBE_TOKEN", "REGISTRY_PASSWORD"},
		Env: []dayops.EnvVar{
			{Name: "IMAGE", Value: "registry.example.com/api:${{ params.version }}"},
			{Name: "NAMESPACE", Value: "api-${{ env }}"},
			{Name: "REQUESTED_BY", Value: "${{ run.actor }}"},
		},
		Steps: []dayops.Step{
			{ID: "backup", Name: "Back up the database", Kind: dayops.StepKindRun, If: dayops.IfSuccess, Run: "./scripts/backup-db.sh",
				Timeout: 10 * time.Minute, Retries: 2, RetryDelay: 30 * time.Second, Line: 31},
			{ID: "deploy", Name: "Deploy", Kind: dayops.StepKindRun, If: dayops.IfSuccess, Line: 37,
				Run: "kubectl -n \"$NAMESPACE\" set image deploy/api api=\"$IMAGE\"\n" +
					"kubectl -n \"$NAMESPACE\" rollout status deploy/api --timeout=5m\n" +
					"echo \"revision=$(kubectl -n \"$NAMESPACE\" get deploy/api -o jsonpath='{.metadata.generation}')\" >> \"$DAYOPS_OUTPUT\"\n",
				Env: []dayops.EnvVar{{Name: "KUBECONFIG", Value: "/etc/dayops/kube-${{ env }}.yaml"}}},
			{Name: "Verify", Kind: dayops.StepKindHTTP, If: dayops.IfSuccess, Line: 45, HTTP: &dayops.HTTPCheck{
				URL: "https://api.${{ env }}.example.com/healthz", Method: "GET", Status: 200, BodyContains: "ok",
				Attempts: 10, Interval: 5 * time.Second, Timeout: 10 * time.Second}},
			{ID: "notify", Name: "notify", Kind: dayops.StepKindUses, If: dayops.IfSuccess, Uses: "notify-channel", ContinueOnError: true, Line: 52,
				With: []dayops.EnvVar{{Name: "message", Value: "api ${{ params.version }} is live in ${{ env }} (generation ${{ steps.deploy.outputs.revision }})"}}},
			{Name: "Confirm", Kind: dayops.StepKindApproval, If: dayops.IfSuccess, Line: 57,
				Approval: "Check the dashboards for ${{ env }}, then approve to finish"},
		},
		Rollback: []dayops.Step{
			{Name: "Roll back", Kind: dayops.StepKindRun, If: dayops.IfAlways, Run: `kubectl -n "$NAMESPACE" rollout undo deploy/api`, Line: 60},
			{Name: "Tell the channel", Kind: dayops.StepKindUses, If: dayops.IfSuccess, Uses: "notify-channel", Line: 63,
				With: []dayops.EnvVar{{Name: "message", Value: "rolled back api in ${{ env }} after generation ${{ steps.deploy.outputs.revision }}"}}},
		},
		Triggers: dayops.Triggers{
			PullRequest: []dayops.PullRequestTrigger{{Repo: "org/api", On: "merged", Branches: []string{"main", "release/*"}, Labels: []string{"deploy"}, Environment: "staging",
				Params: []dayops.EnvVar{{Name: "version", Value: "${{ pr.head_sha }}"}}}},
			Incident: []dayops.IncidentTrigger{{Channel: regexp.MustCompile("^inc-"), Match: regexp.MustCompile("(?i)api|5xx"), Cooldown: dayops.DefaultCooldown, Budget: dayops.DefaultBudget}},
			Alert:    []dayops.AlertTrigger{{AlertName: "HighErrorRate", Labels: map[string]string{"service": "api"}, Cooldown: dayops.DefaultCooldown, Budget: dayops.DefaultBudget}},
		},
		Source: dayops.Source{File: "ops/day1/deploy-api.yaml", Revision: "0123456789abcdef0123456789abcdef01234567"},
	}
}

// TestLoadInvalid loads every folder of testdata/defs/invalid and compares
// the problems with its errors.golden (go test -run LoadInvalid -update
// rewrites them; read the diff before committing).
func TestLoadInvalid(t *testing.T) {
	const dir = "testdata/defs/invalid"
	cases, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			caseDir := filepath.Join(dir, c.Name())
			cat, problems := LoadFS(os.DirFS(caseDir), ".", "rev")
			if cat != nil {
				t.Fatalf("LoadFS returned a catalog for an invalid tree")
			}
			if len(problems) == 0 {
				t.Fatalf("LoadFS returned neither a catalog nor problems")
			}
			got := joinProblems(problems)
			golden := filepath.Join(caseDir, "errors.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func joinProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

const minimal = "apiVersion: dayops/v1\nphase: day2\nname: %s\nsteps:\n  - run: echo hi\n"

func TestLoadSkipsHiddenAndOtherFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"a.yaml":             {Data: []byte(strings.ReplaceAll(minimal, "%s", "a"))},
		"sub/b.YML":          {Data: []byte(strings.ReplaceAll(minimal, "%s", "b"))},
		".git/config.yaml":   {Data: []byte("not: [valid")},
		"sub/.hidden.yaml":   {Data: []byte("not: [valid")},
		".github/ci.yml":     {Data: []byte("on: push")},
		"scripts/run.sh":     {Data: []byte("#!/bin/sh\n")},
		"README.md":          {Data: []byte("# ops")},
		"sub/notes.yaml.bak": {Data: []byte("{{{")},
	}
	cat, problems := LoadFS(fsys, ".", "r1")
	if len(problems) > 0 {
		t.Fatalf("problems:\n%s", joinProblems(problems))
	}
	if diff := cmp.Diff([]string{"a", "b"}, cat.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	b, _ := cat.Lookup("b")
	if b.Source.File != "sub/b.YML" {
		t.Errorf("Source.File = %q, want sub/b.YML", b.Source.File)
	}
}

func TestLoadRoot(t *testing.T) {
	fsys := fstest.MapFS{
		"ops/a.yaml":  {Data: []byte(strings.ReplaceAll(minimal, "%s", "a"))},
		"other.yaml":  {Data: []byte("broken: [")},
		"ops2/b.yaml": {Data: []byte("broken: [")},
	}
	tests := []struct {
		root      string
		wantNames []string
		want      []string
	}{
		{root: "ops", wantNames: []string{"a"}},
		{root: "ops/", wantNames: []string{"a"}},
		{root: "/ops", wantNames: []string{"a"}},
		{root: "missing", want: []string{"missing: the definitions folder does not exist at this revision"}},
		{root: "../etc", want: []string{"../etc: the definitions folder must be a path inside the repository"}},
		{root: "ops/a.yaml", wantNames: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			cat, problems := LoadFS(fsys, tt.root, "r")
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNames, cat.Names()); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadDirContentHash(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ops/a.yaml", strings.ReplaceAll(minimal, "%s", "a"))
	write("ops/scripts/deploy.sh", "echo one\n")
	load := func() string {
		t.Helper()
		cat, problems, err := LoadDir(dir)
		if err != nil || len(problems) > 0 {
			t.Fatalf("LoadDir: %v %v", err, problems)
		}
		a, _ := cat.Lookup("a")
		if a.Source.Revision != cat.Revision() || a.Source.File != "ops/a.yaml" {
			t.Fatalf("source = %s@%s, catalog at %s", a.Source.File, a.Source.Revision, cat.Revision())
		}
		if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(cat.Revision()) {
			t.Fatalf("revision %q is not sha256:HEX", cat.Revision())
		}
		return cat.Revision()
	}
	first := load()
	if again := load(); again != first {
		t.Errorf("revision changed without a change: %s then %s", first, again)
	}
	write(".git/HEAD", "ref: refs/heads/other\n")
	if got := load(); got != first {
		t.Errorf("a change under .git changed the revision")
	}
	steps := []struct {
		what   string
		change func()
	}{
		{"script content", func() { write("ops/scripts/deploy.sh", "echo two\n") }},
		{"new file", func() { write("ops/scripts/notes.txt", "") }},
		{"rename", func() {
			if err := os.Rename(filepath.Join(dir, "ops/scripts/notes.txt"), filepath.Join(dir, "ops/scripts/notes2.txt")); err != nil {
				t.Fatal(err)
			}
		}},
		{"definition", func() { write("ops/a.yaml", strings.ReplaceAll(minimal, "%s", "a")+"description: x\n") }},
	}
	seen := map[string]string{first: "start"}
	for _, s := range steps {
		s.change()
		rev := load()
		if prev, ok := seen[rev]; ok {
			t.Errorf("after changing the %s the revision is the same as after %s: %s", s.what, prev, rev)
		}
		seen[rev] = s.what
	}
}

func TestLoadContentHashBoundaries(t *testing.T) {
	// The same bytes split differently over paths and contents must differ.
	trees := []fstest.MapFS{
		{"ab": {Data: []byte("c")}},
		{"a": {Data: []byte("bc")}},
		{"a": {Data: []byte("b")}, "c": {Data: []byte("")}},
		{"a": {Data: []byte("")}, "b": {Data: []byte("c")}},
		{"d/a": {Data: []byte("bc")}},
	}
	seen := map[string]int{}
	for i, tree := range trees {
		h, err := ContentHash(tree)
		if err != nil {
			t.Fatal(err)
		}
		if j, ok := seen[h]; ok {
			t.Errorf("trees %d and %d hash the same", j, i)
		}
		seen[h] = i
	}
}

func TestLoadDirErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if _, _, err := LoadDir(missing); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("LoadDir(missing) error = %v, want one saying it does not exist", err)
	}
	file := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadDir(file); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("LoadDir(file) error = %v, want one saying it is not a folder", err)
	}
}

func TestLoadSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "outside.yaml")
	if err := os.WriteFile(target, []byte(strings.ReplaceAll(minimal, "%s", "x")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "link.yaml")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	cat, problems, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Problem{{File: "link.yaml", Message: "a definition must be a regular file, not a symbolic link or device"}}
	if cat != nil || !cmp.Equal(want, problems) {
		t.Errorf("LoadDir = %v, %v; want nil, %v", cat, problems, want)
	}
	// Where a link points is part of the content: repointing it is a new revision.
	before, err := ContentHash(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target+".other", filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	after, err := ContentHash(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if before == after {
		t.Errorf("repointing a symbolic link did not change the content hash")
	}
}

func TestLoadLimits(t *testing.T) {
	big := strings.ReplaceAll(minimal, "%s", "big") + "description: " + strings.Repeat("x", maxFileSize) + "\n"
	_, problems := LoadFS(fstest.MapFS{"big.yaml": {Data: []byte(big)}}, ".", "r")
	want := []Problem{{File: "big.yaml", Message: fmt.Sprintf("the file is %d bytes; a definition file may be at most 1048576", len(big))}}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestLoadAliases(t *testing.T) {
	// Aliases work within the budget (budget_test.go has the bombs).
	data := "apiVersion: dayops/v1\nphase: day2\nname: ok\nsteps:\n  - &s {run: echo, env: {A: x}}\n  - *s\n"
	cat, problems := LoadFS(fstest.MapFS{"a.yaml": {Data: []byte(data)}}, ".", "r")
	if len(problems) > 0 {
		t.Fatalf("problems: %q", problems)
	}
	d, _ := cat.Lookup("ok")
	if len(d.Steps) != 2 || d.Steps[1].Run != "echo" || len(d.Steps[1].Env) != 1 {
		t.Fatalf("steps through an alias: %+v", d.Steps)
	}
}

func TestLoadProblemsPerFileCapped(t *testing.T) {
	// A file with hundreds of mistakes lists the first maxFileProblems and
	// says how many more there are, on a first line of its own.
	var b strings.Builder
	b.WriteString("apiVersion: dayops/v1\nphase: day2\nname: many\nsteps:\n  - run: echo\n    env:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "      %d-bad: x\n", i)
	}
	// c.yaml's problems are found across the tree (uses of no definition).
	var c strings.Builder
	c.WriteString("apiVersion: dayops/v1\nphase: day2\nname: c\nsteps:\n")
	for range 60 {
		c.WriteString("  - uses: nowhere\n")
	}
	_, problems := LoadFS(fstest.MapFS{"a.yaml": {Data: []byte(b.String())}, "b.yaml": {Data: []byte("name: [")},
		"c.yaml": {Data: []byte(c.String())}}, ".", "r")
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	if want := 2*(maxFileProblems+1) + 1; len(got) != want {
		t.Fatalf("%d problems, want %d:\n%s", len(got), want, strings.Join(got, "\n"))
	}
	want := []string{
		"a.yaml: only the first 50 problems of this file are listed, and 250 more were found: fix these first",
		`a.yaml:7:7: environment variable name "0-bad" must be letters, digits and underscores, not starting with a digit`,
	}
	if diff := cmp.Diff(want, got[:2]); diff != "" {
		t.Errorf("first problems (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got[maxFileProblems+1], "b.yaml:1: invalid YAML") {
		t.Errorf("the next file's problem is missing: %q", got[maxFileProblems+1])
	}
	want = []string{
		"c.yaml: only the first 50 problems of this file are listed, and 10 more were found: fix these first",
		`c.yaml:5:11: uses "nowhere": there is no definition with that name`,
	}
	if diff := cmp.Diff(want, got[maxFileProblems+2:maxFileProblems+4]); diff != "" {
		t.Errorf("c.yaml's first problems (-want +got):\n%s", diff)
	}
}

func TestLoadDirLargeFilesNotReadWhole(t *testing.T) {
	// A 64 MiB definition (sparse on disk) is refused by its size, and the
	// folder's content hash streams it: neither reads it into memory.
	const size = 64 << 20
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte(strings.ReplaceAll(minimal, "%s", "ok")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"big.yaml", "state.bin"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	var (
		problems []Problem
		err      error
	)
	alloc, took := measure(func() { _, problems, err = LoadDir(dir) })
	t.Logf("LoadDir of a folder with two 64 MiB files: %.1f MB allocated, %v", float64(alloc)/(1<<20), took)
	if err != nil {
		t.Fatal(err)
	}
	want := []Problem{{File: "big.yaml", Message: fmt.Sprintf("the file is %d bytes; a definition file may be at most 1048576", size)}}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if alloc > 16<<20 {
		t.Errorf("LoadDir allocated %.1f MB for a folder of large files: it read them whole", float64(alloc)/(1<<20))
	}
}

func TestLoadProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "ops/a.yaml", Line: 3, Col: 7, Message: "bad"}, "ops/a.yaml:3:7: bad"},
		{Problem{File: "ops/a.yaml", Line: 3, Message: "bad"}, "ops/a.yaml:3: bad"},
		{Problem{File: "ops/a.yaml", Message: "bad"}, "ops/a.yaml: bad"},
		{Problem{File: "ops/a.yaml", Col: 4, Message: "bad"}, "ops/a.yaml: bad"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// FuzzLoad feeds arbitrary bytes as one definition file next to a valid one.
// Loading must never panic, and must return exactly one of a catalog or
// problems, each problem naming a file of the tree.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/defs/*/*/*.y*ml")
	more, _ := filepath.Glob("testdata/defs/valid/ops/*/*.y*ml")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("steps: [{uses: other, with: {x: '${{'}}]"))
	f.Add([]byte(aliasBomb(3000, 999)))
	f.Add([]byte(laughs(12)))
	other := []byte("apiVersion: dayops/v1\nphase: day2\nname: other\nparams: {x: {required: true}}\nsteps:\n  - uses: fuzz\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"ops/fuzz.yaml": {Data: data}, "ops/other.yaml": {Data: other}}
		var (
			cat      *dayops.Catalog
			problems []Problem
		)
		alloc, _ := measureNoGC(func() { cat, problems = LoadFS(fsys, "ops", "r") })
		if alloc > maxLoadAlloc {
			t.Fatalf("LoadFS allocated %d MB, over the budget of %d MB", alloc>>20, maxLoadAlloc>>20)
		}
		if (cat == nil) == (len(problems) == 0) {
			t.Fatalf("LoadFS returned catalog %v and %d problems", cat, len(problems))
		}
		perFile := map[string]int{}
		for _, p := range problems {
			if p.File != "ops/fuzz.yaml" && p.File != "ops/other.yaml" {
				t.Fatalf("problem names file %q: %s", p.File, p)
			}
			if perFile[p.File]++; perFile[p.File] > maxFileProblems+1 {
				t.Fatalf("more than %d problems for %s", maxFileProblems+1, p.File)
			}
			if p.Message == "" || p.Line < 0 || p.Col < 0 {
				t.Fatalf("malformed problem %#v", p)
			}
		}
	})
}
