package gitsync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// compileSchema compiles what `dayops schema` prints with a JSON Schema
// validator, so that the schema is checked as editors and CI will read it.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("Schema() is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("definition.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("definition.json")
	if err != nil {
		t.Fatalf("Schema() does not compile as a JSON Schema: %v", err)
	}
	return sch
}

// yamlToJSON reads a definition as an editor's YAML language server does and
// gives it to the validator as JSON.
func yamlToJSON(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestSchemaDescribesEveryKey checks the model against the raw structs: every
// exported field is a key with a description and every table entry names a
// key. TestSchemaKeysAreTheDecoders checks the keys against the decoder.
func TestSchemaDescribesEveryKey(t *testing.T) {
	objs, unused := buildSchema()
	if len(unused) > 0 {
		t.Errorf("schemaFieldDocs describes keys no raw struct has: %v", unused)
	}
	keys := map[string][]string{}
	for _, o := range objs {
		for _, f := range o.fields {
			keys[o.name] = append(keys[o.name], f.key)
			if f.doc == "" {
				t.Errorf("%s.%s has no description in schemaFieldDocs", o.name, f.key)
			}
		}
		if o.doc == "" {
			t.Errorf("object %s has no description", o.name)
		}
	}
}

// probeKey is a key no mapping of the format has, far from every real key so
// that the decoder lists the keys it knows instead of suggesting one.
const probeKey = "zzzz_probe_zzzz"

var knownKeys = regexp.MustCompile(`unknown key "` + probeKey + `" in .*\(known keys: ([^)]*)\)`)

// TestSchemaKeysAreTheDecoders puts an unknown key into every mapping with
// fixed keys and reads back the keys the decoder says it knows there: those
// must be the schema's, in both directions, so a key added to the loader or
// to the schema alone fails here.
func TestSchemaKeysAreTheDecoders(t *testing.T) {
	const head = "apiVersion: dayops/v1\nphase: day2\nname: probe\n"
	const step = "steps:\n  - run: \"true\"\n"
	probes := map[string]string{
		"definition":         head + step + probeKey + ": 1\n",
		"environment":        head + step + "environments:\n  staging: {" + probeKey + ": 1}\n",
		"approvals":          head + step + "environments:\n  staging: {approvals: {count: 1, " + probeKey + ": 1}}\n",
		"param":              head + step + "params:\n  p: {" + probeKey + ": 1}\n",
		"step":               head + "steps:\n  - {run: \"true\", " + probeKey + ": 1}\n",
		"http":               head + "steps:\n  - http: {url: \"http://x\", " + probeKey + ": 1}\n",
		"triggers":           head + step + "triggers: {" + probeKey + ": 1}\n",
		"pullRequestTrigger": head + step + "triggers: {pull_request: [{repo: o/r, " + probeKey + ": 1}]}\n",
		"incidentTrigger":    head + step + "triggers: {incident: [{" + probeKey + ": 1}]}\n",
		"alertTrigger":       head + step + "triggers: {alert: [{alertname: A, " + probeKey + ": 1}]}\n",
		"scheduleTrigger":    head + step + "triggers: {schedule: [{cron: '@daily', " + probeKey + ": 1}]}\n",
		"requirement":        head + step + "requires: [{definition: x, within: 1h, " + probeKey + ": 1}]\n",
		"checklist":          head + "steps:\n  - checklist: {from: [sre], questions: [ready], " + probeKey + ": 1}\n",
	}
	objs, _ := buildSchema()
	for _, o := range objs {
		t.Run(o.name, func(t *testing.T) {
			src, ok := probes[o.name]
			if !ok {
				t.Fatalf("no probe for schema object %s: add one to this test", o.name)
			}
			_, problems := LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(src)}}, ".", "rev")
			var got []string
			for _, p := range problems {
				if m := knownKeys.FindStringSubmatch(p.Message); m != nil {
					got = strings.Split(m[1], ", ")
				}
			}
			if got == nil {
				t.Fatalf("the decoder did not refuse %s with its known keys; problems: %v", probeKey, problems)
			}
			var want []string
			for _, f := range o.fields {
				want = append(want, f.key)
			}
			slices.Sort(got)
			slices.Sort(want)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("keys the decoder knows (-) and the schema's (+) differ:\n%s", diff)
			}
		})
	}
	if len(probes) != len(objs) {
		t.Errorf("%d probes for %d schema objects: remove the probes of objects that are gone", len(probes), len(objs))
	}
}

