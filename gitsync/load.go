package gitsync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dayops/dayops"
	"gopkg.in/yaml.v3"
)

// Problem is one validation error at a position of a definition file.
type Problem struct {
	File    string // path relative to the repository root (or the loaded folder)
	Line    int    // 1-based; 0 when unknown
	Col     int    // 1-based; 0 when unknown
	Message string
}

// String renders the problem as "file:line:col: message", or "file: message"
// when the position is unknown.
func (p Problem) String() string {
	if p.Line <= 0 {
		return p.File + ": " + p.Message
	}
	if p.Col <= 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Message)
}

// LoadFS loads every *.yaml and *.yml file below root in fsys (hidden files
// and directories such as .git are skipped), decodes each strictly, validates
// the whole tree and returns the catalog. When anything is wrong it returns
// nil and every problem found, sorted by file, line and column. revision is
// recorded in each definition's Source; Source.File is the path within fsys.
func LoadFS(fsys fs.FS, root, revision string) (*dayops.Catalog, []Problem) {
	root = path.Clean(strings.TrimPrefix(root, "/"))
	if !fs.ValidPath(root) {
		return nil, []Problem{{File: root, Message: "the definitions folder must be a path inside the repository"}}
	}
	var (
		problems []Problem
		all      []*loaded
		dropped  = map[string]int{} // problems past the decoder's cap, per file
		bytes    int                // read so far, bounded by maxTreeBytes
		values   int                // decoded so far, bounded by maxTreeValues
	)
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			msg := fmt.Sprintf("cannot read: %v", err)
			if p == root && errors.Is(err, fs.ErrNotExist) {
				msg = "the definitions folder does not exist at this revision"
			}
			problems = append(problems, Problem{File: p, Message: msg})
			return nil
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isDefinitionFile(d.Name()) {
			return nil
		}
		if !d.Type().IsRegular() {
			problems = append(problems, Problem{File: p, Message: "a definition must be a regular file, not a symbolic link or device"})
			return nil
		}
		b, err := readLimited(fsys, p, d)
		var big *tooLarge
		if errors.As(err, &big) {
			problems = append(problems, Problem{File: p, Message: big.Error()})
			return nil
		}
		if err != nil {
			problems = append(problems, Problem{File: p, Message: fmt.Sprintf("cannot read: %v", err)})
			return nil
		}
		if bytes += len(b); bytes > maxTreeBytes {
			problems = append(problems, Problem{File: p, Message: fmt.Sprintf(
				"the definitions folder holds more than %d MiB of YAML with this file, so it and the files after it are not loaded: keep only definitions in it", maxTreeBytes>>20)})
			return fs.SkipAll
		}
		l, fd := loadFile(p, b, revision)
		problems = append(problems, fd.problems...)
		dropped[p] += fd.dropped
		if l != nil {
			all = append(all, l)
		}
		if values += fd.values; values > maxTreeValues {
			problems = append(problems, Problem{File: p, Message: fmt.Sprintf(
				"the definitions folder holds more than %d YAML values with this file, so the files after it are not loaded: keep only definitions in it", maxTreeValues)})
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		problems = append(problems, Problem{File: root, Message: fmt.Sprintf("cannot read: %v", err)})
	}
	problems = append(problems, checkTree(all)...)
	if len(problems) > 0 {
		return nil, capProblems(sortProblems(problems), dropped)
	}
	defs := make([]*dayops.Definition, len(all))
	for i, l := range all {
		defs[i] = l.def
	}
	cat, err := dayops.NewCatalog(revision, defs)
	if err != nil {
		return nil, []Problem{{File: root, Message: dayops.UserMessage(err, "")}}
	}
	return cat, nil
}

func isDefinitionFile(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

func sortProblems(ps []Problem) []Problem {
	slices.SortFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		if a.Col != b.Col {
			return a.Col - b.Col
		}
		return strings.Compare(a.Message, b.Message)
	})
	return slices.Compact(ps)
}

// maxFileSize bounds one definition file; a definition is a page of YAML.
const maxFileSize = 1 << 20

// readLimited reads a definition file, but never more than one byte past
// maxFileSize: a file of gigabytes is refused by its size (loadFile reports
// it), not read whole. The size is asked first, so that a tree entry that
// says it is large is not even opened.
func readLimited(fsys fs.FS, p string, d fs.DirEntry) ([]byte, error) {
	if info, err := d.Info(); err == nil && info.Size() > maxFileSize {
		return nil, &tooLarge{size: info.Size()}
	}
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}

// tooLarge is a file over maxFileSize, known by its size.
type tooLarge struct{ size int64 }

func (e *tooLarge) Error() string {
	return fmt.Sprintf("the file is %d bytes; a definition file may be at most %d", e.size, maxFileSize)
}

