package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/internal/browsertest"
	"github.com/odoo-agi/odoo-agi/internal/wait"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// The phone page in a real browser: Debian's chromium, driven over CDP,
// against `serve` as the daemon wires it, with the Odoo and manager
// emulators. Outside CI, a machine without chromium skips these tests;
// in CI they must run (.ci/run installs chromium).

// phoneWorld is serve with the phone page, and what it talks to.
type phoneWorld struct {
	d      *Daemon
	odoo   *odootest.Server
	pbx    *amitest.Server
	url    string // the phone page
	acme   int
	config string // the config file
	stop   func() // stops the daemon; the test's end does too
}

func newPhoneWorld(t *testing.T) *phoneWorld {
	t.Helper()
	return newPhoneWorldWeb(t, `odoo_url = "https://odoo.example.com"`)
}

// newPhoneWorldWeb is newPhoneWorld with these [web] keys; more, when
// given, is tables to add, keys for john's [[users]] entry, then more
// [[users]] entries.
func newPhoneWorldWeb(t testing.TB, web string, more ...string) *phoneWorld {
	t.Helper()
	more = append(more, "", "", "")
	o, odooURL := odootest.StartT(t)
	o.AddUser("john", "John Seller")
	o.SetPassword("john", "john-password")
	vip := o.AddCategory("VIP")
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 12 34", CountryID: o.CountryID("BE"), CategoryIDs: []int{vip}})
	o.SetPassword("asterisk1", "odoo-secret")
	pbx, amiAddr := amitest.StartT(t)
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := writeConfig(t, fmt.Sprintf(`[agi]
listen = "127.0.0.1:0"
[odoo]
url = %q
password = "odoo-secret"
cache_file = ""
[ami]
address = %q
secret = "secret"
[originate]
timeout = "5s"
[web]
%s
%s
[[users]]
login = "john"
exten = "101"
admin = true
%s
  [[users.channels]]
  name = "PJSIP/101"
  originate = true
  auto_answer = "yealink"
%s
`, odooURL, amiAddr, web, more[0], more[1], more[2]))
	d, stop := serveConfigT(t, p, apiLn)
	wait.For(t, "the manager login", 10*time.Second, func() bool { return d.AMI.State().Connected })
	return &phoneWorld{d: d, odoo: o, pbx: pbx, url: "http://" + apiLn.Addr().String(), acme: acme, config: p, stop: stop}
}

// serveConfigT runs the daemon of config file p, the page on apiLn, until
// stop is called or the test ends, and waits for its first sync.
func serveConfigT(t testing.TB, p string, apiLn net.Listener) (d *Daemon, stop func()) {
	t.Helper()
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	agiLn, _ := net.Listen("tcp", "127.0.0.1:0")
	d, err = New(c, Options{Logs: &wait.Buffer{}, AGIListener: agiLn, APIListener: apiLn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	wait.For(t, "the first sync", 10*time.Second, func() bool { return d.Directory.State().Loaded })
	return d, stop
}

// browse, do and get are browsertest's, under this file's names.
func browse(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	return browsertest.Browse(t, extra...)
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Do(t, ctx, what, steps...)
}

func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	return browsertest.Get(t, ctx, what, a)
}

// recordNotifications wraps window.Notification in every page so that a
// test sees what the page raised.
const recordNotifications = `(() => {
  const N = window.Notification; window.__notes = [];
  if (!N) return;
  function W(title, opts) { window.__notes.push({title, body: (opts && opts.body) || ""}); try { return new N(title, opts); } catch (e) { return {close() {}}; } }
  Object.defineProperty(W, "permission", {get: () => N.permission});
  W.requestPermission = (...a) => N.requestPermission(...a);
  window.Notification = W;
})();`

func signIn(t *testing.T, ctx context.Context, w *phoneWorld) {
	do(t, ctx, "sign in",
		chromedp.Navigate(w.url+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), "john"),
		chromedp.SendKeys(chromedp.ID("password"), "john-password"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("recent")),
		// Calls reach the page only once its event stream is open: an
		// event sent before would never show.
		chromedp.WaitReady(chromedp.CSS(`body[data-live="on"]`)))
}

