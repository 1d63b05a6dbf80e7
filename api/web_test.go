package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// webWorld is the phone page over real Odoo and manager emulators: john
// (an admin) and ann are PBX users; mallory is an Odoo user who is not.
type webWorld struct {
	odoo   *odootest.Server
	pbx    *amitest.Server
	dir    *lookup.Directory
	live   *dialplan.Live
	flows  *dialplan.Flows
	srv    *api.Server
	url    string
	acme   int
	cancel context.CancelFunc
}

func newWebWorld(t *testing.T, mod func(*api.Web, *dialplan.Settings), srvMods ...func(*api.Server)) *webWorld {
	t.Helper()
	o, odooURL := odootest.StartT(t)
	for _, u := range []string{"john", "ann", "mallory"} {
		o.AddUser(u, strings.ToUpper(u[:1])+u[1:])
	}
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 12 34", CountryID: o.CountryID("BE"),
		CategoryIDs: []int{o.AddCategory("VIP")}})
	client := odoo.New(odoo.Config{URL: odooURL, DB: "odoo", User: "asterisk1", Password: "asterisk1", Timeout: 5 * time.Second, Logger: quiet})
	dir := lookup.NewDirectory(lookup.Config{Normalizer: lookup.Normalizer{Country: "BE"}, Logger: quiet, UserLogins: []string{"john", "ann"}}, client)
	if err := dir.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := dialplan.Settings{Users: dialplan.Users{
		{Login: "john", Exten: "101", Admin: true, Channels: []dialplan.Channel{{Name: "PJSIP/101", Context: "from-internal", Originate: true}}},
		{Login: "ann", Exten: "102", Channels: []dialplan.Channel{{Name: "PJSIP/102", Context: "from-internal", Originate: true}}},
	}, OriginateTimeout: 5 * time.Second}
	web := &api.Web{Auth: client, Directory: dir, Normalizer: lookup.Normalizer{Country: "BE"}, OdooURL: "https://odoo.example.com",
		ConfirmDial: true}
	if mod != nil {
		mod(web, &st)
	}
	flows := dialplan.NewFlows(dir, st, quiet)
	live := &dialplan.Live{Flows: flows, Logger: quiet}
	flows.Live = live
	web.Users = func() dialplan.Users { return flows.Settings().Users }
	web.Live = live
	pbx, amiAddr := amitest.StartT(t)
	mgr := &ami.Client{Addr: amiAddr, Username: "odoo", Secret: "secret", Logger: quiet}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := mgr.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	go live.Run(ctx, "", mgr.Subscribe(ctx, "DialBegin", "DialEnd", "Hangup"))
	orig := &dialplan.Originator{Settings: flows.Settings, Directory: dir, Normalizer: lookup.Normalizer{Country: "BE"}, Manager: mgr, Logger: quiet}
	srv := &api.Server{User: "odoo", PasswordHash: mustHash(t), Caller: orig, Logger: quiet, Web: web,
		Health: func() (any, bool) { return map[string]any{"status": "ok"}, true }}
	for _, m := range srvMods {
		m(srv)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &webWorld{odoo: o, pbx: pbx, dir: dir, live: live, flows: flows, srv: srv, url: hs.URL, acme: acme, cancel: cancel}
}

// browser is a client with its own cookies that sends what a same-origin
// page sends.
type browser struct {
	t    *testing.T
	w    *webWorld
	c    *http.Client
	csrf string
}

