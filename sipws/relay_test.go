package sipws_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/odoo-agi/odoo-agi/sipws"
	"github.com/odoo-agi/odoo-agi/sipws/sipwstest"
)

// world is a relay for the session of endpoint webrtc_101, in front of an
// emulated Asterisk that knows webrtc_101 and webrtc_102.
type world struct {
	ast   *sipwstest.Server
	relay *sipws.Relay
	url   string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ast, err := sipwstest.Start(map[string]string{"webrtc_101": "secret-101-long", "webrtc_102": "secret-102-long"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ast.Close)
	rl := &sipws.Relay{Upstream: ast.URL()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rl.Serve(r.Context(), w, r, "webrtc_101")
	}))
	t.Cleanup(srv.Close)
	return &world{ast: ast, relay: rl, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

func dial(t *testing.T, url string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// exchange sends one SIP message and returns the next one that comes back.
func exchange(t *testing.T, c *websocket.Conn, msg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("no answer to\n%s: %v", msg, err)
	}
	return string(b)
}

func register(from, to, callID string) string {
	return fmt.Sprintf(`REGISTER sip:127.0.0.1 SIP/2.0
Via: SIP/2.0/WS nb5mg1t3bqck.invalid;branch=z9hG4bK%s
To: <sip:%s@127.0.0.1>
From: <sip:%s@127.0.0.1>;tag=q932j3qpaq
CSeq: 2 REGISTER
Call-ID: %s
Max-Forwards: 70
Contact: <sip:7cdnhrca@nb5mg1t3bqck.invalid;transport=ws>;expires=300
Content-Length: 0

`, callID, to, from, callID)
}

func TestTheRelayPassesItsOwnEndpointToAsterisk(t *testing.T) {
	w := newWorld(t)
	c := dial(t, w.url, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if c.Subprotocol() != "sip" {
		t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	// Asterisk challenges: the relay passed the REGISTER through.
	if got := exchange(t, c, register("webrtc_101", "webrtc_101", "reg1")); !strings.HasPrefix(got, "SIP/2.0 401") || !strings.Contains(got, "WWW-Authenticate: Digest") {
		t.Fatalf("want Asterisk's 401, got\n%s", got)
	}
	if st := w.relay.Stats(); st.Open != 1 || st.Messages != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestTheRelayRefusesAnyOtherIdentity(t *testing.T) {
	w := newWorld(t)
	c := dial(t, w.url, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	cases := []struct{ name, msg, reason string }{
		{"REGISTER as another endpoint", register("webrtc_102", "webrtc_102", "a1"), sipws.ReasonIdentity},
		{"REGISTER with our From and another To", register("webrtc_101", "webrtc_102", "a2"), sipws.ReasonIdentity},
		{"INVITE as another endpoint", `INVITE sip:600@127.0.0.1 SIP/2.0
Via: SIP/2.0/WS x.invalid;branch=z9hG4bKinv1
From: <sip:webrtc_102@127.0.0.1>;tag=abc
To: <sip:600@127.0.0.1>
Call-ID: inv1
CSeq: 1 INVITE
Max-Forwards: 70
Content-Length: 0

`, sipws.ReasonIdentity},
		{"a BYE in a dialog this socket never had", `BYE sip:asterisk@pbx.test:5060;transport=ws SIP/2.0
Via: SIP/2.0/WS x.invalid;branch=z9hG4bKbye1
From: <sip:webrtc_102@127.0.0.1>;tag=abc
To: <sip:600@127.0.0.1>;tag=def
Call-ID: someone-elses-call
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

`, sipws.ReasonDialog},
	}
	for _, tc := range cases {
		before := w.relay.Stats().Refused[tc.reason]
		if got := exchange(t, c, tc.msg); !strings.HasPrefix(got, "SIP/2.0 403") {
			t.Errorf("%s: want 403 from the relay, got\n%s", tc.name, got)
		}
		if after := w.relay.Stats().Refused[tc.reason]; after != before+1 {
			t.Errorf("%s: %s refusals %d → %d", tc.name, tc.reason, before, after)
		}
	}
	if got := w.ast.Refused(); len(got) != 0 {
		t.Errorf("Asterisk saw what the relay refused: %v", got)
	}
	// The socket still works for the session's own endpoint.
	if got := exchange(t, c, register("webrtc_101", "webrtc_101", "a3")); !strings.HasPrefix(got, "SIP/2.0 401") {
		t.Errorf("after the refusals, the own REGISTER got\n%s", got)
	}
}

func TestTheRelayRefusesAnotherOriginAndNoSubprotocol(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, w.url, &websocket.DialOptions{Subprotocols: []string{"sip"}, HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("another origin: %v, %v", err, res)
	}
	_, res, err = websocket.Dial(ctx, w.url, nil)
	if err == nil || res == nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("no subprotocol: %v, %v (Asterisk answers 400)", err, res)
	}
	st := w.relay.Stats()
	if st.Refused[sipws.ReasonOrigin] != 1 || st.Refused[sipws.ReasonSubprotocol] != 1 || st.Open != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestTheEmulatorRefusesAsAsteriskDoes(t *testing.T) {
	ast, err := sipwstest.Start(map[string]string{"webrtc_101": "secret-101-long"})
	if err != nil {
		t.Fatal(err)
	}
	defer ast.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, res, err := websocket.Dial(ctx, ast.URL(), nil); err == nil || res.StatusCode != 400 {
		t.Errorf("no subprotocol: %v %v", err, res)
	}
	if _, res, err := websocket.Dial(ctx, strings.Replace(ast.URL(), "/ws", "/other", 1), &websocket.DialOptions{Subprotocols: []string{"sip"}}); err == nil || res.StatusCode != 404 {
		t.Errorf("another path: %v %v", err, res)
	}
	c := dial(t, ast.URL(), &websocket.DialOptions{Subprotocols: []string{"sip"}, HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
	if got := exchange(t, c, register("webrtc_101", "webrtc_101", "e1")); !strings.HasPrefix(got, "SIP/2.0 401") {
		t.Errorf("Asterisk checks no origin and challenges: %s", got)
	}
}

func TestTheRelayPingsTheBrowserAndClosesADeadSocket(t *testing.T) {
	w := newWorld(t)
	w.relay.PingEvery, w.relay.PingTimeout = 20*time.Millisecond, 100*time.Millisecond
	alive := dial(t, w.url, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	go func() { // a browser answers pings while it reads
		for {
			if _, _, err := alive.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	dead := dial(t, w.url, &websocket.DialOptions{Subprotocols: []string{"sip"}}) // never reads: no pong
	_ = dead
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for w.relay.Stats().Open != 1 {
		if ctx.Err() != nil {
			t.Fatalf("the dead socket was not closed: %+v", w.relay.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The live one answered ten pings or more and is still relayed.
	time.Sleep(10 * w.relay.PingEvery)
	if st := w.relay.Stats(); st.Open != 1 {
		t.Errorf("the answering socket was closed too: %+v", st)
	}
}