func TestThePhonePageInABrowser(t *testing.T) {
	w := newPhoneWorld(t)
	ctx := browse(t)
	do(t, ctx, "grant notifications", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted, Origin: w.url}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordNotifications})
		return err
	}))

	t.Run("sign in", func(t *testing.T) {
		signIn(t, ctx, w)
		if who := get(t, ctx, "read the bar", chromedp.Text(chromedp.CSS(".bar .who"))); !strings.Contains(who, "John Seller") || !strings.Contains(who, "101") {
			t.Errorf("the bar says %q", who)
		}
	})

	t.Run("a tel: link, then Enter, places one call", func(t *testing.T) {
		do(t, ctx, "open the tel: handler page",
			chromedp.Navigate(w.url+"/dial?to=tel%3A%2B3225551234"),
			chromedp.WaitVisible(chromedp.CSS("#call button")))
		if h1 := get(t, ctx, "read the page", chromedp.Text(chromedp.CSS("h1"))); h1 != "Call ACME SA" {
			t.Errorf("the page says %q", h1)
		}
		if n := len(w.pbx.Originates()); n != 0 {
			t.Fatalf("%d calls before Enter: a GET placed a call", n)
		}
		pressed := time.Now()
		do(t, ctx, "press Enter",
			chromedp.KeyEvent(kb.Enter), // the Call button has focus
			chromedp.WaitVisible(chromedp.CSS(`#progress[data-status="answered"]`)))
		status := get(t, ctx, "read the outcome", chromedp.Text(chromedp.ID("progress")))
		o := w.pbx.Originates()
		if len(o) != 1 || o[0].Var("ODOO_DIAL_NUMBER") != "025551234" || o[0].Var("ODOO_USER") != "john" {
			t.Fatalf("%d Originates: %+v", len(o), o)
		}
		if !strings.Contains(status, "Answered by you") {
			t.Errorf("the page says %q", status)
		}
		t.Logf("Enter to the Originate at the manager: %v", o[0].Received.Sub(pressed).Round(time.Millisecond))
	})

	t.Run("an incoming call shows a card and a notification", func(t *testing.T) {
		do(t, ctx, "open the phone page", chromedp.Navigate(w.url+"/"), chromedp.WaitVisible(chromedp.ID("live")),
			chromedp.WaitReady(chromedp.CSS(`body[data-live="on"]`))) // the event stream is open
		var lat []time.Duration
		for i := range 20 {
			uid := fmt.Sprintf("17958362%02d.0", i)
			trunk, phone := w.incoming(t, uid)
			t0 := time.Now()
			w.pbx.EmitDialBegin(trunk, phone, "101")
			sel := fmt.Sprintf(`article[data-call="%s"].ringing`, uid)
			do(t, ctx, "wait for the card", chromedp.WaitVisible(chromedp.CSS(sel)))
			lat = append(lat, time.Since(t0))
			if i > 0 {
				w.pbx.EmitHangup(trunk, 16, "Normal Clearing")
				continue
			}
			name := get(t, ctx, "read the card", chromedp.Text(chromedp.CSS(sel+" .name")))
			link := get(t, ctx, "read the link", chromedp.AttributeValue(chromedp.CSS(sel+" a"), "href"))
			if name != "ACME SA" || link.Value != fmt.Sprintf("https://odoo.example.com/web#id=%d&model=res.partner&view_type=form", w.acme) {
				t.Errorf("card: %q, link %q", name, link.Value)
			}
			notes := get(t, ctx, "read the notifications", chromedp.Evaluate[[]map[string]string](`window.__notes`))
			if len(notes) != 1 || notes[0]["title"] != "ACME SA" {
				t.Errorf("notifications: %v", notes)
			}
			// One company: the card does not name the line's.
			if meta := get(t, ctx, "read the card's details", chromedp.Text(chromedp.CSS(sel+" .meta"))); strings.Contains(meta, " to ") || strings.Contains(meta, "My Company") {
				t.Errorf("a one-company card names a line: %q", meta)
			}
			w.pbx.EmitDialEnd(trunk, phone, "ANSWER")
			done := fmt.Sprintf(`article[data-call="%s"].answered`, uid)
			do(t, ctx, "wait for answered", chromedp.WaitVisible(chromedp.CSS(done)))
			if state := get(t, ctx, "read the state", chromedp.TextContent(chromedp.CSS(done+" .state"))); state != "Answered by you" {
				t.Errorf("the card says %q", state)
			}
			w.pbx.EmitHangup(trunk, 16, "Normal Clearing")
		}
		slices.Sort(lat)
		t.Logf("DialBegin to the card in the browser: median %v over %d calls (min %v, max %v)",
			lat[len(lat)/2].Round(time.Millisecond), len(lat), lat[0].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	})

	t.Run("with two companies, a card says which company's line was called", func(t *testing.T) {
		france := w.odoo.AddCompany("ACME France")
		w.odoo.SetCompanies("asterisk1", 1, france)
		if err := w.d.Directory.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "open the phone page", chromedp.Navigate(w.url+"/"), chromedp.WaitReady(chromedp.CSS(`body[data-live="on"]`)),
			chromedp.Evaluate[chromedp.Void](`window.__notes = []`))
		uid := "1795836300.0"
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The route names its line's company: Gosub(odoo-incoming,s,1(<id>)).
		if _, err := (agitest.Call{Script: "incoming", Args: []string{"", strconv.Itoa(france)},
			Env: map[string]string{"callerid": "025551234", "uniqueid": uid}}).Run(cctx, w.d.AGIAddr()); err != nil {
			t.Fatal(err)
		}
		trunk := amitest.Chan{Name: "PJSIP/trunk-00000000", State: 4, CallerIDNum: "025551234", Uniqueid: uid, Linkedid: uid}
		phone := amitest.Chan{Name: "PJSIP/101-00000001", CallerIDNum: "101", Uniqueid: uid + "1", Linkedid: uid}
		w.pbx.EmitDialBegin(trunk, phone, "101")
		sel := fmt.Sprintf(`article[data-call="%s"].ringing`, uid)
		do(t, ctx, "wait for the card", chromedp.WaitVisible(chromedp.CSS(sel)))
		if meta := get(t, ctx, "read the card's details", chromedp.Text(chromedp.CSS(sel+" .meta"))); !strings.Contains(meta, "to ACME France") {
			t.Errorf("the card's details: %q; want the line's company", meta)
		}
		notes := get(t, ctx, "read the notifications", chromedp.Evaluate[[]map[string]string](`window.__notes`))
		if len(notes) != 1 || !strings.Contains(notes[0]["body"], "to ACME France") {
			t.Errorf("notifications: %v", notes)
		}
		w.pbx.EmitHangup(trunk, 16, "Normal Clearing")
	})

	t.Run("a cross-origin POST is refused", func(t *testing.T) {
		before := len(w.pbx.Originates())
		evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(rw, `<!doctype html><body><script>
Promise.allSettled([
  fetch(%q, {method: "POST", mode: "no-cors", credentials: "include", headers: {"Content-Type": "text/plain"}, body: '{"user":"john","number":"0475123456"}'}),
  fetch(%q, {method: "POST", mode: "no-cors", credentials: "include", headers: {"Content-Type": "application/json"}, body: '{"number":"0475123456"}'}),
]).then(() => { document.body.dataset.sent = "yes"; });
</script></body>`, w.url+"/api/v1/originate", w.url+"/api/v1/originate")
		}))
		defer evil.Close()
		do(t, ctx, "visit another origin", chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.CSS(`body[data-sent="yes"]`)))
		time.Sleep(200 * time.Millisecond)
		if n := len(w.pbx.Originates()); n != before {
			t.Errorf("a page on %s placed %d calls", evil.URL, n-before)
		}
	})
}

