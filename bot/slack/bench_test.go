package slack

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ackBatch is how many signed slash commands are sent at once.
const ackBatch = 200

// benchAck sends b.N batches of ackBatch signed slash commands to h over
// real HTTP and reports the acknowledgement latency (p50, p99).
func benchAck(b *testing.B, w *world, h http.Handler) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: ackBatch}}
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for range ackBatch {
			body := commandForm(b, sreUser, "deploy web staging v1.2.0")
			wg.Go(func() {
				r := signed(PathCommands, body, time.Now())
				req, _ := http.NewRequest(http.MethodPost, srv.URL+PathCommands, strings.NewReader(body))
				req.Header = r.Header
				start := time.Now()
				resp, err := client.Do(req)
				took := time.Since(start)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Errorf("answer %v %v", resp, err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	w.settle()
}

// BenchmarkCommandAck: the door's acknowledgement of slash commands that
// start runs, with the runs' work going on meanwhile. Run with
// -benchtime=10x for 2,000 commands.
func BenchmarkCommandAck(b *testing.B) {
	w := newWorld(b)
	mux := http.NewServeMux()
	w.door.Routes(mux)
	benchAck(b, w, mux)
}

// BenchmarkBareAck: a handler that only reads and checks the signature, the
// floor BenchmarkCommandAck is compared with.
func BenchmarkBareAck(b *testing.B) {
	w := newWorld(b)
	benchAck(b, w, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if _, ok := w.door.readSigned(rw, r); ok {
			rw.WriteHeader(http.StatusOK)
		}
	}))
}