// loadFile decodes and validates one file. It returns nil when the file holds
// no definition to check further (unparseable, empty, not a mapping), and
// the decoder, which holds the problems and what the file cost.
func loadFile(file string, b []byte, revision string) (*loaded, *decoder) {
	d := &decoder{file: file}
	if len(b) > maxFileSize {
		d.addf(nil, "the file is more than %d bytes; a definition file may be at most %d", maxFileSize, maxFileSize)
		return nil, d
	}
	n := d.document(b)
	if n == nil || !d.withinBudget(n) {
		return nil, d
	}
	raw := d.decodeDefinition(n)
	if raw == nil {
		return nil, d
	}
	def := d.validate(raw)
	def.Source = dayops.Source{File: file, Revision: revision, Content: b}
	return &loaded{def: def, raw: raw, file: file}, d
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses the one YAML document of a file and returns its root.
func (d *decoder) document(b []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := decodeYAML(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.addf(nil, "the file is empty: it should hold one definition")
		} else {
			d.yamlError(err)
		}
		return nil
	}
	for {
		var more yaml.Node
		err := decodeYAML(dec, &more)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d.yamlError(err)
			return nil
		}
		if len(more.Content) > 0 && !isNull(more.Content[0]) {
			d.addf(more.Content[0], "a file holds one definition, but this one has a second YAML document: move it into a file of its own")
			return nil
		}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		d.addf(nil, "the file is empty: it should hold one definition")
		return nil
	}
	return doc.Content[0]
}

// decodeYAML shields the loader from a panic in the YAML parser: a bad file
// must be reported, never crash the server.
func decodeYAML(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed on this file: %v", r)
		}
	}()
	return dec.Decode(n)
}

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.report(Problem{File: d.file, Line: line, Message: "invalid YAML: " + m[2]})
		return
	}
	d.report(Problem{File: d.file, Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
}

// LoadDir loads a plain folder that is not a git checkout. Its revision is
// "sha256:" followed by ContentHash of the folder, so any file change (a
// script as well as a definition) makes a new revision. The error is only for
// I/O faults such as a missing folder; definition problems are in []Problem.
//
// skip names files (paths relative to dir, slash-separated) that are not part
// of the tree, such as a database the CLI keeps inside it.
func LoadDir(dir string, skip ...string) (*dayops.Catalog, []Problem, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("loading definitions: folder %s does not exist", dir)
		}
		return nil, nil, fmt.Errorf("loading definitions from %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("loading definitions: %s is not a folder", dir)
	}
	fsys := os.DirFS(dir)
	sum, err := ContentHash(fsys, skip...)
	if err != nil {
		return nil, nil, fmt.Errorf("hashing %s: %w", dir, err)
	}
	cat, problems := LoadFS(fsys, ".", "sha256:"+sum)
	return cat, problems, nil
}

// ContentHash returns the hex SHA-256 of a folder's content: the sorted
// relative paths and contents of all regular files (and the targets of
// symbolic links, when fsys can read them), skipping .git. It is the revision
// of a plain folder (LoadDir prefixes it with "sha256:").
//
// Files named in skip are left out.
func ContentHash(fsys fs.FS, skip ...string) (string, error) {
	type entry struct{ path, kind string }
	var entries []entry
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && d.Name() == ".git":
			return fs.SkipDir
		case slices.Contains(skip, p):
		case d.Type().IsRegular():
			entries = append(entries, entry{p, "file"})
		case d.Type()&fs.ModeSymlink != 0:
			entries = append(entries, entry{p, "link"})
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	h := sha256.New()
	for _, e := range entries {
		// Length-prefixed so that no two different trees hash the same bytes.
		switch rl, ok := fsys.(fs.ReadLinkFS); {
		case e.kind == "file":
			if err := hashFile(h, fsys, e.path); err != nil {
				return "", err
			}
		case ok:
			target, err := rl.ReadLink(e.path)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d:%s\n%d:%s\n", e.kind, len(e.path), e.path, len(target), target)
		default:
			fmt.Fprintf(h, "%s %d:%s\n%d:\n", e.kind, len(e.path), e.path, 0)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFile writes one file's entry to h, streaming its content: a folder may
// hold large files (a binary, a state file) that must not be read whole.
// The length written first is the one copied, so a file that changes while
// it is hashed still hashes to what was read.
func hashFile(h io.Writer, fsys fs.FS, p string) error {
	f, err := fsys.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	fmt.Fprintf(h, "file %d:%s\n%d:", len(p), p, size)
	n, err := io.Copy(h, io.LimitReader(f, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s changed while it was read: %d bytes of %d", p, n, size)
	}
	_, err = h.Write([]byte{'\n'})
	return err
}