// incoming plays the FastAGI session of an incoming call from ACME, as
// Asterisk runs it before dialing the phone, and returns the channels.
func (w *phoneWorld) incoming(t *testing.T, uid string) (trunk, phone amitest.Chan) {
	t.Helper()
	return w.incomingFrom(t, uid, "025551234")
}

// incomingFrom is incoming from another number.
func (w *phoneWorld) incomingFrom(t *testing.T, uid, number string) (trunk, phone amitest.Chan) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := (agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": number, "uniqueid": uid,
		"channel": "PJSIP/trunk-00000000"}}).Run(ctx, w.d.AGIAddr()); err != nil {
		t.Fatal(err)
	}
	trunk = amitest.Chan{Name: "PJSIP/trunk-00000000", State: 4, CallerIDNum: number, CallerIDName: "Carrier",
		Context: "from-trunk", Exten: "3220000000", Priority: 4, Uniqueid: uid, Linkedid: uid}
	phone = amitest.Chan{Name: "PJSIP/101-00000001", CallerIDNum: "101", CallerIDName: "John", Context: "from-internal",
		Uniqueid: uid + "1", Linkedid: uid}
	return trunk, phone
}

// TestScreenshotsOfThePhonePage writes the README's screenshots when
// ODOO_AGI_SCREENSHOTS names a folder: a laptop and a phone-sized window.
func TestScreenshotsOfThePhonePage(t *testing.T) {
	dir := os.Getenv("ODOO_AGI_SCREENSHOTS")
	if dir == "" {
		t.Skip("set ODOO_AGI_SCREENSHOTS to a folder to write the README's screenshots")
	}
	w := newPhoneWorld(t)
	ctx := browse(t)
	signIn(t, ctx, w)
	do(t, ctx, "call out", chromedp.Navigate(w.url+"/dial?to=tel%3A%2B3225551234"), chromedp.WaitVisible(chromedp.CSS("#call button")),
		chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(`#progress[data-status="answered"]`)))
	do(t, ctx, "open the phone page", chromedp.Navigate(w.url+"/"), chromedp.WaitVisible(chromedp.ID("live")))
	time.Sleep(300 * time.Millisecond)
	trunk, phone := w.incoming(t, "1795836100.0")
	w.pbx.EmitDialBegin(trunk, phone, "101")
	w.pbx.EmitDialEnd(trunk, phone, "NOANSWER")
	w.pbx.EmitHangup(trunk, 16, "Normal Clearing")
	trunk, phone = w.incoming(t, "1795836101.0")
	w.pbx.EmitDialBegin(trunk, phone, "101")
	trunk, phone = w.incomingFrom(t, "1795836102.0", "0476 55 44 33")
	w.pbx.EmitDialBegin(trunk, phone, "101")
	do(t, ctx, "the cards", chromedp.WaitVisible(chromedp.CSS(`article[data-call="1795836101.0"]`)),
		chromedp.WaitVisible(chromedp.CSS(`article[data-call="1795836102.0"] form.create`)))
	for _, size := range []struct {
		name string
		w, h int64
	}{{"phone-page.png", 1100, 720}, {"phone-page-mobile.png", 390, 844}} {
		do(t, ctx, "resize", chromedp.EmulateViewport(size.w, size.h))
		time.Sleep(200 * time.Millisecond)
		os.WriteFile(filepath.Join(dir, size.name), get(t, ctx, "screenshot", chromedp.CaptureScreenshot()), 0o644)
	}
}

