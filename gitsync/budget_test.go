package gitsync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/dayops/dayops"
)

// The stated budget for loading one hostile file: validate (LoadFS and
// LoadDir) and one sync of a revision that holds it each allocate less than
// maxLoadAlloc bytes in all and take less than maxLoadTime.
const (
	maxLoadAlloc = 100 << 20
	maxLoadTime  = time.Second
)

// aliasBomb is a definition whose env is an anchored mapping of keys keys,
// referenced by refs steps: about 10*keys + 25*refs bytes that expand to
// 2*keys*refs values.
func aliasBomb(keys, refs int) string {
	var b strings.Builder
	b.WriteString("apiVersion: dayops/v1\nphase: day2\nname: bomb\nenv: &a {")
	for i := range keys {
		fmt.Fprintf(&b, "k%d: v, ", i)
	}
	b.WriteString("}\nsteps:\n")
	for range refs {
		b.WriteString("  - {run: echo, env: *a}\n")
	}
	return b.String()
}

// nearLimitBomb is an anchored list of keys keys followed by as many aliases
// of it as fit in a file just under maxFileSize.
func nearLimitBomb(keys int) string {
	var b strings.Builder
	b.WriteString("apiVersion: dayops/v1\nphase: day2\nname: bomb\nsecrets: &a [")
	for i := range keys {
		fmt.Fprintf(&b, "K%d, ", i)
	}
	b.WriteString("]\nsteps:\n  - run: echo\n    with: [")
	for b.Len() < maxFileSize-16 {
		b.WriteString("*a, ")
	}
	b.WriteString("]\n")
	return b.String()
}

// laughs nests levels lists of ten aliases of the level below: a few
// hundred bytes that expand to 10^levels values.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("apiVersion: dayops/v1\nphase: day2\nname: bomb\nsteps:\n  - run: echo\n    with:\n      l0: &l0 x\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "      l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	return b.String()
}

// measure runs fn and returns the bytes it allocated and how long it took.
func measure(fn func()) (uint64, time.Duration) {
	runtime.GC()
	return measureNoGC(fn)
}

// measureNoGC is measure without the collection first, for fuzzing.
func measureNoGC(fn func()) (uint64, time.Duration) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	fn()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, took
}

func checkBudget(t *testing.T, what string, alloc uint64, took time.Duration) {
	t.Helper()
	t.Logf("%s: %.1f MB allocated, %v", what, float64(alloc)/(1<<20), took)
	if alloc > maxLoadAlloc {
		t.Errorf("%s allocated %.1f MB, budget %d MB", what, float64(alloc)/(1<<20), maxLoadAlloc>>20)
	}
	if !raceEnabled && took > maxLoadTime {
		t.Errorf("%s took %v, budget %v", what, took, maxLoadTime)
	}
}

func TestLoadHostileYAMLWithinBudget(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string // the one problem
	}{
		{"alias bomb", aliasBomb(3000, 999), "a.yaml:13:22: alias *a expands this file to more than 50000 values: write the values out or split the file"},
		{"near the size limit", nearLimitBomb(20000), "a.yaml:7:16: alias *a expands this file to more than 50000 values: write the values out or split the file"},
		{"nested aliases", laughs(12), "a.yaml:12:31: alias *l4 expands this file to more than 50000 values: write the values out or split the file"},
		{"values without aliases", "apiVersion: dayops/v1\nphase: day2\nname: big\nsteps:\n  - run: echo\n    with: [" + strings.Repeat("1, ", 60000) + "]\n",
			"a.yaml:6:149970: this file holds more than 50000 values: a definition should be a page of YAML, split it into several definitions"},
		{"cycle", "apiVersion: dayops/v1\nphase: day2\nname: c\nsteps:\n  - &s {run: echo, with: [*s]}\n", "a.yaml:5:27: alias *s is used inside the value it names, which would never end: write the value out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.data) > maxFileSize {
				t.Fatalf("the test file is %d bytes, over the limit", len(tt.data))
			}
			t.Logf("%d bytes", len(tt.data))
			var problems []Problem
			alloc, took := measure(func() {
				_, problems = LoadFS(fstest.MapFS{"a.yaml": {Data: []byte(tt.data)}}, ".", "r")
			})
			checkBudget(t, "LoadFS", alloc, took)
			if len(problems) != 1 || problems[0].String() != tt.want {
				t.Fatalf("problems %q, want %q", problems, tt.want)
			}

			// dayops validate and folder mode: LoadDir, with the content hash.
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			alloc, took = measure(func() { _, problems, err = LoadDir(dir) })
			checkBudget(t, "LoadDir", alloc, took)
			if err != nil || len(problems) != 1 || problems[0].String() != tt.want {
				t.Fatalf("LoadDir: problems %q (err %v), want %q", problems, err, tt.want)
			}
		})
	}
}

