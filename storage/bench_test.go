package storage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/storage/storagetest"
)

// benchText is a typical line of deploy output.
var benchText = "2025-03-14T10:02:03Z deployment.apps/web image updated to registry.example.com/web:v1.2.3 " + strings.Repeat("x", 8)

// BenchmarkAppendLogs measures Store.AppendLogs in batches of the sizes the
// executor flushes, reporting lines/s.
func BenchmarkAppendLogs(b *testing.B) {
	for _, batch := range []int{10, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			s := openTest(b, time.Now)
			run := storagetest.MustCreate(b, s, storagetest.NewRun("bench", "", dayops.RunRunning))
			lines := make([]dayops.LogLine, batch)
			at := time.Now()
			var seq int64
			b.ResetTimer()
			for range b.N {
				for i := range lines {
					seq++
					lines[i] = dayops.LogLine{RunID: run.ID, Step: 1, Seq: seq, Time: at, Stream: dayops.Stdout, Text: benchText}
				}
				if err := s.AppendLogs(ctx, lines); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkBareInsert is the baseline for BenchmarkAppendLogs: the same rows
// into an identical table (same columns, keys, foreign key and index) on the
// same kind of connection, by a plain database/sql loop — one transaction and
// one prepared statement per batch, nothing else.
func BenchmarkBareInsert(b *testing.B) {
	for _, batch := range []int{10, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			s := openTest(b, time.Now)
			run := storagetest.MustCreate(b, s, storagetest.NewRun("bench", "", dayops.RunRunning))
			if _, err := s.w.ExecContext(ctx, `CREATE TABLE bare_lines (
				run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
				seq    INTEGER NOT NULL,
				step   INTEGER NOT NULL,
				at     INTEGER NOT NULL,
				stream TEXT    NOT NULL,
				line   TEXT    NOT NULL,
				PRIMARY KEY (run_id, seq));
				CREATE INDEX bare_lines_at ON bare_lines (at)`); err != nil {
				b.Fatal(err)
			}
			at := time.Now().UnixNano()
			var seq int64
			b.ResetTimer()
			for range b.N {
				tx, err := s.w.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				stmt, err := tx.PrepareContext(ctx, "INSERT INTO bare_lines (run_id, seq, step, at, stream, line) VALUES (?, ?, ?, ?, ?, ?)")
				if err != nil {
					b.Fatal(err)
				}
				for range batch {
					seq++
					if _, err := stmt.ExecContext(ctx, run.ID, seq, 1, at, "stdout", benchText); err != nil {
						b.Fatal(err)
					}
				}
				stmt.Close()
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
