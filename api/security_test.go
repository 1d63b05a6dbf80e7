package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/wait"
)

// The findings of the attack run on the phone page's sign-in (issue 21),
// one test each, against the Odoo and manager emulators.

// clock is a test's time, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newClock starts at the real time: the cookie jar expires cookies by it.
func newClock() *clock { return &clock{now: time.Now()} }

func TestALoginEqualToAnExtensionSignsNoOneIn(t *testing.T) {
	// john's exten is 101; an Odoo user whose login is "101" has a
	// password of their own.
	w := newWebWorld(t, nil)
	w.odoo.AddUser("101", "Someone Else")
	resp, _ := w.browser(t).signIn("101", "101")
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("login 101 got %d and cookies %v: an extension signed someone in", resp.StatusCode, resp.Cookies())
	}
	if _, ok := w.flows.Settings().Users.ByLogin("101"); ok {
		t.Error("ByLogin matched an extension")
	}
	t.Run("nor places a call as the extension's user over the API", func(t *testing.T) {
		b := w.browser(t)
		code, out := b.call(`{"user": "101", "number": "025551234"}`, map[string]string{"Authorization": basic("odoo", "correct horse")})
		if code != http.StatusNotFound || len(w.pbx.Originates()) != 0 {
			t.Errorf("user 101 over the API: %d %v, %d Originates", code, out, len(w.pbx.Originates()))
		}
	})
}