// definitionFiles returns the *.yaml and *.yml files below dir.
func definitionFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != "." {
			if d.IsDir() {
				return fs.SkipDir // the loader skips hidden files and folders too
			}
			return nil
		}
		if d.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return nil
		}
		b, err := os.ReadFile(path.Join(dir, p))
		out[path.Join(dir, p)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no definitions below %s", dir)
	}
	return out
}

// TestSchemaAcceptsValidDefinitions validates the example ops repo, the
// loader's valid test tree and the SPEC §5 example against the schema.
func TestSchemaAcceptsValidDefinitions(t *testing.T) {
	sch := compileSchema(t)
	for _, dir := range []string{"../examples/ops", "testdata/defs/valid", "testdata/defs/spec"} {
		for file, src := range definitionFiles(t, dir) {
			if err := sch.Validate(yamlToJSON(t, src)); err != nil {
				t.Errorf("%s: valid for the loader but not for the schema:\n%v", file, err)
			}
		}
	}
}

// TestSchemaAgreesWithLoader feeds variants of one definition to both the
// schema and the loader: each must accept or refuse it alike.
func TestSchemaAgreesWithLoader(t *testing.T) {
	const base = `apiVersion: dayops/v1
phase: day1
name: deploy-api
service: api
environments:
  staging: {}
  production:
    approvals: {count: 1, from: [sre]}
params:
  version: {type: string, pattern: '^v\d+$', required: true}
  replicas: {type: int, default: 3}
  canary: {type: bool, default: false}
  size: {type: choice, choices: [s, m, l], default: m}
timeout: 30m
secrets: [KUBE_TOKEN]
env:
  IMAGE: registry.example.com/api:${{ params.version }}
  PORT: 8080
steps:
  - id: deploy
    name: Deploy
    run: ./deploy.sh
    timeout: 10m
    retries: 2
    retry_delay: 5s
    continue_on_error: false
  - name: Verify
    http: {url: 'https://api.${{ env }}.example.com/healthz', method: get, status: 200, attempts: 10, interval: 5s, timeout: 2s}
  - name: Confirm
    approval: Check the dashboards
  - uses: smoke-test
    with: {target: api}
    if: always()
rollback:
  - run: ./undo.sh
triggers:
  pull_request: [{repo: org/api, on: merged, branches: [main], environment: staging, params: {version: 'v1'}}]
  incident: [{channel: '^inc-', match: '(?i)api', auto: false}]
  alert: [{alertname: HighErrorRate, labels: {service: api}, auto: true}]
  schedule: ['0 3 * * *']
`
	tests := []struct {
		name      string
		old, new  string // replace old by new in base
		src       string // instead of base
		wantValid bool
	}{
		{name: "base", wantValid: true},
		{name: "empty environment", old: "staging: {}", new: "staging:", wantValid: true},
		{name: "empty triggers", src: "apiVersion: dayops/v1\nphase: day2\nname: a\nsteps: [{run: x}]\ntriggers:\n", wantValid: true},
		{name: "empty lists and mappings", src: "apiVersion: dayops/v1\nphase: day2\nname: a\nsteps: [{run: x}]\nsecrets:\nenv:\nparams:\nrollback:\n", wantValid: true},
		{name: "unknown key at the top", old: "timeout: 30m", new: "timeout: 30m\ntimout: 1m"},
		{name: "unknown key in a step", old: "    retries: 2", new: "    retries: 2\n    retry: 2"},
		{name: "unknown key in an http check", old: "status: 200,", new: "code: 200,"},
		{name: "unknown key in a trigger", old: "auto: true}]", new: "auto: true, when: now}]"},
		{name: "wrong phase", old: "phase: day1", new: "phase: day4"},
		{name: "wrong apiVersion", old: "dayops/v1", new: "dayops/v2"},
		{name: "bad name", old: "name: deploy-api", new: "name: Deploy_API"},
		{name: "bad environment name", old: "staging: {}", new: "Staging!: {}"},
		{name: "bad parameter name", old: "  canary:", new: "  Canary:"},
		{name: "bad param type", old: "type: int", new: "type: integer"},
		{name: "bad if", old: "if: always()", new: "if: always"},
		{name: "bad secret name", old: "[KUBE_TOKEN]", new: "[kube_token]"},
		{name: "secret twice", old: "[KUBE_TOKEN]", new: "[KUBE_TOKEN, KUBE_TOKEN]"},
		{name: "reserved env name", old: "  PORT: 8080", new: "  dayops_port: 8080"},
		{name: "retries is text", old: "retries: 2", new: "retries: two"},
		{name: "retries too many", old: "retries: 2", new: "retries: 11"},
		{name: "timeout is a number", old: "timeout: 30m", new: "timeout: 30"},
		{name: "timeout is no duration", old: "timeout: 30m", new: "timeout: 30 minutes"},
		{name: "required is text", old: "required: true", new: "required: yes please"},
		{name: "steps is a mapping", old: "steps:\n  - id: deploy", new: "steps:\n  x:\n  - id: deploy"},
		{name: "no steps", src: "apiVersion: dayops/v1\nphase: day2\nname: a\n"},
		{name: "empty steps", src: "apiVersion: dayops/v1\nphase: day2\nname: a\nsteps: []\n"},
		{name: "empty run", src: "apiVersion: dayops/v1\nphase: day2\nname: a\nsteps: [{run: ' '}]\n"},
		{name: "day1 without service", old: "service: api\n", new: ""},
		{name: "day2 without service", old: "phase: day1\nname: deploy-api\nservice: api\n", new: "phase: day2\nname: deploy-api\n", wantValid: true},
		{name: "step with two kinds", old: "    approval: Check the dashboards", new: "    approval: Check the dashboards\n    run: echo"},
		{name: "step with no kind", old: "  - name: Confirm\n    approval: Check the dashboards", new: "  - name: Confirm"},
		{name: "with without uses", old: "    run: ./deploy.sh", new: "    run: ./deploy.sh\n    with: {a: b}"},
		{name: "http is text", old: "http: {url: 'https://api.${{ env }}.example.com/healthz', method: get, status: 200, attempts: 10, interval: 5s, timeout: 2s}", new: "http: https://example.com"},
		{name: "http without url", old: "url: 'https://api.${{ env }}.example.com/healthz', ", new: ""},
		{name: "http status out of range", old: "status: 200", new: "status: 700"},
		{name: "http method unknown", old: "method: get", new: "method: FETCH"},
		{name: "approvals count zero", old: "count: 1", new: "count: 0"},
		{name: "approvals without count", old: "count: 1, ", new: ""},
		{name: "approvals empty", old: "approvals: {count: 1, from: [sre]}", new: "approvals:"},
		{name: "pr trigger bad repo", old: "repo: org/api", new: "repo: api"},
		{name: "pr trigger bad event", old: "on: merged", new: "on: closed"},
		{name: "alert without alertname", old: "alertname: HighErrorRate, ", new: ""},
		{name: "bad label name", old: "labels: {service: api}", new: "labels: {service-name: api}"},
		{name: "schedule entry is a mapping", old: "['0 3 * * *']", new: "[{at: '0 3 * * *'}]"},
		{name: "definition is a list", old: "apiVersion: dayops/v1\n", new: "- apiVersion: dayops/v1\n"},
	}
	sch := compileSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base
			if tt.src != "" {
				src = tt.src
			} else if tt.old != "" {
				if !strings.Contains(base, tt.old) {
					t.Fatalf("%q is not in the base definition", tt.old)
				}
				src = strings.Replace(base, tt.old, tt.new, 1)
			}
			_, problems := LoadFS(fstest.MapFS{"d.yaml": {Data: []byte(src)}, "smoke.yaml": {Data: []byte(smokeTest)}}, ".", "rev")
			schemaErr := validateYAML(t, sch, src)
			if loaderOK := len(problems) == 0; loaderOK != tt.wantValid {
				t.Errorf("loader: valid = %v, want %v; problems: %v", loaderOK, tt.wantValid, problems)
			}
			if schemaOK := schemaErr == nil; schemaOK != tt.wantValid {
				t.Errorf("schema: valid = %v, want %v; %v", schemaOK, tt.wantValid, schemaErr)
			}
		})
	}
}

// smokeTest is the definition the base definition's uses step names.
const smokeTest = "apiVersion: dayops/v1\nphase: day2\nname: smoke-test\nparams: {target: {}}\nsteps: [{run: \"true\"}]\n"

// validateYAML validates src against the schema; YAML the schema cannot even
// read (a list at the top) is an error too.
func validateYAML(t *testing.T, sch *jsonschema.Schema, src string) error {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	return sch.Validate(yamlToJSON(t, []byte(src)))
}
