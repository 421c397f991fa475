package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/internal/testkit/gitserver"
)

const greetV1 = "apiVersion: dayops/v1\nphase: day2\nname: greet\nsteps:\n  - name: Greet\n    run: echo hello one\n"

// TestServeWebPages: `dayops serve` serves the run pages on its address:
// a signed link (the one run messages carry) opens its run with the
// definition's changes since its last success; other pages need the login.
func TestServeWebPages(t *testing.T) {
	gs := gitserver.New(t)
	gs.Commit("v1", map[string]string{"ops/greet.yaml": greetV1})
	file := serveConfig(t, gs.URL(), "30s") + "base_url: https://dayops.example.com\nweb: {link_ttl: 2h}\n"
	d := startServe(t, file, "DAYOPS_WEB_PASSWORD", "open sesame 42", "DAYOPS_WEB_LINK_KEY", strings.Repeat("k", 40))
	ctx := context.Background()
	runGreet := func() int64 {
		t.Helper()
		r, err := d.srv.exec.Start(ctx, dayops.RunRequest{Definition: "greet", Trigger: dayops.TriggerCLI,
			Actor: dayops.Actor{ID: "console:alice", Name: "alice"}, Thread: dayops.Thread{Door: "test", Channel: "t"}})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the run succeeds", func() bool {
			got, err := d.srv.store.Run(ctx, r.ID)
			return err == nil && got.State == dayops.RunSucceeded
		})
		return r.ID
	}
	runGreet()
	rev := gs.Commit("v2", map[string]string{"ops/greet.yaml": strings.Replace(greetV1, "hello one", "hello two", 1)})
	eventually(t, 30*time.Second, "the new revision is loaded", func() bool { return d.srv.syncer.Catalog().Revision() == rev })
	id := runGreet()

	link := d.srv.web.RunURL(id)
	if !strings.HasPrefix(link, "https://dayops.example.com/runs/2?exp=") || !strings.Contains(link, "&sig=") {
		t.Fatalf("RunURL = %q, want a signed link under base_url", link)
	}
	u, _ := url.Parse(link)
	code, body := get(t, d.url+u.RequestURI())
	if code != 200 {
		t.Fatalf("the signed link = %d:\n%s", code, body)
	}
	for _, want := range []string{"Run #2 greet", "-    run: echo hello one", "&#43;    run: echo hello two", "hello two</span>", `<span class="state succeeded">succeeded</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the run page lacks %q:\n%s", want, body)
		}
	}
	if code, body := get(t, d.url+"/runs/2/log.txt?"+u.RawQuery); code != 200 || body != "hello two\n" {
		t.Errorf("log.txt = %d %q", code, body)
	}
	if code, _ := get(t, d.url+"/runs/1?"+u.RawQuery); code != 403 {
		t.Errorf("run 2's link on run 1 = %d, want 403", code)
	}

	// Without a link: the login form, then every page.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	res, err := client.Get(d.url + "/runs?definition=greet")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Request.URL.Path != "/login" || !strings.Contains(string(page), `type="password"`) {
		t.Fatalf("/runs without a login ended at %s:\n%s", res.Request.URL, page)
	}
	res, err = client.PostForm(d.url+"/login", url.Values{"password": {"open sesame 42"}, "next": {"/runs?definition=greet"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), `<a href="/runs/2">#2</a>`) || !strings.Contains(string(page), `<a href="/runs/1">#1</a>`) {
		t.Errorf("/runs after the login = %d:\n%s", res.StatusCode, page)
	}
}