func TestAConfigWhereAnExtenIsAnotherUsersLoginIsRefused(t *testing.T) {
	us := dialplan.Users{
		{Login: "john", Exten: "101", Channels: []dialplan.Channel{{Name: "PJSIP/101", Context: "from-internal"}}},
		{Login: "101", Exten: "102", Channels: []dialplan.Channel{{Name: "PJSIP/102", Context: "from-internal"}}},
	}
	err := us.Validate()
	if err == nil || !strings.Contains(err.Error(), `exten "101" is users[1]'s login`) {
		t.Fatalf("Validate: %v", err)
	}
	us[1].Login = "ann"
	if err := us.Validate(); err != nil {
		t.Errorf("distinct logins and extens: %v", err)
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// burst sends n requests at once and returns their status codes.
func burst(n int, send func() int) map[int]int {
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c := send()
			mu.Lock()
			codes[c]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes
}

func TestParallelGuessesAreCappedBeforeTheSlowCheck(t *testing.T) {
	t.Run("the page: 200 guesses at once reach Odoo at most 5 times", func(t *testing.T) {
		w := newWebWorld(t, nil)
		before := w.odoo.Logins()
		release := w.odoo.Hold() // no check ends while the burst arrives
		var refused atomic.Int64
		done := make(chan map[int]int)
		go func() {
			done <- burst(200, func() int {
				resp, _ := w.browser(t).signIn("ann", "guess")
				if resp.StatusCode == http.StatusTooManyRequests {
					refused.Add(1)
				}
				return resp.StatusCode
			})
		}()
		// 198 are refused at once while 2 checks wait on Odoo; without a
		// cap they would all wait, so give up waiting after a while.
		for deadline := time.Now().Add(20 * time.Second); refused.Load() < 198 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		release()
		codes := <-done
		if n := w.odoo.Logins() - before; n > 5 || codes[http.StatusTooManyRequests] < 195 {
			t.Fatalf("%d authenticate calls at Odoo, codes %v; want at most 5 and the rest 429", n, codes)
		}
		if codes[http.StatusUnauthorized] != 2 {
			t.Errorf("codes %v: want 2 checks in flight for one login", codes)
		}
	})
	t.Run("the API: 200 guesses at once run bcrypt at most 5 times", func(t *testing.T) {
		w := newWebWorld(t, nil)
		codes := burst(200, func() int {
			code, _ := w.browser(t).call(`{"user": "john", "number": "025551234"}`, map[string]string{"Authorization": basic("odoo", "guess")})
			return code
		})
		// Each 401 is one bcrypt comparison; a 429 is none.
		if codes[http.StatusUnauthorized] > 5 || codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != 200 {
			t.Errorf("codes %v: want at most 5 × 401 and the rest 429", codes)
		}
	})
}

func TestLimitsCountPerLoginAndPerAddressApartForThePageAndTheAPI(t *testing.T) {
	w := newWebWorld(t, nil, func(s *api.Server) { s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	signIn := func(ip, login, password string) int {
		req, _ := http.NewRequest("POST", w.url+"/login", strings.NewReader(url.Values{"login": {login}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := w.browser(t).c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 5 {
		if code := signIn("198.51.100.7", "ann", "wrong"); code != 401 {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if code := signIn("198.51.100.7", "john", "john"); code != 429 {
		t.Errorf("the guessing address signs in with %d; want 429", code)
	}
	if code := signIn("203.0.113.9", "john", "john"); code != 303 {
		t.Errorf("another address behind the same proxy: %d; want 303, one person must not lock everyone out", code)
	}
	if code := signIn("203.0.113.9", "ann", "ann"); code != 429 {
		t.Errorf("ann from a fresh address: %d; want 429, her login counted 5 failures", code)
	}
	b := w.browser(t)
	if code, out := b.call(`{"user": "john", "number": "025551234"}`, mergeHeaders(from("198.51.100.7"), map[string]string{"Authorization": basic("odoo", "correct horse")})); code != 200 {
		t.Errorf("the API from the address the page locked: %d %v", code, out)
	}
	for range 5 {
		b.call(`{"user": "john", "number": "1"}`, mergeHeaders(from("192.0.2.1"), map[string]string{"Authorization": basic("odoo", "wrong")}))
	}
	if code, _ := b.call(`{"user": "john", "number": "1"}`, mergeHeaders(from("192.0.2.1"), map[string]string{"Authorization": basic("odoo", "correct horse")})); code != 429 {
		t.Errorf("the API after 5 failures from one address: %d; want 429", code)
	}
	if code, out := b.call(`{"user": "john", "number": "025551234"}`, mergeHeaders(from("192.0.2.2"), map[string]string{"Authorization": basic("odoo", "correct horse")})); code != 200 {
		t.Errorf("the API from another address: %d %v; five guesses must not lock its one user out", code, out)
	}
	if code := signIn("192.0.2.1", "john", "john"); code != 303 {
		t.Errorf("the page from the address the API locked: %d", code)
	}
}

func mergeHeaders(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestForwardedHeadersCountOnlyFromTrustedProxies(t *testing.T) {
	cases := []struct {
		name    string
		proxies []string
		xff     string
		proto   string
		secure  bool
	}{
		{"no trusted proxy: X-Forwarded-Proto is ignored", nil, "", "https", false},
		{"a trusted proxy terminating TLS", []string{"127.0.0.1/32"}, "198.51.100.7", "https", true},
		{"a trusted proxy on plain HTTP", []string{"127.0.0.1/32"}, "198.51.100.7", "http", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ps []netip.Prefix
			for _, p := range tc.proxies {
				ps = append(ps, netip.MustParsePrefix(p))
			}
			w := newWebWorld(t, nil, func(s *api.Server) { s.TrustedProxies = ps })
			req, _ := http.NewRequest("POST", w.url+"/login", strings.NewReader("login=john&password=john"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", tc.xff)
			req.Header.Set("X-Forwarded-Proto", tc.proto)
			resp, err := w.browser(t).c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(resp.Cookies()) != 1 || resp.Cookies()[0].Secure != tc.secure {
				t.Errorf("cookies %v: want Secure=%v", resp.Cookies(), tc.secure)
			}
		})
	}
	t.Run("a client cannot pick its address through a trusted proxy", func(t *testing.T) {
		w := newWebWorld(t, nil, func(s *api.Server) { s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
		for i := range 6 {
			req, _ := http.NewRequest("POST", w.url+"/login", strings.NewReader("login=ann&password=wrong"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			// The client wrote a fresh address first; the proxy appended the real one.
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.9.9.%d, 198.51.100.7", i))
			resp, err := w.browser(t).c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if i == 5 && resp.StatusCode != 429 {
				t.Errorf("the sixth guess: %d; the spoofed first hop reset the count", resp.StatusCode)
			}
		}
	})
}

func TestAutoDialOnlyOnANavigationTheUserStarted(t *testing.T) {
	w := newWebWorld(t, func(web *api.Web, _ *dialplan.Settings) { web.ConfirmDial = false })
	b := w.browser(t)
	b.signIn("john", "john")
	cases := []struct {
		name    string
		headers map[string]string
		query   string
		auto    bool
	}{
		{"typed, or launched by the browser", map[string]string{"Sec-Fetch-Site": "none"}, "", true},
		{"a link on the phone page", map[string]string{"Sec-Fetch-Site": "same-origin"}, "", true},
		{"a tel: link in the configured Odoo", map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "https://odoo.example.com/"}, "", true},
		{"a navigation from another site", map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"}, "", false},
		{"another site that sends no Referer", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", false},
		{"a sibling subdomain", map[string]string{"Sec-Fetch-Site": "same-site", "Referer": "https://other.example.com/"}, "", false},
		{"Odoo's origin over plain HTTP", map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "http://odoo.example.com/"}, "", false},
		{"the redirect after signing in", map[string]string{"Sec-Fetch-Site": "same-origin"}, "&confirm=1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", w.url+"/dial?to=tel%3A%2B3225551234"+tc.query, nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := fmt.Sprintf(`data-autodial="%v"`, tc.auto)
			if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
				t.Errorf("%d, want %s:\n%.300s", resp.StatusCode, want, body)
			}
		})
	}
	t.Run("signing in on the way to /dial adds confirm=1", func(t *testing.T) {
		resp, err := w.browser(t).c.PostForm(w.url+"/login", url.Values{"login": {"john"}, "password": {"john"}, "next": {"/dial?to=tel%3A%2B3225551234"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/dial?") || !strings.Contains(loc, "confirm=1") {
			t.Errorf("Location %q", loc)
		}
	})
}

func TestAtMostTenEventStreamsPerSession(t *testing.T) {
	w := newWebWorld(t, nil)
	b := w.browser(t)
	b.signIn("john", "john")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(ctx context.Context) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", w.url+"/events", nil)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
		}
		return resp.StatusCode
	}
	codes := map[int]int{}
	for range 50 {
		codes[open(ctx)]++
	}
	if codes[200] != 10 || codes[429] != 40 {
		t.Fatalf("codes %v: want 10 streams and 40 × 429", codes)
	}
	cancel() // the tabs close
	wait.For(t, "a closed stream frees its place", 5*time.Second, func() bool {
		c := open(t.Context())
		return c == 200
	})
}

func TestNextStaysOnThisSite(t *testing.T) {
	w := newWebWorld(t, nil)
	cases := map[string]string{
		"/status":              "/status",
		"/?x=1":                "/?x=1",
		"/%09/evil.example":    "/",
		"/\t/evil.example":     "/",
		"//evil.example":       "/",
		"/\\evil.example":      "/",
		"/a\\b":                "/",
		"https://evil.example": "/",
		"javascript:alert(1)":  "/",
		"evil.example":         "/",
		"/\r\nSet-Cookie: x":   "/",
		"":                     "/",
	}
	for next, want := range cases {
		t.Run(fmt.Sprintf("%q", next), func(t *testing.T) {
			// The form carries next decoded once, as the login page posts it.
			raw := next
			if strings.HasPrefix(next, "/%") {
				raw, _ = url.PathUnescape(next)
			}
			resp, err := w.browser(t).c.PostForm(w.url+"/login", url.Values{"login": {"john"}, "password": {"john"}, "next": {raw}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Location"); resp.StatusCode != 303 || got != want {
				t.Errorf("%d Location %q, want %q", resp.StatusCode, got, want)
			}
		})
	}
}

func TestALargeSignInBodyIsRefusedBeforeOdoo(t *testing.T) {
	w := newWebWorld(t, nil)
	before := w.odoo.Logins()
	body := "login=john&password=" + strings.Repeat("x", 2<<20)
	resp, err := w.browser(t).c.Post(w.url+"/login", "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || w.odoo.Logins() != before {
		t.Errorf("%d, %d authenticate calls: want 413 and none", resp.StatusCode, w.odoo.Logins()-before)
	}
}

func TestASessionEndsWhenItsOdooUserIsArchived(t *testing.T) {
	clk := newClock()
	w := newWebWorld(t, func(web *api.Web, _ *dialplan.Settings) { web.Now = clk.Now; web.Recheck = 5 * time.Minute })
	b := w.browser(t)
	b.signIn("ann", "ann")
	w.odoo.ArchiveUser("ann")
	if _, body := b.get("/"); !strings.Contains(body, "Recent calls") {
		t.Fatal("the session ended before its recheck was due")
	}
	t.Run("Odoo down at the recheck keeps the session", func(t *testing.T) {
		w.odoo.SetDown(true)
		clk.Add(5 * time.Minute)
		_, body := b.get("/")
		w.odoo.SetDown(false)
		if !strings.Contains(body, "Recent calls") {
			t.Error("an outage signed a user out")
		}
	})
	clk.Add(5 * time.Minute)
	if _, body := b.get("/"); !strings.Contains(body, `id="login"`) {
		t.Errorf("an archived user still has the page:\n%.300s", body)
	}
	if _, body := b.get("/"); !strings.Contains(body, `id="login"`) {
		t.Error("the session came back")
	}
	if resp, _ := w.browser(t).signIn("ann", "ann"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an archived user signs in: %d", resp.StatusCode)
	}
}
