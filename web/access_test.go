package web_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/web"
)

// TestLinks: a signed link opens its own run (and its log and live feed)
// for the link TTL and nothing else; every other link is 403 with the reason.
func TestLinks(t *testing.T) {
	w := newWorld(t)
	one := w.run(dayops.RunFailed)
	w.run(dayops.RunSucceeded)
	link := w.link(one.ID)
	u, _ := url.Parse(link)
	q := u.Query()
	tamper := func(key, value string) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set(key, value)
		return u.Path + "?" + q2.Encode()
	}
	tests := []struct {
		name    string
		path    string
		advance time.Duration
		code    int
		want    string
	}{
		{"the run", link, 0, 200, "Run #1 deploy-web production"},
		{"its log", "/runs/1/log?" + q.Encode(), 0, 200, "line"},
		{"its text", "/runs/1/log.txt?" + q.Encode(), 0, 200, ""},
		{"its live log", "/runs/1/events?" + q.Encode(), 0, 200, "event: end"},
		{"near the end of its life", link, web.DefaultLinkTTL - 2*time.Hour, 200, "Run #1"},
		{"expired", link, web.DefaultLinkTTL + time.Minute, 403, "this run link expired at"},
		{"tampered signature", tamper("sig", strings.Repeat("A", 43)), 0, 403, "signature does not match run 1"},
		{"extended expiry", tamper("exp", "99999999999"), 0, 403, "signature does not match run 1"},
		{"another run", "/runs/2?" + q.Encode(), 0, 403, "signature does not match run 2: it was changed, or it opens another run"},
		{"another run's log", "/runs/2/log.txt?" + q.Encode(), 0, 403, "signature does not match run 2"},
		{"half a link", "/runs/1?exp=" + q.Get("exp"), 0, 403, "this run link is incomplete"},
		{"the list", "/runs?" + q.Encode(), 0, 303, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w.clock.Advance(tc.advance)
			defer w.clock.Advance(-tc.advance)
			rec := w.get(tc.path, "", nil)
			if rec.Code != tc.code {
				t.Fatalf("GET %s = %d, want %d:\n%s", tc.path, rec.Code, tc.code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("GET %s does not say %q:\n%s", tc.path, tc.want, rec.Body)
			}
		})
	}
}

// TestRunURLIsStable: a run message re-rendered within the hour carries
// the same link, and links of a short TTL never outlive it.
func TestRunURLIsStable(t *testing.T) {
	w := newWorld(t)
	a := w.web.RunURL(7)
	w.clock.Advance(time.Second)
	if b := w.web.RunURL(7); b != a && w.clock.Now().Truncate(time.Hour) == w.clock.Now().Add(-time.Second).Truncate(time.Hour) {
		t.Errorf("RunURL changed within the hour: %s then %s", a, b)
	}
	short := newWorld(t, func(o *web.Options) { o.LinkTTL = 10 * time.Minute })
	u, _ := url.Parse(short.web.RunURL(1))
	if got := u.Query().Get("exp"); got == "" {
		t.Fatalf("RunURL has no exp: %s", u)
	}
	short.run(dayops.RunSucceeded)
	short.clock.Advance(10 * time.Minute)
	if rec := short.get(u.RequestURI(), "", nil); rec.Code != 403 {
		t.Errorf("a 10m link 10m later = %d, want 403", rec.Code)
	}
}

