// Command dayops is the ChatOps bot for Day-0, Day-1 and Day-2 operations:
// it keeps phase definitions from an ops repo, runs them from chat and
// records everything. See README.md and `dayops help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes (SPEC §1).
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// IO is what a verb reads and writes; Main takes it so tests can drive the
// real binary's code in process.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Interactive is true when Stdin is a terminal.
	Interactive bool
}

type verb struct {
	name    string
	usage   string // arguments after the verb
	summary string
	run     func(ctx context.Context, io IO, args []string) int
}

func verbs() []verb {
	return []verb{
		{"demo", "[--data DIR] [--listen ADDR]", "the whole bot on this machine: example ops repo, terminal chat, demo endpoint", runDemo},
		{"serve", "[--config FILE] [--database PATH]", "the server: git sync, executor, bot, the Slack door, /healthz and /readyz", runServe},
		{"slack-manifest", "[--config FILE] [--format yaml|json]", "the Slack app manifest (scopes, command, events, URLs) for the configuration", runSlackManifest},
		{"validate", "[DIR] [--format text|json]", "validate a definitions tree; errors as file:line:col: message", runValidate},
		{"schema", "", "the JSON Schema of the definition format, for editors and the ops repo's CI", runSchema},
		{"plan", "NAME [ENV] [key=value…] [--dir DIR] [--config FILE] [--database PATH]", "print what a run would do, running nothing; phase gates are checked against the database when it exists", runPlan},
		{"run", "NAME [ENV] [key=value…] [--dir DIR] [--database PATH] [--config FILE]", "run one definition here with live output, and record it", runRun},
		{"sync", "--repo URL [--branch B] [--path P] [--cache DIR] [--verify-keys FILE] [--database PATH]", "one sync of an ops repo: revision, definition count, errors", runSync},
		{"history", "[NAME] [ENV] [--limit N] [--database PATH]", "recent runs from the database", runHistory},
		{"logs", "RUN [--database PATH]", "the steps and full log of one run", runLogs},
		{"backup", "PATH [--database PATH]", "consistent online backup of the database (VACUUM INTO)", runBackup},
		{"restore", "PATH [--database PATH] [--force]", "restore a backup into a stopped server's database path", runRestore},
		{"db", "copy --from SRC --to DST", "copy a whole database (SQLite file or postgres://…) into an empty one, checking counts", runDB},
		{"version", "", "version, commit and Go version", runVersion},
	}
}

func main() {
	holdSecrets() // first: before anything can start a process
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	io := IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: getenv, Interactive: isTerminal(os.Stdin)}
	os.Exit(Main(ctx, os.Args[1:], io))
}

// Main runs the dayops command line and returns its exit code.
func Main(ctx context.Context, args []string, io IO) int {
	if io.Getenv == nil {
		io.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if v, ok := findVerb(args[1]); ok {
				printVerbHelp(io.Stdout, v, nil)
				return exitOK
			}
		}
		printUsage(io.Stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	v, ok := findVerb(args[0])
	if !ok {
		fmt.Fprintf(io.Stderr, "dayops: unknown command %q%s\nRun 'dayops help' for the list.\n", args[0], didYouMean(args[0]))
		return exitUsage
	}
	return v.run(ctx, io, args[1:])
}

func findVerb(name string) (verb, bool) {
	for _, v := range verbs() {
		if v.name == name {
			return v, true
		}
	}
	return verb{}, false
}

func didYouMean(word string) string {
	names := make([]string, 0, len(verbs()))
	for _, v := range verbs() {
		names = append(names, v.name)
	}
	if best := dayops.Suggest(word, names); best != "" {
		return fmt.Sprintf(" — did you mean %q?", best)
	}
	return ""
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "dayops — Day-0, Day-1 and Day-2 operations from a git repo, run from chat")
	fmt.Fprintln(w, "\nUsage:")
	for _, v := range verbs() {
		fmt.Fprintf(w, "  dayops %-14s %s\n", v.name, v.usage)
	}
	fmt.Fprintln(w, "\nRun 'dayops COMMAND --help' for details. Exit codes: 0 success, 1 failure, 2 usage error.")
}

func printVerbHelp(w io.Writer, v verb, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: dayops %s %s\n\n%s.\n", v.name, v.usage, capitalise(v.summary))
	if fs != nil {
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintln(w, "\nFlags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
		}
	}
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// errUsage marks a command-line mistake (exit 2).
var errUsage = errors.New("usage")

// parseArgs parses flags anywhere among the positional arguments (Go's flag
// package stops at the first positional) and checks the positional count.
// --help prints the verb's help.
func parseArgs(io IO, v verb, fs *flag.FlagSet, args []string, minPos, maxPos int) ([]string, int, bool) {
	fs.SetOutput(io.Stderr)
	fs.Usage = func() {}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printVerbHelp(io.Stdout, v, fs)
				return nil, exitOK, false
			}
			fmt.Fprintf(io.Stderr, "usage: dayops %s %s\n", v.name, v.usage)
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minPos || (maxPos >= 0 && len(pos) > maxPos) {
		what := "missing arguments"
		if len(pos) > minPos {
			what = fmt.Sprintf("unexpected argument %q", pos[len(pos)-1])
		}
		fmt.Fprintf(io.Stderr, "dayops %s: %s\nusage: dayops %s %s\n", v.name, what, v.name, v.usage)
		return nil, exitUsage, false
	}
	return pos, 0, true
}

func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet(name, flag.ContinueOnError)
}

// databaseFlag adds --database with the SPEC default (DAYOPS_DATABASE, else
// dayops.db). The help shows the default without a PostgreSQL password.
func databaseFlag(fs *flag.FlagSet, io IO) *string {
	def := io.Getenv("DAYOPS_DATABASE")
	if def == "" {
		def = "dayops.db"
	}
	db := fs.String("database", def, "SQLite database `path` or postgres:// URL (env DAYOPS_DATABASE)")
	fs.Lookup("database").DefValue = storage.Redacted(def)
	return db
}

func runVersion(ctx context.Context, io IO, args []string) int {
	v, _ := findVerb("version")
	if _, code, ok := parseArgs(io, v, newFlags("version"), args, 0, 0); !ok {
		return code
	}
	commit, modified := "unknown", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
	}
	fmt.Fprintf(io.Stdout, "dayops %s\ncommit %s%s\n%s %s/%s\n", version, commit, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// splitParams separates key=value words from positional words.
func splitParams(words []string) (pos []string, params map[string]string, err error) {
	for _, w := range words {
		k, val, ok := strings.Cut(w, "=")
		if !ok {
			pos = append(pos, w)
			continue
		}
		if k == "" {
			return nil, nil, fmt.Errorf("%q: a parameter needs a name before '='", w)
		}
		if params == nil {
			params = map[string]string{}
		}
		if _, dup := params[k]; dup {
			return nil, nil, fmt.Errorf("parameter %s is given twice", k)
		}
		params[k] = val
	}
	return pos, params, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
