package docgen

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the generated files of docs/")

// root is the repository root, seen from this package's folder.
const root = "../.."

// TestGenerated fails when a generated file of docs/ is not what the code
// generates today; -update (go generate ./internal/docgen) rewrites them.
func TestGenerated(t *testing.T) {
	for name, want := range Files() {
		p := filepath.Join(root, filepath.FromSlash(name))
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v (run go generate ./internal/docgen)", name, err)
			continue
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s is stale: run go generate ./internal/docgen\n(-generated +committed)\n%s", name, diff)
		}
	}
}

// envReaders are the functions of cmd/dayops and config through which they
// read the environment: a DAYOPS_ string literal passed to one is a
// variable read.
var envReaders = []string{"Getenv", "LookupEnv", "envOr", "envWithPrefix", "getenv", "fromEnv", "secretFromEnv"}

// envReadingPackages are the folders whose code reads the environment for
// the command line: cmd/dayops, and config, which `dayops serve` loads.
var envReadingPackages = []string{filepath.Join("cmd", "dayops"), "config"}

// envReadByCode returns the DAYOPS_ variables cmd/dayops reads (itself or
// through config), with a prefix read (DAYOPS_SECRET_) written as
// DAYOPS_SECRET_<NAME>.
func envReadByCode(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range envReadingPackages {
		found, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, found...)
	}
	seen := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var name string
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			}
			if !slices.Contains(envReaders, name) {
				return true
			}
			for _, a := range call.Args {
				lit, ok := a.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				s, _ := strconv.Unquote(lit.Value)
				if strings.HasPrefix(s, "DAYOPS_") {
					if strings.HasSuffix(s, "_") {
						s += "<NAME>"
					}
					seen[s] = true
				}
			}
			return true
		})
	}
	if len(seen) == 0 {
		t.Fatal("found no DAYOPS_ variable read in cmd/dayops: has the way it reads the environment changed?")
	}
	return slices.Sorted(func(yield func(string) bool) {
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	})
}

var envName = regexp.MustCompile(`DAYOPS_[A-Z0-9_]*[A-Z0-9](?:_<NAME>)?`)

// TestConfigurationSaysWhatIsRead keeps the "read today" column of
// docs/configuration.md true: the rows marked yes name exactly the
// environment variables the command line reads.
func TestConfigurationSaysWhatIsRead(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	var documented, readToday []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 5 {
			t.Errorf("docs/configuration.md: a table row without 5 cells: %s", line)
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		names := envName.FindAllString(cells[1], -1)
		documented = append(documented, names...)
		if strings.HasPrefix(cells[4], "yes") {
			readToday = append(readToday, names...)
		}
	}
	slices.Sort(readToday)
	if diff := cmp.Diff(envReadByCode(t), readToday); diff != "" {
		t.Errorf("docs/configuration.md: variables read by cmd/dayops (-) and rows marked read today (+) differ:\n%s", diff)
	}
	for _, want := range []string{"DAYOPS_LISTEN", "DAYOPS_SLACK_SIGNING_SECRET", "DAYOPS_GITHUB_WEBHOOK_SECRET", "DAYOPS_ALERTMANAGER_TOKEN"} {
		if !slices.Contains(documented, want) {
			t.Errorf("docs/configuration.md does not document %s", want)
		}
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsStayInsideTheRepository checks the README and every file of docs/:
// each relative link names a file of the repository, and nothing points at
// files outside it.
func TestDocsStayInsideTheRepository(t *testing.T) {
	mds, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	mds = append(mds, filepath.Join(root, "README.md"), filepath.Join(root, "examples", "ops", "README.md"))
	if len(mds) < 5 {
		t.Fatalf("found only %v", mds)
	}
	abs, _ := filepath.Abs(root)
	for _, md := range mds {
		b, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, md)
		for _, outside := range []string{"shared/", "SPEC.md", "SPEC §", "DESIGN.md"} {
			if strings.Contains(string(b), outside) {
				t.Errorf("%s mentions %s, outside the repository", rel, outside)
			}
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			p, _ := filepath.Abs(filepath.Join(filepath.Dir(md), filepath.FromSlash(target)))
			if !strings.HasPrefix(p, abs+string(filepath.Separator)) {
				t.Errorf("%s links to %s, outside the repository", rel, m[1])
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s links to %s, which does not exist", rel, m[1])
			}
		}
	}
}