func TestSyncHostileYAMLWithinBudget(t *testing.T) {
	srv, first := serve(t)
	s, _ := newSyncer(t, srv.URL(), nil)
	mustSync(t, s, dayops.SyncUpdated)
	bad := srv.Commit("bomb", map[string]string{"ops/bomb.yaml": aliasBomb(3000, 999), "ops/big.yaml": nearLimitBomb(20000)})
	var r dayops.SyncRecord
	alloc, took := measure(func() { r, _ = s.Sync(context.Background()) })
	checkBudget(t, "sync", alloc, took)
	want := []string{
		"ops/big.yaml:7:16: alias *a expands this file to more than 50000 values: write the values out or split the file",
		"ops/bomb.yaml:13:22: alias *a expands this file to more than 50000 values: write the values out or split the file",
	}
	if r.Outcome != dayops.SyncInvalid || r.Revision != bad || r.Serving != first || strings.Join(r.Errors, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sync of the bomb: %+v, want invalid with %q", r, want)
	}
	if s.Catalog().Revision() != first {
		t.Fatalf("serving %s, want the last good %s", s.Catalog().Revision(), first)
	}
}

func TestLoadTreeWithinBudget(t *testing.T) {
	// Files each within budget still add up: the folder as a whole is
	// bounded in bytes read and values decoded, and what is past the bound
	// is not loaded.
	values := func(n int) []byte {
		return []byte("apiVersion: dayops/v1\nphase: day2\nname: big\nsteps:\n  - run: echo\n    with: [" + strings.Repeat("1, ", n) + "]\n")
	}
	text := func(n int) []byte {
		return []byte("apiVersion: dayops/v1\nphase: day2\nname: big\ndescription: " + strings.Repeat("x", n) + "\nsteps:\n  - run: echo\n")
	}
	tests := []struct {
		name string
		file func(i int) []byte
		n    int
		want string
	}{
		{"values", func(int) []byte { return values(45000) }, 12,
			"f11.yaml: the definitions folder holds more than 500000 YAML values with this file, so the files after it are not loaded: keep only definitions in it"},
		{"bytes", func(int) []byte { return text(maxFileSize - 100) }, 40,
			"f32.yaml: the definitions folder holds more than 32 MiB of YAML with this file, so it and the files after it are not loaded: keep only definitions in it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for i := range tt.n {
				fsys[fmt.Sprintf("f%02d.yaml", i)] = &fstest.MapFile{Data: tt.file(i)}
			}
			_, problems := LoadFS(fsys, ".", "r")
			var got []string
			for _, p := range problems {
				if strings.Contains(p.Message, "the definitions folder") {
					got = append(got, p.String())
				}
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("problems %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadProblemsPerFolderCapped(t *testing.T) {
	fsys := fstest.MapFS{}
	for i := range 30 {
		var b strings.Builder
		b.WriteString("apiVersion: dayops/v1\nphase: day2\nname: bad\nsteps:\n")
		for range 40 {
			b.WriteString("  - {}\n")
		}
		fsys[fmt.Sprintf("f%02d.yaml", i)] = &fstest.MapFile{Data: []byte(b.String())}
	}
	_, problems := LoadFS(fsys, ".", "r")
	if len(problems) != maxProblems {
		t.Fatalf("%d problems, want %d", len(problems), maxProblems)
	}
	// 30 files of 41 problems (40 steps without a kind, a name used 30
	// times): 1230, of which 999 are listed and 231 counted.
	want := "f24.yaml: 231 more problems in this file and the files after it are not listed: fix the ones above first"
	if got := problems[len(problems)-1].String(); got != want {
		t.Errorf("last problem %q, want %q", got, want)
	}
}
