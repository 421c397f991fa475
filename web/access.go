package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cookieName is the login cookie; loginTTL how long a login lasts;
// maxWrong how many wrong passwords the form takes in a minute from one
// address, and maxWrongAll from all of them, before it refuses attempts
// (from that address, or from all) for the rest of that minute.
const (
	cookieName  = "dayops_login"
	loginTTL    = 12 * time.Hour
	maxWrong    = 10
	maxWrongAll = 100
)

// wrongPasswords counts the recent wrong passwords by address and in all,
// so that guessing the shared password is slow wherever the guesses come
// from, while one guesser cannot lock everyone else out.
type wrongPasswords struct {
	mu     sync.Mutex
	all    []time.Time
	byAddr map[string][]time.Time
}

func recent(ts []time.Time, now time.Time) []time.Time {
	return slices.DeleteFunc(ts, func(t time.Time) bool { return now.Sub(t) >= time.Minute })
}

// allow reports whether a login may be tried from addr at now.
func (p *wrongPasswords) allow(addr string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all = recent(p.all, now)
	for a, ts := range p.byAddr {
		if ts = recent(ts, now); len(ts) == 0 {
			delete(p.byAddr, a)
		} else {
			p.byAddr[a] = ts
		}
	}
	return len(p.all) < maxWrongAll && len(p.byAddr[addr]) < maxWrong
}

func (p *wrongPasswords) add(addr string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byAddr == nil {
		p.byAddr = map[string][]time.Time{}
	}
	p.all = append(p.all, now)
	p.byAddr[addr] = append(p.byAddr[addr], now)
}

// clientAddr is the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// viewer is who is looking at a page: a signed-in user, or the holder of a
// signed link to one run.
type viewer struct {
	User  string     // "" for a link holder
	RunID int64      // the run a link opens
	Link  url.Values // exp and sig, carried on to the run's log and live feed
}

type viewerKey struct{}

func viewerOf(ctx context.Context) viewer {
	v, _ := ctx.Value(viewerKey{}).(viewer)
	return v
}

// RunURL is the signed link to run id's page, valid for the link TTL; its
// expiry is rounded down (to the hour for a TTL of hours) so that a run
// message re-rendered within that time carries the same link.
func (s *Server) RunURL(id int64) string {
	step := time.Minute
	if s.opts.LinkTTL >= 2*time.Hour {
		step = time.Hour
	}
	exp := s.now().Add(s.opts.LinkTTL).Truncate(step).Unix()
	q := url.Values{"exp": {strconv.FormatInt(exp, 10)}, "sig": {s.sign(id, exp)}}
	return s.opts.BaseURL + "/runs/" + strconv.FormatInt(id, 10) + "?" + q.Encode()
}

// sign is the signature of a link to run id that expires at exp.
func (s *Server) sign(id, exp int64) string {
	return s.mac("run\x00" + strconv.FormatInt(id, 10) + "\x00" + strconv.FormatInt(exp, 10))
}

func (s *Server) mac(msg string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkLink says why the exp and sig of q do not open run id, or "".
func (s *Server) checkLink(id int64, q url.Values) string {
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || q.Get("sig") == "" {
		return "this run link is incomplete (it needs exp and sig): copy the whole link from the run's message"
	}
	if !hmac.Equal([]byte(q.Get("sig")), []byte(s.sign(id, exp))) {
		return "this link's signature does not match run " + strconv.FormatInt(id, 10) + ": it was changed, or it opens another run"
	}
	if at := time.Unix(exp, 0); !s.now().Before(at) {
		return "this run link expired at " + at.UTC().Format(time.RFC3339) + ": the run's message in chat carries a fresh one"
	}
	return ""
}

// loginConfigured reports whether any login exists besides signed links.
func (s *Server) loginConfigured() bool {
	return s.opts.Password != "" || s.opts.ProxyHeader != ""
}

// user is who signed in, or "": the loopback of the demo, a trusted proxy's
// header, or the login cookie.
func (s *Server) user(r *http.Request) string {
	addr, _ := netip.ParseAddrPort(r.RemoteAddr)
	ip := addr.Addr().Unmap()
	if s.opts.Loopback && ip.IsLoopback() {
		return "local"
	}
	if s.opts.ProxyHeader != "" {
		if u := strings.TrimSpace(r.Header.Get(s.opts.ProxyHeader)); u != "" && s.trusted(ip) {
			return u
		}
	}
	if s.opts.Password != "" {
		if c, err := r.Cookie(cookieName); err == nil {
			return s.cookieUser(c.Value)
		}
	}
	return ""
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// loginCookie is "EXP.USER.MAC", USER in base64.
func (s *Server) loginCookie(user string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	u := base64.RawURLEncoding.EncodeToString([]byte(user))
	return e + "." + u + "." + s.mac("login\x00"+e+"\x00"+u)
}

func (s *Server) cookieUser(v string) string {
	e, rest, _ := strings.Cut(v, ".")
	u, sig, _ := strings.Cut(rest, ".")
	if !hmac.Equal([]byte(sig), []byte(s.mac("login\x00"+e+"\x00"+u))) {
		return ""
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || !s.now().Before(time.Unix(exp, 0)) {
		return ""
	}
	user, err := base64.RawURLEncoding.DecodeString(u)
	if err != nil {
		return ""
	}
	return string(user)
}

// needLogin lets only signed-in users through.
func (s *Server) needLogin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := s.user(r)
		if u == "" {
			s.denied(w, r, "")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, viewer{User: u})))
	})
}

