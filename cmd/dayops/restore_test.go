package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops/storage"
)

// TestRestoreRefusesADatabaseInUse: restore --force while another dayops
// process has the database open (a run of a sleep step) is refused, naming
// that process, and the run's later records are kept; once it ended, the
// same restore succeeds.
func TestRestoreRefusesADatabaseInUse(t *testing.T) {
	dir := writeDefs(t, map[string]string{
		"quick.yaml": "apiVersion: dayops/v1\nphase: day2\nname: quick\nsteps:\n  - run: echo quick\n",
		"slow.yaml":  "apiVersion: dayops/v1\nphase: day2\nname: slow\nsteps:\n  - name: nap\n    run: echo napping; sleep 2; echo awake\n",
	})
	db := filepath.Join(t.TempDir(), "d.db")
	if code, out, stderr := cli(t, "", "run", "quick", "--dir", dir, "--database", db); code != exitOK {
		t.Fatalf("quick run: exit %d\n%s%s", code, out, stderr)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if code, out, stderr := cli(t, "", "backup", backup, "--database", db); code != exitOK {
		t.Fatalf("backup: exit %d\n%s%s", code, out, stderr)
	}

	slow, rest := dayopsProcess(t, "napping", "run", "slow", "--dir", dir, "--database", db)
	code, out, stderr := cli(t, "", "restore", backup, "--database", db, "--force")
	want := fmt.Sprintf("the database %s is in use by process %d (", db, slow.Process.Pid)
	if code != exitFail || !strings.Contains(stderr, want) {
		t.Errorf("restore onto a database in use: exit %d, want 1 and %q\n%s%s", code, want, out, stderr)
	}
	if got := <-rest; !strings.Contains(got, "awake") || !strings.Contains(got, "run #2 succeeded") {
		t.Errorf("the slow run:\n%s", got)
	}
	if err := slow.Wait(); err != nil {
		t.Errorf("the slow run: %v", err)
	}
	if code, out, _ := cli(t, "", "history", "--database", db); code != exitOK || !strings.Contains(out, "#2    ") || !strings.Contains(out, "slow") {
		t.Errorf("the slow run's records were lost:\n%s", out)
	}

	// No one holds it now: the same restore goes through.
	if code, out, stderr := cli(t, "", "restore", backup, "--database", db, "--force"); code != exitOK {
		t.Fatalf("restore of a database no one uses: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, _ := cli(t, "", "history", "--database", db); code != exitOK || strings.Contains(out, "slow") || !strings.Contains(out, "quick") {
		t.Errorf("history after the restore:\n%s", out)
	}
}

// TestOpenWaitsForARestore: a process that opens the database while a
// restore holds it waits until the restore is done instead of opening the
// file that is being replaced.
func TestOpenWaitsForARestore(t *testing.T) {
	dir := writeDefs(t, map[string]string{
		"quick.yaml": "apiVersion: dayops/v1\nphase: day2\nname: quick\nsteps:\n  - run: echo quick\n",
	})
	db := filepath.Join(t.TempDir(), "d.db")
	if code, out, stderr := cli(t, "", "run", "quick", "--dir", dir, "--database", db); code != exitOK {
		t.Fatalf("quick run: exit %d\n%s%s", code, out, stderr)
	}
	release, err := storage.Exclusive(db) // as restore holds it
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		_, out, stderr := cli(t, "", "history", "--database", db)
		done <- out + stderr
	}()
	select {
	case out := <-done:
		t.Fatalf("history read the database while it was being restored:\n%s", out)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if out := <-done; !strings.Contains(out, "quick") {
		t.Errorf("history once the restore was done:\n%s", out)
	}
}
