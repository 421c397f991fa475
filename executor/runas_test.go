package executor

import (
	"os"
	"strings"
	"testing"
)

func TestResolveRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		if _, err := resolveRunAs("nobody"); err == nil || !strings.Contains(err.Error(), "needs dayops to run as root") {
			t.Errorf("run_as when not root: %v", err)
		}
		return
	}
	tests := []struct {
		spec    string
		uid     uint32
		wantErr string
	}{
		{spec: "", uid: 0},
		{spec: "nobody", uid: 65534},
		{spec: "65534", uid: 65534},
		{spec: "nobody:65534", uid: 65534},
		{spec: "no-such-user-here", wantErr: "no such user on this machine"},
		{spec: "nobody:no-such-group", wantErr: "no such group"},
		{spec: "root", wantErr: "is root, which protects nothing"},
		{spec: "0", wantErr: "is root, which protects nothing"},
	}
	for _, tt := range tests {
		u, err := resolveRunAs(tt.spec)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("resolveRunAs(%q) = %v, want an error with %q", tt.spec, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("resolveRunAs(%q): %v", tt.spec, err)
		case tt.spec == "" && u != nil:
			t.Errorf("resolveRunAs(\"\") = %+v, want nil", u)
		case tt.spec != "" && (u == nil || u.cred.Uid != tt.uid || u.name != "nobody"):
			t.Errorf("resolveRunAs(%q) = %+v", tt.spec, u)
		}
	}
}
