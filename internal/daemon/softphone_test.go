package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/odoo-agi/odoo-agi/internal/browsertest"
	"github.com/odoo-agi/odoo-agi/sipws"
	"github.com/odoo-agi/odoo-agi/sipws/sipwstest"
)

// The softphone in a real Chromium, with fake media, through serve's /sip
// relay to an emulated Asterisk that answers with DTLS-SRTP and a tone.

func softphoneWorld(t *testing.T) (*phoneWorld, *sipwstest.Server) {
	t.Helper()
	ast, err := sipwstest.Start(map[string]string{"webrtc_101": "webrtc-101-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ast.Close)
	w := newPhoneWorldWeb(t, `odoo_url = "https://odoo.example.com"`,
		fmt.Sprintf("[webrtc]\nasterisk_ws = %q", ast.URL()),
		"webrtc = \"webrtc_101\"\nwebrtc_secret = \"webrtc-101-secret\"")
	return w, ast
}

// browseMedia is a browser with fake media (browsertest.Media).
func browseMedia(t *testing.T) context.Context {
	return browse(t, browsertest.Media...)
}

// until polls cond against the emulator's changes for up to 15 s.
func until(t *testing.T, ast *sipwstest.Server, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := ast.Wait(ctx, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

type rtpStats struct {
	Received  int  `json:"received"`
	Sent      int  `json:"sent"`
	Connected bool `json:"connected"`
}

// logConsole copies the page's console and uncaught errors to the test log.
func logConsole(t *testing.T, ctx context.Context) {
	chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			t.Logf("console.%s: %s", e.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			t.Logf("page error: %s %v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception.Description)
		}
	})
}

func TestTheSoftphoneInABrowser(t *testing.T) {
	w, ast := softphoneWorld(t)
	ctx := browseMedia(t)
	logConsole(t, ctx)
	start := time.Now()
	signIn(t, ctx, w)
	do(t, ctx, "the softphone registers", chromedp.WaitVisible(chromedp.CSS(`#softphone[data-state="registered"]`)))
	t.Logf("sign-in to registered: %v in the test, %v ms from the sign-in's submit in the page",
		time.Since(start).Round(time.Millisecond), get(t, ctx, "read the timing", chromedp.Evaluate[int](`window.odooSoftphone.timing.registered`)))
	if !ast.Registered("webrtc_101") {
		t.Fatal("the page says registered, Asterisk has no contact")
	}
	audioFlows := func(what string) rtpStats {
		t.Helper()
		var first rtpStats
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := get(t, ctx, "read getStats", chromedp.Evaluate[rtpStats](`window.odooSoftphone.stats()`, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
			if first.Received == 0 {
				first = st
			} else if st.Connected && st.Received > first.Received {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no audio from Asterisk: %+v", what, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	t.Run("a call out, with audio, keys, mute, hold, transfer and hangup", func(t *testing.T) {
		start := time.Now()
		do(t, ctx, "dial 600", chromedp.SendKeys(chromedp.ID("number"), "600"), chromedp.Click(chromedp.CSS("#dial button")),
			chromedp.WaitVisible(chromedp.ID("sp-hangup")))
		until(t, ast, "the call to be up", func() bool {
			c := ast.Calls()
			return len(c) == 1 && c[0].Snapshot().State == "up"
		})
		call := ast.Calls()[0]
		if call.Number != "600" || call.Endpoint != "webrtc_101" {
			t.Errorf("Asterisk got a call from %s to %s", call.Endpoint, call.Number)
		}
		audioFlows("call out")
		t.Logf("Call to audio received: %v", time.Since(start).Round(time.Millisecond))
		until(t, ast, "the browser's audio at Asterisk", func() bool { return call.Snapshot().AudioPackets > 25 })

		do(t, ctx, "press 1, 2, #", chromedp.Click(chromedp.ID("sp-keys")), chromedp.Click(chromedp.CSS(`[data-key="1"]`)),
			chromedp.Click(chromedp.CSS(`[data-key="2"]`)), chromedp.Click(chromedp.CSS(`[data-key="#"]`)))
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ast.Wait(wctx, func() bool { return call.Snapshot().Digits == "12#" })
		cancel()
		if s := call.Snapshot(); s.Digits != "12#" {
			t.Fatalf("digits %q\noffer:\n%s\nanswer:\n%s", s.Digits, s.Offer, s.Answer)
		}

		do(t, ctx, "mute", chromedp.Click(chromedp.ID("sp-mute")), chromedp.WaitVisible(chromedp.CSS(`#sp-mute[aria-pressed="true"]`)))
		muted := call.Snapshot()
		until(t, ast, "silence from a muted microphone", func() bool {
			s := call.Snapshot()
			return s.AudioPackets-muted.AudioPackets > 50 && s.SilentPackets-muted.SilentPackets >= s.AudioPackets-muted.AudioPackets-2
		})
		do(t, ctx, "unmute", chromedp.Click(chromedp.ID("sp-mute")))

		do(t, ctx, "hold", chromedp.Click(chromedp.ID("sp-hold")))
		until(t, ast, "a hold re-INVITE", func() bool { s := call.Snapshot(); return s.OnHold && s.Holds == 1 })
		do(t, ctx, "resume", chromedp.Click(chromedp.ID("sp-hold")))
		until(t, ast, "the resume re-INVITE", func() bool { return !call.Snapshot().OnHold })

		do(t, ctx, "transfer to 102", chromedp.SendKeys(chromedp.CSS(`#sp-transfer input`), "102"), chromedp.Click(chromedp.CSS(`#sp-transfer button`)))
		until(t, ast, "a REFER", func() bool { return len(call.Snapshot().Transfers) == 1 })
		if to := call.Snapshot().Transfers[0]; !strings.Contains(to, "sip:102@") {
			t.Errorf("Refer-To %q", to)
		}

		do(t, ctx, "hang up", chromedp.Click(chromedp.ID("sp-hangup")), chromedp.WaitNotVisible(chromedp.ID("sp-call")))
		until(t, ast, "the BYE", func() bool { s := call.Snapshot(); return s.State == "hung up" && s.HungUpBy == "browser" })
	})

	t.Run("a call in, answered on the page, hung up by the other side", func(t *testing.T) {
		call, err := ast.Call(context.Background(), "webrtc_101", "+3225551234", "ACME SA")
		if err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "the page rings", chromedp.WaitVisible(chromedp.ID("sp-answer")), chromedp.WaitNotVisible(chromedp.ID("sp-hangup")))
		if who := get(t, ctx, "read the card", chromedp.Text(chromedp.ID("sp-who"))); who != "ACME SA" {
			t.Errorf("the card says %q", who)
		}
		until(t, ast, "180 Ringing", func() bool { return call.Snapshot().Rang })
		do(t, ctx, "answer", chromedp.Click(chromedp.ID("sp-answer")), chromedp.WaitVisible(chromedp.ID("sp-hangup")),
			chromedp.WaitNotVisible(chromedp.ID("sp-answer")), chromedp.WaitNotVisible(chromedp.ID("sp-decline")))
		until(t, ast, "the call to be up", func() bool { return call.Snapshot().State == "up" })
		audioFlows("call in")
		if err := call.Hangup(context.Background()); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "the page ends the call", chromedp.WaitNotVisible(chromedp.ID("sp-call")))
	})

	t.Run("a tel: link opened in another tab calls through this tab's softphone", func(t *testing.T) {
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		before := len(ast.Calls())
		do(t, tab, "open the tel: link", chromedp.Navigate(w.url+"/dial?to=tel%3A%2B3225551234"),
			chromedp.Click(chromedp.CSS("#call button")),
			chromedp.WaitVisible(chromedp.CSS(`#progress.ok`)))
		until(t, ast, "the call from the phone tab", func() bool { return len(ast.Calls()) == before+1 })
		call := ast.Calls()[before]
		if call.Number != "025551234" || len(w.pbx.Originates()) != 0 {
			t.Errorf("the softphone dialed %q; %d Originates", call.Number, len(w.pbx.Originates()))
		}
		do(t, ctx, "hang up in the phone tab", chromedp.Click(chromedp.ID("sp-hangup")), chromedp.WaitNotVisible(chromedp.ID("sp-call")))
	})

	t.Run("ring my desk phone: the dial box places an AMI Originate instead", func(t *testing.T) {
		before := len(ast.Calls())
		do(t, ctx, "choose the desk phone", chromedp.SetValue(chromedp.ID("sp-mode"), "desk"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("sp-mode").dispatchEvent(new Event("change"))`),
			chromedp.SetValue(chromedp.ID("number"), "0475123456"), chromedp.Click(chromedp.CSS("#dial button")),
			chromedp.WaitVisible(chromedp.CSS(`#progress[data-status="answered"]`)))
		if o := w.pbx.Originates(); len(o) != 1 || len(ast.Calls()) != before {
			t.Errorf("%d Originates, %d softphone calls", len(o), len(ast.Calls())-before)
		}
		do(t, ctx, "back to ring here", chromedp.SetValue(chromedp.ID("sp-mode"), "here"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("sp-mode").dispatchEvent(new Event("change"))`))
	})

	t.Run("signing out closes the socket and Asterisk drops the contact", func(t *testing.T) {
		do(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`.bar form button`)), chromedp.WaitVisible(chromedp.ID("login")))
		until(t, ast, "the contact to go", func() bool { return !ast.Registered("webrtc_101") })
	})
	if refused := ast.Refused(); slices.ContainsFunc(refused, func(r string) bool { return !strings.HasPrefix(r, "401") }) {
		t.Errorf("Asterisk refused: %v", refused)
	}
}

// TestTheSIPSocketRefusesWhatIsNotTheSessionsOwn drives /sip from Go, as
// an attacker would: no session, another origin, and another endpoint.
func TestTheSIPSocketRefusesWhatIsNotTheSessionsOwn(t *testing.T) {
	w, ast := softphoneWorld(t)
	ws := "ws" + strings.TrimPrefix(w.url, "http") + "/sip"
	refused := func(reason string) int64 { return w.d.SIP.Stats().Refused[reason] }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, res, err := websocket.Dial(ctx, ws, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err == nil || res.StatusCode != http.StatusUnauthorized || refused(sipws.ReasonSession) != 1 {
		t.Errorf("signed out: %v, %v, %d counted", err, res, refused(sipws.ReasonSession))
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := client.PostForm(w.url+"/login", url.Values{"login": {"john"}, "password": {"john-password"}})
	if err != nil || r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %v %v", err, r)
	}
	r.Body.Close()
	cookie := http.Header{"Cookie": {r.Header.Get("Set-Cookie")}}

	if r, _ := client.Get(w.url + "/sip/config"); r.StatusCode != http.StatusForbidden {
		t.Errorf("/sip/config without the CSRF token: %d", r.StatusCode)
	}

	evil := cookie.Clone()
	evil.Set("Origin", "http://evil.example")
	_, res, err = websocket.Dial(ctx, ws, &websocket.DialOptions{Subprotocols: []string{"sip"}, HTTPHeader: evil})
	if err == nil || res.StatusCode != http.StatusForbidden || refused(sipws.ReasonOrigin) != 1 {
		t.Errorf("another origin: %v, %v, %d counted", err, res, refused(sipws.ReasonOrigin))
	}

	c, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{Subprotocols: []string{"sip"}, HTTPHeader: cookie})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	reg := "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKr1\r\nTo: <sip:webrtc_102@127.0.0.1>\r\n" +
		"From: <sip:webrtc_102@127.0.0.1>;tag=a\r\nCSeq: 1 REGISTER\r\nCall-ID: r1\r\nMax-Forwards: 70\r\n" +
		"Contact: <sip:x@x.invalid;transport=ws>\r\nContent-Length: 0\r\n\r\n"
	c.Write(ctx, websocket.MessageText, []byte(reg))
	if _, b, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(b), "SIP/2.0 403") || refused(sipws.ReasonIdentity) != 1 {
		t.Errorf("john registering as webrtc_102: %q %v, %d counted", b, err, refused(sipws.ReasonIdentity))
	}
	if len(ast.Refused()) != 0 || ast.Registered("webrtc_102") {
		t.Errorf("Asterisk saw it: %v", ast.Refused())
	}
	r, err = http.Get(w.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, want := range []string{`odoo_agi_sip_refused_total{reason="identity"} 1`, `odoo_agi_sip_refused_total{reason="session"} 1`, "odoo_agi_sip_sockets 1"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

// TestScreenshotOfTheSoftphone writes docs/softphone.png when asked: a call
// from ACME SA answered in the page, its card beside it.
func TestScreenshotOfTheSoftphone(t *testing.T) {
	dir := os.Getenv("ODOO_AGI_SCREENSHOTS")
	if dir == "" {
		t.Skip("set ODOO_AGI_SCREENSHOTS to a folder to write the README's screenshots")
	}
	w, ast := softphoneWorld(t)
	ctx := browseMedia(t)
	signIn(t, ctx, w)
	do(t, ctx, "registered", chromedp.WaitVisible(chromedp.CSS(`#softphone[data-state="registered"]`)))
	trunk, phone := w.incoming(t, "1795836102.0")
	w.pbx.EmitDialBegin(trunk, phone, "101")
	if _, err := ast.Call(context.Background(), "webrtc_101", "+3225551234", "ACME SA"); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "answer", chromedp.Click(chromedp.ID("sp-answer")), chromedp.WaitVisible(chromedp.ID("sp-hangup")),
		chromedp.Click(chromedp.ID("sp-keys")))
	w.pbx.EmitDialEnd(trunk, phone, "ANSWER")
	do(t, ctx, "the card", chromedp.WaitVisible(chromedp.CSS(`article[data-call="1795836102.0"].answered`)), chromedp.EmulateViewport(1100, 760))
	time.Sleep(300 * time.Millisecond) // the card's entrance animation
	os.WriteFile(filepath.Join(dir, "softphone.png"), get(t, ctx, "screenshot", chromedp.CaptureScreenshot()), 0o644)
}
