package executor

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
)

// watcherScript is the program of the step watcher: a bash process of its
// own, in a process group of its own and deaf to INT, TERM and HUP, that
// reads "+PGID" and "-PGID" lines as step process groups start and end. When
// its input ends — the dayops process that feeds it is gone, even by SIGKILL
// or an out-of-memory kill — it terminates every group still registered
// (SIGTERM, then SIGKILL after up to 2 s) and exits. So a step never runs on
// unsupervised for more than a few seconds after its owner.
const watcherScript = `trap '' INT TERM HUP
declare -A g
while IFS= read -r l; do
  case $l in
    +*) g[${l#+}]=1 ;;
    -*) unset "g[${l#-}]" ;;
  esac
done
[ ${#g[@]} -eq 0 ] && exit 0
for p in "${!g[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
for i in 1 2 3 4 5 6 7 8 9 10; do
  alive=
  for p in "${!g[@]}"; do kill -0 -- "-$p" 2>/dev/null && alive=1; done
  [ -z "$alive" ] && exit 0
  sleep 0.2
done
for p in "${!g[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
exit 0
`

// watcher is this process's step watcher; it is started with the first step
// and started again if it was killed.
type watcher struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	in   *os.File // the write end of the watcher's stdin; never inherited
	dead chan struct{}
}

var stepWatcher watcher

// add registers process group pgid, to be killed if this process dies.
func (w *watcher) add(bash string, pgid int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	line := "+" + strconv.Itoa(pgid) + "\n"
	if err := w.startLocked(bash); err != nil {
		return err
	}
	if _, err := io.WriteString(w.in, line); err != nil {
		// It was killed: start another one.
		w.in.Close()
		w.cmd = nil
		if err := w.startLocked(bash); err != nil {
			return err
		}
		if _, err := io.WriteString(w.in, line); err != nil {
			return fmt.Errorf("registering a step with the step watcher: %w", err)
		}
	}
	return nil
}

// remove forgets process group pgid, whose processes are gone.
func (w *watcher) remove(pgid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd != nil {
		_, _ = io.WriteString(w.in, "-"+strconv.Itoa(pgid)+"\n")
	}
}

// pid is the watcher's process ID, 0 when none runs (for tests).
func (w *watcher) pid() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd == nil {
		return 0
	}
	return w.cmd.Process.Pid
}

func (w *watcher) startLocked(bash string) error {
	if w.cmd != nil {
		select {
		case <-w.dead:
			w.in.Close()
			w.cmd = nil
		default:
			return nil
		}
	}
	r, wr, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("starting the step watcher: %w", err)
	}
	cmd := exec.Command(bash, "--noprofile", "--norc", "-c", watcherScript)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.Stdin = r
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		wr.Close()
		return fmt.Errorf("starting the step watcher: %w", err)
	}
	r.Close()
	dead := make(chan struct{})
	go func() {
		_ = cmd.Wait() // a watcher that died is replaced by the next add
		close(dead)
	}()
	w.cmd, w.in, w.dead = cmd, wr, dead
	return nil
}
