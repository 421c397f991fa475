package github_test

import (
	"context"
	"testing"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/bot/github"
	"github.com/dayops/dayops/bot/github/githubtest"
)

// BenchmarkReportRunLife reports one deploy's life (queued, running, a step
// done, succeeded) against the fake GitHub over loopback HTTP: the door's
// own cost and the calls it makes per run.
func BenchmarkReportRunLife(b *testing.B) {
	fake := githubtest.New(b)
	c, err := github.NewClient(github.ClientOptions{BaseURL: fake.URL})
	if err != nil {
		b.Fatal(err)
	}
	d, err := github.NewDoor(github.DoorOptions{Client: c})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		run := deployRun(int64(i+1), "staging", dayops.RunQueued)
		rep := &dayops.Report{RunID: run.ID, Thread: prThread}
		for _, st := range []dayops.RunState{dayops.RunQueued, dayops.RunRunning, dayops.RunRunning, dayops.RunSucceeded} {
			run.State = st
			if err := d.ReportRun(ctx, rep, run, runMessage(run)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(fake.Calls()))/float64(b.N), "calls/run")
}
