package storage

import (
	"context"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage/storagetest"
)

// BenchmarkStores compares SQLite and PostgreSQL on the writes a run
// makes most: its creation (with its audit row) and its move to running,
// and a flush of ten log lines; runs/s and lines/s.
func BenchmarkStores(b *testing.B) {
	stores := []struct {
		name string
		open func(testing.TB) *Store
	}{
		{"sqlite", func(tb testing.TB) *Store { return openTest(tb, time.Now) }},
		{"postgres", func(tb testing.TB) *Store { return openPostgresTest(tb, time.Now) }},
	}
	ctx := context.Background()
	for _, st := range stores {
		b.Run(st.name+"/start run", func(b *testing.B) {
			s := st.open(b)
			b.ResetTimer()
			for range b.N {
				r := storagetest.MustCreate(b, s, storagetest.NewRun("bench", "prod", dayops.RunPending))
				if _, err := s.TransitionRun(ctx, r.ID, dayops.RunRunning, "", dayops.AuditEvent{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
		})
		b.Run(st.name+"/append 10 lines", func(b *testing.B) {
			s := st.open(b)
			run := storagetest.MustCreate(b, s, storagetest.NewRun("bench", "", dayops.RunRunning))
			lines := make([]dayops.LogLine, 10)
			var seq int64
			b.ResetTimer()
			for range b.N {
				for i := range lines {
					seq++
					lines[i] = dayops.LogLine{RunID: run.ID, Step: 1, Seq: seq, Stream: dayops.Stdout, Text: benchText}
				}
				if err := s.AppendLogs(ctx, lines); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
