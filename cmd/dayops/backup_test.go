package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage"
)

// TestBackupUnderLoad: `dayops backup` taken while four `dayops run`
// processes write their logs restores into a database that opens and holds
// every run that had finished, with all its lines; a run still going in
// the copy has its lines without a hole (every one before the last copied),
// and a run that finished in the copy has as many as it has in the end.
func TestBackupUnderLoad(t *testing.T) {
	dir := writeDefs(t, map[string]string{
		"quick.yaml": "apiVersion: dayops/v1\nphase: day2\nname: quick\nsteps:\n  - run: seq 1 300\n",
		"chatty.yaml": "apiVersion: dayops/v1\nphase: day2\nname: chatty\nsteps:\n  - name: talk\n    run: |\n" +
			"      echo started\n      for b in $(seq 1 20); do seq 1 500 | sed \"s/^/burst $b line /\"; sleep 0.1; done\n      echo done\n",
	})
	db := filepath.Join(t.TempDir(), "d.db")
	for range 2 {
		if code, out, stderr := cli(t, "", "run", "quick", "--dir", dir, "--database", db); code != exitOK {
			t.Fatalf("quick run: exit %d\n%s%s", code, out, stderr)
		}
	}
	var procs []func() string
	for range 4 {
		cmd, rest := dayopsProcess(t, "started", "run", "chatty", "--dir", dir, "--database", db)
		procs = append(procs, func() string {
			out := <-rest
			if err := cmd.Wait(); err != nil {
				t.Errorf("a chatty run: %v\n%s", err, out)
			}
			return out
		})
	}
	time.Sleep(500 * time.Millisecond) // all four are writing
	backup := filepath.Join(t.TempDir(), "backup.db")
	if code, out, stderr := cli(t, "", "backup", backup, "--database", db); code != exitOK || !strings.Contains(out, "backed up") {
		t.Fatalf("backup under load: exit %d\n%s%s", code, out, stderr)
	}
	for _, wait := range procs {
		if out := wait(); !strings.Contains(out, "succeeded") {
			t.Errorf("a chatty run did not succeed:\n%s", out)
		}
	}
	restored := filepath.Join(t.TempDir(), "restored.db")
	if code, out, stderr := cli(t, "", "restore", backup, "--database", restored); code != exitOK {
		t.Fatalf("restore: exit %d\n%s%s", code, out, stderr)
	}

	ctx := context.Background()
	open := func(path string) *storage.Store {
		st, err := storage.Open(ctx, path, storage.Options{})
		if err != nil {
			t.Fatalf("opening %s: %v", path, err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	live, copied := open(db), open(restored)
	runs, err := copied.Runs(ctx, dayops.RunFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 6 {
		t.Fatalf("the copy holds %d runs, want 6 (2 finished, 4 started)", len(runs))
	}
	stillRunning := 0
	for _, r := range runs {
		lines, err := copied.Logs(ctx, r.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			if l.Seq != int64(i+1) {
				t.Fatalf("run %d's lines in the copy have a hole: line %d is seq %d", r.ID, i+1, l.Seq)
			}
		}
		end, err := live.Logs(ctx, r.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Definition == "quick" && (r.State != dayops.RunSucceeded || len(lines) != len(end) || len(lines) < 300):
			t.Errorf("finished run %d in the copy: %s with %d lines, want succeeded with all %d", r.ID, r.State, len(lines), len(end))
		case r.State.Final() && len(lines) != len(end):
			t.Errorf("run %d is %s in the copy with %d lines; it has %d", r.ID, r.State, len(lines), len(end))
		case !r.State.Final():
			stillRunning++
		}
	}
	if stillRunning == 0 {
		t.Error("no run was still writing in the copy: the backup was not taken under load")
	}
	t.Logf("the copy: 6 runs, %d of them still running at the backup", stillRunning)
}
