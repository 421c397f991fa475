package executor

import (
	"strings"
	"testing"
)

// TestRemoteProgramsQuote: the remote programs are quoted for the login
// shell in single quotes, so they must hold none, and their arguments are
// only the hex ID and numbers.
func TestRemoteProgramsQuote(t *testing.T) {
	for name, program := range map[string]string{"wrapper": remoteWrapper, "collect": remoteCollect} {
		if strings.ContainsRune(program, '\'') {
			t.Errorf("the %s holds a single quote: the login shell would end the quoting there", name)
		}
	}
	got := remoteCommand("echo \"$1\"", "dayops-step", "00ff", "20", "5")
	if want := `exec bash --noprofile --norc -c 'echo "$1"' dayops-step 00ff 20 5`; got != want {
		t.Errorf("command %q, want %q", got, want)
	}
}