func (w *webWorld) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, w: w, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) signIn(login, password string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.w.url+"/login", url.Values{"login": {login}, "password": {password}})
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf" content="([^"]+)">`)

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.w.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfMeta.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return resp.StatusCode, string(body)
}

func (b *browser) call(body string, headers map[string]string) (int, map[string]string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.w.url+"/api/v1/originate", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestSignInWithTheOdooLogin(t *testing.T) {
	w := newWebWorld(t, nil)
	t.Run("the right password opens the phone page", func(t *testing.T) {
		b := w.browser(t)
		resp, _ := b.signIn("john", "john")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d", resp.StatusCode)
		}
		ck := resp.Cookies()[0]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || len(ck.Value) < 43 {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, 256 random bits (Secure only under TLS)", ck)
		}
		code, body := b.get("/")
		if code != 200 || !strings.Contains(body, "Recent calls") || b.csrf == "" {
			t.Errorf("phone page %d:\n%.400s", code, body)
		}
		if h := resp.Header.Get("Set-Cookie"); strings.Contains(h, "john") {
			t.Errorf("the cookie holds the login: %s", h)
		}
	})
	t.Run("a wrong password gets one generic message", func(t *testing.T) {
		resp, body := w.browser(t).signIn("john", "nope")
		if resp.StatusCode != 401 || !strings.Contains(body, "Wrong login or password") || len(resp.Cookies()) != 0 {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
		resp, body2 := w.browser(t).signIn("nobody", "nope")
		if resp.StatusCode != 401 || !strings.Contains(body2, "Wrong login or password") {
			t.Errorf("an unknown login reads differently: %d", resp.StatusCode)
		}
	})
	t.Run("an Odoo user with no phone never reaches Odoo and reads the same", func(t *testing.T) {
		before := w.odoo.Logins()
		resp, body := w.browser(t).signIn("mallory", "mallory")
		if resp.StatusCode != 401 || !strings.Contains(body, "no phone in odoo-agi (ask your admin)") || len(resp.Cookies()) != 0 {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
		if n := w.odoo.Logins() - before; n != 0 {
			t.Errorf("%d authenticate calls for a login with no [[users]] entry", n)
		}
	})
	t.Run("five failures a minute, then 429", func(t *testing.T) {
		b := w.browser(t)
		codes := []int{}
		for range 6 {
			resp, _ := b.signIn("ann", "wrong")
			codes = append(codes, resp.StatusCode)
		}
		if codes[5] != 429 {
			t.Errorf("codes %v; want 429 after the limiter's failures", codes)
		}
	})
}

func TestSessionsExpireAndSignOutEndsThem(t *testing.T) {
	w := newWebWorld(t, func(web *api.Web, _ *dialplan.Settings) { web.SessionTTL = 1500 * time.Millisecond })
	b := w.browser(t)
	b.signIn("ann", "ann")
	if _, body := b.get("/"); !strings.Contains(body, "Recent calls") {
		t.Fatal("not signed in")
	}
	time.Sleep(1600 * time.Millisecond)
	if _, body := b.get("/"); !strings.Contains(body, "Sign in") {
		t.Error("an expired session still opens the page")
	}
	b.signIn("ann", "ann")
	resp, err := b.c.PostForm(w.url+"/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, body := b.get("/"); !strings.Contains(body, "Sign in") {
		t.Error("signed in after signing out")
	}
}

func TestThePageCallsAsTheSignedInUserOnlyWithItsToken(t *testing.T) {
	w := newWebWorld(t, func(_ *api.Web, st *dialplan.Settings) {
		st.Deny = []string{"+1900", "0903"}
		st.PerUserPerMinute = 3
	})
	b := w.browser(t)
	b.signIn("ann", "ann")
	b.get("/")
	body := `{"user": "john", "number": "02 555 12 34"}`
	if code, _ := b.call(body, nil); code != 403 {
		t.Errorf("no CSRF token: %d, want 403", code)
	}
	if code, _ := b.call(body, map[string]string{"X-CSRF-Token": b.csrf, "Origin": "http://evil.example"}); code != 403 {
		t.Errorf("another origin: %d, want 403", code)
	}
	if n := len(w.pbx.Originates()); n != 0 {
		t.Fatalf("%d calls placed by refused requests", n)
	}
	code, out := b.call(body, map[string]string{"X-CSRF-Token": b.csrf, "Origin": w.url})
	if code != 200 || out["status"] != "answered" {
		t.Fatalf("%d %v", code, out)
	}
	if o := w.pbx.Originates(); len(o) != 1 || o[0].Var("ODOO_USER") != "ann" {
		t.Errorf("the call rang %q, want ann: a session calls as its own user", o[0].Var("ODOO_USER"))
	}
	t.Run("denied prefixes, E.164 or as dialed, get a 422 the page shows", func(t *testing.T) {
		for _, n := range []string{"+1 900 555 0100", "0903 12 345"} {
			code, out := b.call(`{"number": "`+n+`"}`, map[string]string{"X-CSRF-Token": b.csrf})
			if code != 422 || !strings.Contains(out["error"], "deny") {
				t.Errorf("%s: %d %v", n, code, out)
			}
		}
	})
	t.Run("the per-user limit", func(t *testing.T) {
		codes := []int{}
		for range 3 {
			code, _ := b.call(`{"number": "02 555 12 34"}`, map[string]string{"X-CSRF-Token": b.csrf})
			codes = append(codes, code)
		}
		if codes[len(codes)-1] != 429 {
			t.Errorf("codes %v: the 4th call in a minute must get 429", codes)
		}
	})
	t.Run("no GET places a call", func(t *testing.T) {
		before := len(w.pbx.Originates())
		code, page := b.get("/dial?to=tel%3A%2B3225551234")
		if code != 200 || !strings.Contains(page, "ACME SA") || !strings.Contains(page, "32 2 555 12 34") || !strings.Contains(page, "autofocus") {
			t.Errorf("%d\n%s", code, page[strings.Index(page, "<main"):])
		}
		if len(w.pbx.Originates()) != before {
			t.Error("GET /dial placed a call")
		}
	})
}

// stream reads server-sent events.
type stream struct {
	resp *http.Response
	r    *bufio.Reader
}

func (b *browser) events(lastID string) *stream {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.w.url+"/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	c := *b.c
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		b.t.Fatalf("events: %v %v", resp, err)
	}
	b.t.Cleanup(func() { resp.Body.Close() })
	return &stream{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event's id and data, or a comment as data.
func (s *stream) next(t *testing.T) (id string, ev dialplan.CallEvent, comment string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.resp.Body.Close()
		}
	}()
	defer close(done)
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, ": "):
			return "", ev, line[2:]
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "data: "):
			json.Unmarshal([]byte(line[6:]), &ev)
		case line == "" && id != "":
			return id, ev, ""
		}
	}
}

// ring plays an incoming call: the FastAGI session's lookup, then
// Asterisk's DialBegin to a phone, as in docs/asterisk-wire.md.
func (w *webWorld) ring(t *testing.T, uniqueid, phone string) (trunk, dest amitest.Chan) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	w.live.Incoming("", uniqueid, "025551234", 0, w.dir.Lookup(ctx, "025551234"))
	trunk = amitest.Chan{Name: "PJSIP/trunk-00000000", State: 4, CallerIDNum: "025551234", CallerIDName: "Carrier",
		Context: "from-trunk", Exten: "3220000000", Priority: 4, Uniqueid: uniqueid, Linkedid: uniqueid}
	dest = amitest.Chan{Name: phone + "-00000001", CallerIDNum: "101", Context: "from-internal", Uniqueid: uniqueid + "1", Linkedid: uniqueid}
	w.pbx.EmitDialBegin(trunk, dest, strings.TrimPrefix(phone, "PJSIP/"))
	return trunk, dest
}

func TestTheEventStreamShowsCallsToEachTabAndResumes(t *testing.T) {
	w := newWebWorld(t, nil)
	b := w.browser(t)
	b.signIn("john", "john")
	tab1, tab2 := b.events(""), b.events("")
	trunk, dest := w.ring(t, "1795836198.0", "PJSIP/101")
	for i, tab := range []*stream{tab1, tab2} {
		_, ev, _ := tab.next(t)
		if ev.State != dialplan.Ringing || ev.Name != "ACME SA" || ev.PartnerID != w.acme || ev.Number != "+3225551234" || fmt.Sprint(ev.Tags) != "[VIP]" {
			t.Errorf("tab %d: %+v", i+1, ev)
		}
	}
	w.pbx.EmitDialEnd(trunk, dest, "ANSWER")
	id, ev, _ := tab1.next(t)
	if ev.State != dialplan.AnsweredByYou {
		t.Errorf("after DialEnd ANSWER: %+v", ev)
	}
	w.pbx.EmitHangup(trunk, 16, "Normal Clearing")
	tab1.next(t)
	t.Run("Last-Event-ID resumes after the last event seen", func(t *testing.T) {
		_, ev, _ := b.events(id).next(t)
		if ev.State != dialplan.Ended {
			t.Errorf("resumed with %+v, want the ended event", ev)
		}
	})
	t.Run("another user's phone is not this user's call", func(t *testing.T) {
		w.ring(t, "1795836199.0", "PJSIP/102")
		w.ring(t, "1795836200.0", "PJSIP/101")
		if _, ev, _ := tab2.next(t); ev.Call != "1795836200.0" {
			// tab2 still holds the answered/ended events of the first call.
			for ev.Call == "1795836198.0" {
				_, ev, _ = tab2.next(t)
			}
			if ev.Call != "1795836200.0" {
				t.Errorf("john got %+v", ev)
			}
		}
	})
	t.Run("a missed call", func(t *testing.T) {
		a := w.browser(t)
		a.signIn("ann", "ann")
		s := a.events("")
		trunk, dest := w.ring(t, "1795836300.0", "PJSIP/102")
		s.next(t)
		w.pbx.EmitDialEnd(trunk, dest, "NOANSWER")
		w.pbx.EmitHangup(trunk, 16, "Normal Clearing")
		if _, ev, _ := s.next(t); ev.State != dialplan.Missed {
			t.Errorf("%+v", ev)
		}
		if _, page := a.get("/"); !strings.Contains(page, `class="missed"`) {
			t.Error("the missed call is not in the recent calls")
		}
	})
}

func TestAnIdleStreamGetsAHeartbeat(t *testing.T) {
	defer api.SetHeartbeat(50 * time.Millisecond)()
	w := newWebWorld(t, nil)
	b := w.browser(t)
	b.signIn("ann", "ann")
	if _, _, comment := b.events("").next(t); comment != "heartbeat" {
		t.Errorf("got %q", comment)
	}
}

func TestTheStatusViewIsForAdmins(t *testing.T) {
	w := newWebWorld(t, func(web *api.Web, _ *dialplan.Settings) {
		web.Ping = func(context.Context) []api.Check { return []api.Check{{OK: true, Name: "odoo login"}} }
	})
	ann := w.browser(t)
	ann.signIn("ann", "ann")
	if code, _ := ann.get("/status"); code != 403 {
		t.Errorf("ann sees the status view: %d", code)
	}
	john := w.browser(t)
	john.signIn("john", "john")
	if code, page := john.get("/status"); code != 200 || !strings.Contains(page, "Ping") {
		t.Errorf("%d", code)
	}
	req, _ := http.NewRequest("POST", w.url+"/status/ping", nil)
	req.Header.Set("X-CSRF-Token", john.csrf)
	resp, err := john.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var checks []api.Check
	json.NewDecoder(resp.Body).Decode(&checks)
	resp.Body.Close()
	if len(checks) != 1 || !checks[0].OK {
		t.Errorf("%d %v", resp.StatusCode, checks)
	}
}

func TestThePageIsSmallAndAllowsNoInlineScript(t *testing.T) {
	w := newWebWorld(t, nil)
	b := w.browser(t)
	b.signIn("john", "john")
	resp, err := b.c.Get(w.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).Match(page) || strings.Contains(string(page), " on") && regexp.MustCompile(` on[a-z]+=`).Match(page) {
		t.Error("inline script in the page")
	}
	total := len(page)
	for _, f := range []string{"app.js", "style.css", "icon.svg"} {
		_, body := b.get("/static/" + f)
		total += len(body)
	}
	if total > 60<<10 {
		t.Errorf("the page weighs %d bytes, over 60 KB", total)
	}
	t.Logf("page weight: %d bytes (HTML, script, style and icon)", total)
}
