package main

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

var demoLink = regexp.MustCompile(`http://127\.0\.0\.1:\d+/runs/3\?exp=\d+&sig=[A-Za-z0-9_-]+`)

// TestDemoRunPages: the demo prints the address of its pages and each run
// it reports carries a signed link to its page, which opens while the demo
// runs.
func TestDemoRunPages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in, feed := io.Pipe()
	out := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"demo", "--data", t.TempDir()}, IO{Stdin: in, Stdout: out, Stderr: out, Getenv: func(string) string { return "" }})
	}()
	io.WriteString(feed, "/ops deploy web staging version=v1.2.0\n")
	eventually(t, time.Minute, "the run's link is printed after it ends", func() bool {
		return demoLink.MatchString(out.String()) && strings.Contains(out.String(), "Run #3 deploy-web staging - succeeded")
	})
	if !regexp.MustCompile(`run pages: http://127\.0\.0\.1:\d+/runs `).MatchString(out.String()) {
		t.Errorf("the demo does not print the address of its pages:\n%s", out)
	}
	link := demoLink.FindString(out.String())
	code, body := get(t, link)
	if code != 200 || !strings.Contains(body, "Run #3 deploy-web staging") || !strings.Contains(body, "Verify over HTTP") {
		t.Errorf("the demo's link %s = %d:\n%s", link, code, body)
	}
	pages := link[:strings.Index(link, "/runs/")] + "/runs"
	if code, body := get(t, pages); code != 200 || !strings.Contains(body, `<a href="/runs/3">#3</a>`) {
		t.Errorf("%s = %d:\n%s", pages, code, body)
	}
	feed.Close()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("demo exit %d:\n%s", code, out)
		}
	case <-time.After(time.Minute):
		t.Fatal("the demo did not end with its input")
	}
}