// needRun lets through signed-in users and holders of a valid link to the
// run of the path; a link that does not open it is 403 with the reason.
func (s *Server) needRun(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			s.problem(w, http.StatusNotFound, "no run "+strconv.Quote(r.PathValue("id"))+": run IDs are positive numbers, e.g. /runs/42", "")
			return
		}
		v := viewer{User: s.user(r), RunID: id}
		q := r.URL.Query()
		if v.User == "" {
			if !q.Has("sig") && !q.Has("exp") {
				s.denied(w, r, "")
				return
			}
			if why := s.checkLink(id, q); why != "" {
				s.denied(w, r, why)
				return
			}
			v.Link = url.Values{"exp": {q.Get("exp")}, "sig": {q.Get("sig")}}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
	})
}

// denied answers a request without access: 403 with the link's fault or
// when no login is configured (saying how to configure one), else a
// redirect to the login form for a page and 401 for anything else.
func (s *Server) denied(w http.ResponseWriter, r *http.Request, linkFault string) {
	switch {
	case linkFault != "":
		hint := ""
		if s.loginConfigured() {
			hint = "Or sign in to see every run."
		}
		s.problem(w, http.StatusForbidden, linkFault, hint)
	case !s.loginConfigured():
		s.problem(w, http.StatusForbidden, "the run pages open only with a signed run link: no login is configured",
			"To open every page, set DAYOPS_WEB_PASSWORD (a shared password), or web.proxy_header and web.trusted_proxies (a reverse proxy that signs users in); see docs/configuration.md.")
	case s.opts.Password != "" && wantsPage(r):
		http.Redirect(w, r, "/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
	case s.opts.Password != "":
		s.problem(w, http.StatusUnauthorized, "sign in first: /login", "")
	default:
		s.problem(w, http.StatusUnauthorized, "sign in through the reverse proxy in front of dayops: it sets "+s.opts.ProxyHeader, "")
	}
}

// wantsPage reports whether r is a browser asking for a page (not the live
// feed or a download).
func wantsPage(r *http.Request) bool {
	return !strings.HasSuffix(r.URL.Path, "/events") && !strings.HasSuffix(r.URL.Path, ".txt")
}

// loginForm shows the password form.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if s.opts.Password == "" {
		s.denied(w, r, "")
		return
	}
	s.render(w, http.StatusOK, "login.html", map[string]any{"Title": "Sign in", "Next": localPath(r.URL.Query().Get("next"))})
}

// login checks the password (in constant time) and sets the login cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.opts.Password == "" {
		s.denied(w, r, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		s.problem(w, http.StatusBadRequest, "the login form is malformed: send password and next as a form", "")
		return
	}
	next := localPath(r.PostForm.Get("next"))
	if !s.wrong.allow(clientAddr(r), s.now()) {
		w.Header().Set("Retry-After", "60")
		s.problem(w, http.StatusTooManyRequests, "too many wrong passwords in the last minute: the login form waits a minute before it takes another", "")
		return
	}
	got, want := sha256.Sum256([]byte(r.PostForm.Get("password"))), sha256.Sum256([]byte(s.opts.Password))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		s.wrong.add(clientAddr(r), s.now())
		s.log.Warn("web login refused: wrong password", "remote", r.RemoteAddr)
		s.render(w, http.StatusUnauthorized, "login.html", map[string]any{"Title": "Sign in", "Next": next, "Wrong": true})
		return
	}
	exp := s.now().Add(loginTTL)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.loginCookie("password", exp), Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || strings.HasPrefix(s.opts.BaseURL, "https:")})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// localPath is p when it is a path on this server, else /runs: a login
// never sends the browser elsewhere. Browsers drop tabs and newlines and
// read a backslash as a slash, so anything with those, or that parses with
// a scheme or a host, is refused.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
		strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/runs"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/runs"
	}
	return p
}

// linkQuery is the link part a page adds to the URLs of its own run, "" for
// a signed-in viewer.
func (v viewer) linkQuery(sep string) string {
	if len(v.Link) == 0 {
		return ""
	}
	return sep + v.Link.Encode()
}
