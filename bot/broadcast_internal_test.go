package bot

import (
	"testing"
	"time"

	"github.com/dayops/dayops"
)

func TestBroadcastText(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		run  dayops.Run
		want string
	}{
		{run: dayops.Run{ID: 12, Definition: "deploy-web", Environment: "production", State: dayops.RunSucceeded,
			Params: map[string]string{"version": "v1.4.2"}, StartedAt: at, EndedAt: at.Add(3*time.Minute + 7*time.Second)},
			want: "deploy-web to production v1.4.2 succeeded (run #12, 3m07s)"},
		{run: dayops.Run{ID: 13, Definition: "deploy-web", Environment: "production", State: dayops.RunFailed, RollbackOf: 12,
			Params: map[string]string{"version": "v1.4.1"}},
			want: "deploy-web to production v1.4.1 (rollback of run #12) failed (run #13)"},
		{run: dayops.Run{ID: 3, Definition: "migrate", State: dayops.RunTimedOut, Params: map[string]string{"token": "hunter2-secret"}},
			want: "migrate timed out (run #3)"},
	}
	b := &Bot{redactor: dayops.NewRedactor("hunter2-secret"), now: func() time.Time { return at }}
	for _, tt := range tests {
		if got := b.broadcastText(&tt.run); got != tt.want {
			t.Errorf("broadcastText = %q, want %q", got, tt.want)
		}
	}
}