// TestLogin: without a link the pages need a login, and say how to get one.
func TestLogin(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name   string
		opts   func(*web.Options)
		path   string
		addr   string
		header http.Header
		code   int
		want   string
	}{
		{"no login: to the form", nil, "/runs/1", "", nil, 303, ""},
		{"no login: the live log is 401", nil, "/runs/1/events", "", nil, 401, "sign in first"},
		{"no login: the text is 401", nil, "/runs/1/log.txt", "", nil, 401, "sign in first"},
		{"nothing configured: 403 saying how", func(o *web.Options) { o.Password = "" }, "/runs", "", nil, 403,
			"set DAYOPS_WEB_PASSWORD (a shared password), or web.proxy_header and web.trusted_proxies"},
		{"nothing configured: the form is closed too", func(o *web.Options) { o.Password = "" }, "/login", "", nil, 403, "only with a signed run link"},
		{"proxy header from the proxy", proxied(proxies), "/runs", "10.1.2.3:5555", http.Header{"X-Forwarded-User": {"alice"}}, 200, "signed in as alice"},
		{"proxy header from elsewhere is ignored", proxied(proxies), "/runs", "192.0.2.7:5555", http.Header{"X-Forwarded-User": {"alice"}}, 401, "sign in through the reverse proxy"},
		{"proxy without the header", proxied(proxies), "/runs/1", "10.1.2.3:5555", nil, 401, "it sets X-Forwarded-User"},
		{"loopback in the demo", func(o *web.Options) { o.Password, o.Loopback = "", true }, "/runs", "127.0.0.1:4000", nil, 200, "Runs"},
		{"loopback only from the loopback", func(o *web.Options) { o.Password, o.Loopback = "", true }, "/runs", "192.0.2.7:4000", nil, 403, "only with a signed run link"},
		{"bad run id", nil, "/runs/abc", "", nil, 404, `no run &#34;abc&#34;: run IDs are positive numbers`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var change []func(*web.Options)
			if tc.opts != nil {
				change = append(change, tc.opts)
			}
			w := newWorld(t, change...)
			w.run(dayops.RunSucceeded)
			rec := w.get(tc.path, tc.addr, tc.header)
			if rec.Code != tc.code {
				t.Fatalf("GET %s = %d, want %d:\n%s", tc.path, rec.Code, tc.code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("GET %s does not say %q:\n%s", tc.path, tc.want, rec.Body)
			}
			if tc.code == 303 {
				if got, want := rec.Header().Get("Location"), "/login?next="+url.QueryEscape(tc.path); got != want {
					t.Errorf("redirect to %q, want %q", got, want)
				}
			}
		})
	}
}

func proxied(p []netip.Prefix) func(*web.Options) {
	return func(o *web.Options) { o.Password, o.ProxyHeader, o.TrustedProxies = "", "X-Forwarded-User", p }
}

// TestPasswordLogin: the form sets a signed cookie that opens every page;
// a wrong password, a forged cookie or an expired one open nothing.
func TestPasswordLogin(t *testing.T) {
	w := newWorld(t)
	w.run(dayops.RunSucceeded)
	post := func(form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "192.0.2.1:1"
		rec := newRecorder()
		w.mux.ServeHTTP(rec, req)
		return rec.Result()
	}
	res := post(url.Values{"password": {"wrong"}, "next": {"/runs/1"}})
	if res.StatusCode != 401 || len(res.Cookies()) != 0 {
		t.Fatalf("a wrong password = %d with %d cookies, want 401 and none", res.StatusCode, len(res.Cookies()))
	}
	res = post(url.Values{"password": {"correct horse battery"}, "next": {"https://evil.example/"}})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/runs" {
		t.Errorf("login to another site = %d to %q, want 303 to /runs", res.StatusCode, res.Header.Get("Location"))
	}
	res = post(url.Values{"password": {"correct horse battery"}, "next": {"/runs/1"}})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/runs/1" || len(res.Cookies()) != 1 {
		t.Fatalf("login = %d to %q with %d cookies, want 303 to /runs/1 and a cookie", res.StatusCode, res.Header.Get("Location"), len(res.Cookies()))
	}
	c := res.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || !c.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax and Secure (the base URL is https)", c)
	}
	with := func(v string) int {
		return w.get("/runs", "", http.Header{"Cookie": {c.Name + "=" + v}}).Code
	}
	if got := with(c.Value); got != 200 {
		t.Errorf("/runs with the cookie = %d, want 200", got)
	}
	if got := with(strings.Replace(c.Value, ".", "9.", 1)); got != 303 {
		t.Errorf("/runs with a forged cookie = %d, want 303 to the login", got)
	}
	w.clock.Advance(13 * time.Hour)
	if got := with(c.Value); got != 303 {
		t.Errorf("/runs with a 13h old cookie = %d, want 303 to the login", got)
	}
}

