package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dayops/dayops"
	"github.com/google/go-cmp/cmp"
)

// chromium finds Debian's chromium; without it the test skips, except in
// CI where it must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the browser test needs Chromium in CI: apt-get install -y chromium (.ci/run installs it)")
	}
	t.Skip("the browser test needs Chromium: apt-get install -y chromium")
	return ""
}

// TestBrowserLiveLog opens a signed link to a running run in headless
// Chromium, sees a new line appear without a reload, has the server drop the
// live connection, sees the browser resume it from its last line with
// nothing missing or twice, and takes a screenshot.
func TestBrowserLiveLog(t *testing.T) {
	path := chromium(t)
	w := newWorld(t)
	r := w.run(dayops.RunRunning)
	w.lines(r.ID, 20, nil)

	// Every request for the live log, with the Last-Event-ID it resumed from.
	var mu sync.Mutex
	var resumes []string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/events") {
			mu.Lock()
			resumes = append(resumes, req.Header.Get("Last-Event-ID"))
			mu.Unlock()
		}
		w.mux.ServeHTTP(rw, req)
	}))
	defer srv.Close()
	connections := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(resumes) }

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	lines := func() []int64 {
		t.Helper()
		got, err := chromedp.Run(bctx, chromedp.Evaluate[[]int64](`Array.from(document.querySelectorAll("#log .line")).map(e => Number(e.dataset.seq))`))
		must("reading the lines", err)
		return got
	}
	must("opening the signed link", chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+w.link(r.ID)),
		chromedp.WaitVisible("#L20"),
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`),
	))
	// The live log is connected once the page says so.
	_, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("live-status").textContent === "following the live log"`))
	must("waiting for the live log", err)

	w.lines(r.ID, 1, nil)
	must("seeing line 21 appear", chromedp.Do(bctx, chromedp.WaitVisible("#L21")))

	srv.CloseClientConnections() // the server drops the live connection
	w.lines(r.ID, 9, nil)        // lines 22-30, while the browser may be away
	must("seeing line 30 after the drop", chromedp.Do(bctx, chromedp.WaitVisible("#L30")))
	w.lines(r.ID, 5, nil)
	must("seeing line 35 on the resumed connection", chromedp.Do(bctx, chromedp.WaitVisible("#L35")))

	if diff := cmp.Diff(seqs(1, 35), lines()); diff != "" {
		t.Errorf("lines on the page (-want +got):\n%s", diff)
	}
	conns := connections()
	if len(conns) < 2 || conns[0] != "" || conns[1] != "21" {
		t.Errorf("live log connections resumed from %q, want a first one and then one from line 21", conns)
	}
	notReloaded, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	must("checking for a reload", err)
	if !notReloaded {
		t.Error("the page was reloaded")
	}

	w.end(r.ID, dayops.RunFailed)
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("run-state").textContent === "failed" && document.getElementById("live-status").textContent === "the run has ended"`))
	must("seeing the run end", err)

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	must("taking a screenshot", err)
	shot := filepath.Join(t.TempDir(), "run-page.png")
	must("writing the screenshot", os.WriteFile(shot, png, 0o644))
	if len(png) < 10_000 || string(png[1:4]) != "PNG" {
		t.Errorf("the screenshot is %d bytes, not a page", len(png))
	}
	t.Logf("screenshot of the run page: %s, %d bytes", shot, len(png))
	if dir := os.Getenv("DAYOPS_SCREENSHOTS"); dir != "" {
		must("keeping the screenshot", os.WriteFile(filepath.Join(dir, "run-page.png"), png, 0o644))
	}
}

// TestBrowserInsights signs in through the login form in headless Chromium,
// opens /insights over 90 days of deploys and takes a screenshot of it.
func TestBrowserInsights(t *testing.T) {
	path := chromium(t)
	w := newWorld(t)
	for day := 89; day >= 0; day-- {
		for i, target := range [][2]string{{"web", "production"}, {"web", "staging"}, {"api", "production"}} {
			if (day+i)%(2+i) != 0 {
				continue
			}
			end := w.clock.Now().Add(-time.Duration(day)*24*time.Hour - time.Duration(3+i)*time.Hour)
			state := dayops.RunSucceeded
			if (day/3+i)%5 == 0 {
				state = dayops.RunFailed
			}
			w.run(state, func(r *dayops.Run) {
				r.Definition, r.Service, r.Environment = "deploy-"+target[0], target[0], target[1]
				r.CreatedAt, r.StartedAt, r.EndedAt = end.Add(-10*time.Minute), end.Add(-9*time.Minute), end
				if day%2 == 0 {
					merged := end.Add(-time.Duration(1+day%9) * time.Hour)
					r.Trigger, r.Context = dayops.TriggerPullRequest, map[string]string{"pr.number": "1", dayops.ContextPRMergedAt: merged.Format(time.RFC3339)}
				}
			})
		}
	}
	srv := httptest.NewServer(w.mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	var charts []string
	err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/insights"), // to the login form, and back after it
		chromedp.WaitVisible(`input[name=password]`),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.Submit(`input[name=password]`),
		chromedp.WaitVisible(`section.insight svg`),
	)
	if err != nil {
		t.Fatalf("signing in and opening /insights: %v", err)
	}
	charts, err = chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("section.insight h2")).map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"api · production", "web · production", "web · staging"}, charts); diff != "" {
		t.Errorf("groups on the page (-want +got):\n%s", diff)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("taking a screenshot: %v", err)
	}
	shot := filepath.Join(t.TempDir(), "insights.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(png) < 10_000 || string(png[1:4]) != "PNG" {
		t.Errorf("the screenshot is %d bytes, not a page", len(png))
	}
	t.Logf("screenshot of /insights: %s, %d bytes", shot, len(png))
	if dir := os.Getenv("DAYOPS_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "insights.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