// TestATelLinkInOdooDialsThroughTheHandlerAndOneElsewhereDoesNot: with
// confirm_dial = false, a tel: link clicked in Odoo (another origin) and
// opened through the registered handler dials at once; the same URL opened
// from a third site shows the Call button and places nothing.
func TestATelLinkInOdooDialsThroughTheHandlerAndOneElsewhereDoesNot(t *testing.T) {
	link := func(href string) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(rw, `<!doctype html><body><a id="tel" href="%s">+32 2 555 12 34</a></body>`, href)
		}
	}
	odooPage := httptest.NewServer(link("tel:+3225551234"))
	defer odooPage.Close()
	// Odoo is addressed as localhost, the phone page as 127.0.0.1: two sites.
	odooOrigin := strings.Replace(odooPage.URL, "127.0.0.1", "localhost", 1)
	w := newPhoneWorldWeb(t, fmt.Sprintf("odoo_url = %q\nconfirm_dial = false", odooOrigin))
	evilLn, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address for a third site: %v", err)
	}
	evil := &httptest.Server{Listener: evilLn, Config: &http.Server{Handler: link(w.url + "/dial?to=tel%3A%2B3225551234")}}
	evil.Start()
	defer evil.Close()

	ctx := browse(t)
	var mu sync.Mutex
	var sent []map[string]any // the headers of each navigation to /dial
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSentExtraInfo); ok {
			if e.Headers["Sec-Fetch-Dest"] == "document" {
				mu.Lock()
				sent = append(sent, e.Headers)
				mu.Unlock()
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, w)
	do(t, ctx, "register the tel: handler",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.SetRPHRegistrationMode, page.SetRPHRegistrationModeParams{Mode: page.SetRPHRegistrationModeModeAutoAccept})
			return err
		}),
		chromedp.Click(chromedp.ID("tel")),
		chromedp.WaitVisible(chromedp.CSS(`#hint`)))

	do(t, ctx, "click the tel: link in Odoo",
		chromedp.Navigate(odooOrigin+"/"),
		chromedp.Click(chromedp.ID("tel")),
		chromedp.WaitVisible(chromedp.CSS(`#progress[data-status="answered"]`)))
	if o := w.pbx.Originates(); len(o) != 1 || o[0].Var("ODOO_DIAL_NUMBER") != "025551234" {
		t.Fatalf("%d Originates after the click in Odoo: %+v", len(o), o)
	}
	mu.Lock()
	t.Logf("a handler launch from Odoo sends: %v", dialHeaders(sent))
	mu.Unlock()

	do(t, ctx, "follow the same link from another site",
		chromedp.Navigate(evil.URL+"/"),
		chromedp.Click(chromedp.ID("tel")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="dial"][data-autodial="false"] #call button`)))
	if n := len(w.pbx.Originates()); n != 1 {
		t.Errorf("a link on another site placed %d calls", n-1)
	}
	mu.Lock()
	t.Logf("a link on another site sends: %v", dialHeaders(sent))
	mu.Unlock()
}

// dialHeaders keeps the headers that decide auto-dial, of the last navigation.
func dialHeaders(sent []map[string]any) map[string]any {
	out := map[string]any{}
	if len(sent) == 0 {
		return out
	}
	for _, k := range []string{"Sec-Fetch-Site", "Sec-Fetch-User", "Referer", ":path"} {
		if v, ok := sent[len(sent)-1][k]; ok {
			out[k] = v
		}
	}
	return out
}