// TestPasswordGuessing: after 10 wrong passwords in a minute the form
// refuses every attempt, the right one too, until the minute has passed.
func TestPasswordGuessing(t *testing.T) {
	w := newWorld(t)
	try := func(password string) int {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		w.mux.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range 10 {
		if got := try(fmt.Sprintf("guess %d", i)); got != 401 {
			t.Fatalf("wrong password %d = %d, want 401", i, got)
		}
	}
	if got := try("correct horse battery"); got != 429 {
		t.Errorf("the right password after 10 wrong ones = %d, want 429", got)
	}
	w.clock.Advance(time.Minute)
	if got := try("correct horse battery"); got != 303 {
		t.Errorf("the right password a minute later = %d, want 303", got)
	}
}

// TestNewRefuses: options that cannot work are refused with what to do.
func TestNewRefuses(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name string
		opts web.Options
		want string
	}{
		{"short key", web.Options{LinkKey: []byte("short")}, "DAYOPS_WEB_LINK_KEY has 5 characters: use at least 16"},
		{"proxy without addresses", web.Options{ProxyHeader: "X-Forwarded-User"}, "web.trusted_proxies is empty"},
		{"negative ttl", web.Options{LinkTTL: -time.Hour}, "web.link_ttl is -1h0m0s"},
	} {
		tc.opts.Store, tc.opts.Events = w.store, w.bus
		_, err := web.New(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestRandomKey: without DAYOPS_WEB_LINK_KEY each process signs with its own
// random key, says so in its log, and its links do not open another's pages.
func TestRandomKey(t *testing.T) {
	var logs strings.Builder
	noKey := func(o *web.Options) {
		o.LinkKey = nil
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}
	a, b := newWorld(t, noKey), newWorld(t, noKey)
	a.run(dayops.RunSucceeded)
	b.run(dayops.RunSucceeded)
	if !strings.Contains(logs.String(), "DAYOPS_WEB_LINK_KEY is unset: run links are signed with a random key of this process") {
		t.Errorf("no word of the random key in the log:\n%s", logs.String())
	}
	if code := a.get(a.link(1), "", nil).Code; code != 200 {
		t.Errorf("a's link on a = %d, want 200", code)
	}
	if code := b.get(a.link(1), "", nil).Code; code != 403 {
		t.Errorf("a's link on b = %d, want 403", code)
	}
}

// TestLoginGuessesByAddress: ten wrong passwords from one address lock that
// address out for a minute, not everyone else.
func TestLoginGuessesByAddress(t *testing.T) {
	w := newWorld(t)
	try := func(addr, password string) int {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		w.mux.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range 10 {
		try("203.0.113.9:4000", fmt.Sprint("guess ", i))
	}
	if got := try("203.0.113.9:4001", "correct horse battery"); got != 429 {
		t.Errorf("the guesser's address = %d, want 429", got)
	}
	if got := try("198.51.100.7:5000", "correct horse battery"); got != 303 {
		t.Errorf("another address = %d, want 303: one guesser locks out only itself", got)
	}
}

func TestLoginNextStaysHere(t *testing.T) {
	w := newWorld(t)
	for _, next := range []string{"//evil.example/x", "/\t/evil.example", "/\\evil.example", "https://evil.example", "/%0a/evil", "evil", "/\n/evil.example"} {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"password": {"correct horse battery"}, "next": {next}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "192.0.2.1:1"
		rec := httptest.NewRecorder()
		w.mux.ServeHTTP(rec, req)
		if loc := rec.Header().Get("Location"); rec.Code != 303 || (loc != "/runs" && loc != next) || strings.Contains(loc, "evil.example") {
			t.Errorf("next %q: %d to %q", next, rec.Code, loc)
		}
	}
}
