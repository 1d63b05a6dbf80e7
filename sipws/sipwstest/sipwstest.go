// Package sipwstest is an Asterisk 22 WebRTC endpoint on loopback, for
// tests: its HTTP server's /ws takes SIP over WebSocket with the "sip"
// subprotocol, challenges REGISTER and INVITE with MD5 digest, keeps one
// contact per socket, answers and places calls with real DTLS-SRTP media
// (pion), plays a tone, and records what the browser did: digits (RFC
// 4733), holds, transfers (REFER), hangups. It follows docs/webrtc-wire.md
// (the measured facts), refusals included.
package sipwstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Host is the name Asterisk puts in its own From and Contact (the
// machine's host name on a real PBX).
const Host = "pbx.test"

// Server is the emulated Asterisk.
type Server struct {
	// Endpoints maps each endpoint (its AOR and auth username) to its
	// password. Set before the first connection.
	Endpoints map[string]string

	ln   net.Listener
	http *http.Server

	mu       sync.Mutex
	contacts map[string]*contact // AOR → the registered flow
	calls    []*Call
	refused  []string // why requests were refused: "401", "404 aor", …
	nonces   map[string]bool
	wait     chan struct{} // closed and replaced on every change
}

type contact struct {
	user string // the random contact user the browser registered
	conn *conn
}

type conn struct {
	s  *Server
	ws *websocket.Conn
	// pending client transactions of Asterisk's own requests, by branch.
	mu      sync.Mutex
	pending map[string]chan *sip.Response
}

// Start listens on 127.0.0.1:0.
func Start(endpoints map[string]string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoints: endpoints, ln: ln, contacts: map[string]*contact{}, nonces: map[string]bool{}, wait: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", s.serveWS)
	mux.HandleFunc("/", http.NotFound)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.http.Serve(ln)
	return s, nil
}

// URL is the WebSocket address, as [webrtc] asterisk_ws takes it.
func (s *Server) URL() string { return "ws://" + s.ln.Addr().String() + "/ws" }

// Close stops the server and every call.
func (s *Server) Close() {
	s.http.Close()
	s.mu.Lock()
	calls := append([]*Call(nil), s.calls...)
	s.mu.Unlock()
	for _, c := range calls {
		c.closeMedia()
	}
}

func (s *Server) changed() {
	close(s.wait)
	s.wait = make(chan struct{})
}

// Wait blocks until cond holds, checking it after every change, or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.wait
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-time.After(50 * time.Millisecond): // media counters change without a signal
		}
	}
}

// Registered reports whether aor has a contact.
func (s *Server) Registered(aor string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contacts[aor] != nil
}

// Refused lists the refusals so far, e.g. "404 REGISTER webrtc_102".
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// Calls lists every call so far.
func (s *Server) Calls() []*Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Call(nil), s.calls...)
}

// serveWS is Asterisk's res_http_websocket on /ws: no subprotocol, or an
// unknown one, is a 400; Origin and Host are not checked.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	offered := false
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			offered = offered || strings.TrimSpace(p) == "sip"
		}
	}
	if !offered {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"sip"}, InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	c := &conn{s: s, ws: ws, pending: map[string]chan *sip.Response{}}
	ctx := context.Background()
	defer s.dropContacts(c)
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			continue
		}
		switch m := msg.(type) {
		case *sip.Response:
			c.response(m)
		case *sip.Request:
			s.request(ctx, c, m)
		}
	}
}

// dropContacts is "Removed contact … due to shutdown": a closed socket
// takes its contacts with it, and its calls stay up (no BYE).
func (s *Server) dropContacts(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for aor, ct := range s.contacts {
		if ct.conn == c {
			delete(s.contacts, aor)
		}
	}
	s.changed()
}

func (c *conn) send(ctx context.Context, m sip.Message) error {
	return c.ws.Write(ctx, websocket.MessageText, []byte(m.String()))
}

func (c *conn) response(res *sip.Response) {
	via := res.Via()
	if via == nil {
		return
	}
	branch, _ := via.Params.Get("branch")
	c.mu.Lock()
	ch := c.pending[branch]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- res:
		default:
		}
	}
}

func (s *Server) refuse(why string) {
	s.mu.Lock()
	s.refused = append(s.refused, why)
	s.changed()
	s.mu.Unlock()
}

func token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func reply(ctx context.Context, c *conn, req *sip.Request, code int, reason string, body []byte, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, body)
	if to := res.To(); to != nil {
		if _, ok := to.Params.Get("tag"); !ok && code > 100 {
			to.Params.Add("tag", tagFor(req))
		}
	}
	for _, h := range headers {
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Server", "Asterisk PBX (odoo-agi emulator)"))
	c.send(ctx, res)
}

// tagFor gives every response to one transaction the same To tag.
func tagFor(req *sip.Request) string {
	if via := req.Via(); via != nil {
		if b, ok := via.Params.Get("branch"); ok {
			return strings.TrimPrefix(b, "z9hG4bK")
		}
	}
	return "t" + token(4)
}

// authenticate is res_pjsip's digest check. The endpoint is the From
// user (endpoint_identifier_order = username); the username must be that
// endpoint's. It answers the 401 itself and returns "" when it did.
func (s *Server) authenticate(ctx context.Context, c *conn, req *sip.Request) string {
	user := req.From().Address.User
	h := req.GetHeader("Authorization")
	s.mu.Lock()
	password, ok := s.Endpoints[user]
	s.mu.Unlock()
	if h != nil && ok {
		cred, err := digest.ParseCredentials(h.Value())
		s.mu.Lock()
		fresh := err == nil && s.nonces[cred.Nonce]
		s.mu.Unlock()
		if fresh && cred.Username == user {
			want, err := digest.Digest(&digest.Challenge{Realm: "asterisk", Nonce: cred.Nonce, Opaque: cred.Opaque, Algorithm: "MD5", QOP: []string{"auth"}},
				digest.Options{Method: string(req.Method), URI: cred.URI, Username: user, Password: password, Cnonce: cred.Cnonce, Count: cred.Nc})
			if err == nil && want.Response == cred.Response {
				return user
			}
		}
		s.refuse("401 " + string(req.Method) + " " + user)
	}
	nonce := token(16)
	s.mu.Lock()
	s.nonces[nonce] = true
	s.mu.Unlock()
	reply(ctx, c, req, 401, "Unauthorized", nil, sip.NewHeader("WWW-Authenticate",
		fmt.Sprintf(`Digest realm="asterisk",nonce="%s",opaque="%s",algorithm=MD5,qop="auth"`, nonce, token(8))))
	return ""
}

func (s *Server) request(ctx context.Context, c *conn, req *sip.Request) {
	_, inDialog := req.To().Params.Get("tag")
	switch {
	case req.Method == sip.REGISTER:
		s.register(ctx, c, req)
	case req.Method == sip.INVITE && !inDialog:
		s.invite(ctx, c, req)
	case req.Method == sip.ACK:
	case req.Method == sip.OPTIONS:
		reply(ctx, c, req, 200, "OK", nil)
	case !inDialog && req.Method != sip.CANCEL:
		reply(ctx, c, req, 403, "Forbidden", nil)
	default:
		call := s.callByID(req.CallID().Value())
		if call == nil {
			reply(ctx, c, req, 481, "Call/Transaction Does Not Exist", nil)
			return
		}
		call.inDialog(ctx, c, req)
	}
}

func (s *Server) register(ctx context.Context, c *conn, req *sip.Request) {
	user := s.authenticate(ctx, c, req)
	if user == "" {
		return
	}
	aor := req.To().Address.User
	if aor != user { // the AOR is not in the endpoint's aors
		s.refuse("404 REGISTER " + aor)
		reply(ctx, c, req, 404, "Not Found", nil)
		return
	}
	ct := req.Contact()
	expires := 300
	if ct != nil {
		if v, ok := ct.Params.Get("expires"); ok {
			expires, _ = strconv.Atoi(v)
		}
	}
	if h := req.GetHeader("Expires"); h != nil {
		expires, _ = strconv.Atoi(h.Value())
	}
	s.mu.Lock()
	if expires == 0 || ct == nil {
		delete(s.contacts, aor)
	} else {
		s.contacts[aor] = &contact{user: ct.Address.User, conn: c}
	}
	s.changed()
	s.mu.Unlock()
	var hs []sip.Header
	if ct != nil {
		hs = append(hs, sip.NewHeader("Contact", fmt.Sprintf("<%s>;expires=%d", ct.Address.String(), max(expires-1, 0))))
	}
	reply(ctx, c, req, 200, "OK", nil, hs...)
}

func (s *Server) callByID(id string) *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// invite is a call from the browser: challenged, then answered at once
// with a tone (as Dial to Milliwatt would).
func (s *Server) invite(ctx context.Context, c *conn, req *sip.Request) {
	user := s.authenticate(ctx, c, req)
	if user == "" {
		return
	}
	reply(ctx, c, req, 100, "Trying", nil)
	call, err := s.newCall(c, req.CallID().Value(), "out", user, req.Recipient.User)
	if err != nil {
		reply(ctx, c, req, 488, "Not Acceptable Here", nil)
		return
	}
	call.remoteTag, _ = req.From().Params.Get("tag")
	call.localTag = tagFor(req)
	answer, err := call.answer(req.Body())
	if err != nil {
		call.closeMedia()
		reply(ctx, c, req, 488, "Not Acceptable Here", nil)
		return
	}
	call.invite = req
	reply(ctx, c, req, 200, "OK", answer,
		sip.NewHeader("Contact", "<sip:"+s.ln.Addr().String()+";transport=ws>"),
		sip.NewHeader("Content-Type", "application/sdp"))
	call.set(func(c *Call) { c.State = "up" })
}

func (s *Server) newCall(c *conn, id, direction, endpoint, number string) (*Call, error) {
	call := &Call{ID: id, Direction: direction, Endpoint: endpoint, Number: number, State: "ringing", s: s, conn: c, startTone: make(chan struct{})}
	if err := call.newPeer(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.changed()
	s.mu.Unlock()
	return call, nil
}

// ErrNotRegistered is Dial to an AOR with no contact: CHANUNAVAIL.
var ErrNotRegistered = errors.New("sipwstest: the endpoint has no registered contact")

// Call rings endpoint's browser, as Dial(PJSIP/<endpoint>) does, with the
// caller's number and name in From. It returns once the INVITE is sent;
// the call's State follows the browser's answers.
func (s *Server) Call(ctx context.Context, endpoint, number, name string) (*Call, error) {
	s.mu.Lock()
	ct := s.contacts[endpoint]
	s.mu.Unlock()
	if ct == nil {
		return nil, ErrNotRegistered
	}
	call, err := s.newCall(ct.conn, token(12)+"@"+Host, "in", endpoint, number)
	if err != nil {
		return nil, err
	}
	offer, err := call.offer()
	if err != nil {
		return nil, err
	}
	call.localTag, call.remoteUser = token(6), ct.user
	uri := sip.Uri{Scheme: "sip", User: ct.user, Host: "127.0.0.1", Port: 8088, UriParams: wsParams()}
	req := sip.NewRequest(sip.INVITE, uri)
	call.cseq = 1
	branch := "z9hG4bKPj" + token(8)
	req.AppendHeader(sip.NewHeader("Via", "SIP/2.0/WS 127.0.0.1:8088;rport;branch="+branch+";alias"))
	req.AppendHeader(sip.NewHeader("From", fmt.Sprintf("%q <sip:%s@%s>;tag=%s", name, number, Host, call.localTag)))
	req.AppendHeader(sip.NewHeader("To", "<sip:"+ct.user+"@127.0.0.1>"))
	req.AppendHeader(sip.NewHeader("Contact", "<sip:asterisk@"+Host+":5060;transport=ws>"))
	req.AppendHeader(sip.NewHeader("Call-ID", call.ID))
	req.AppendHeader(sip.NewHeader("CSeq", "1 INVITE"))
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	req.AppendHeader(sip.NewHeader("Allow", "OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, MESSAGE, INFO, REFER"))
	req.AppendHeader(sip.NewHeader("Supported", "100rel, timer, replaces, norefersub, histinfo"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	ch := make(chan *sip.Response, 8)
	ct.conn.mu.Lock()
	ct.conn.pending[branch] = ch
	ct.conn.mu.Unlock()
	if err := ct.conn.send(ctx, req); err != nil {
		return nil, err
	}
	go call.await(ch, branch, req)
	return call, nil
}

// await follows the browser's answers to an INVITE from Asterisk.
func (c *Call) await(ch chan *sip.Response, branch string, inv *sip.Request) {
	defer func() {
		c.conn.mu.Lock()
		delete(c.conn.pending, branch)
		c.conn.mu.Unlock()
	}()
	timeout := time.After(60 * time.Second)
	for {
		var res *sip.Response
		select {
		case res = <-ch:
		case <-timeout:
			c.set(func(c *Call) { c.State = "no answer" })
			c.closeMedia()
			return
		}
		switch {
		case res.StatusCode == 180 || res.StatusCode == 183:
			c.set(func(c *Call) { c.Rang = true })
		case res.StatusCode < 200:
		case res.StatusCode < 300:
			c.remoteTag, _ = res.To().Params.Get("tag")
			if ct := res.Contact(); ct != nil {
				c.remoteTarget = ct.Address
			}
			err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(res.Body())})
			c.ack()
			if err != nil {
				c.set(func(c *Call) { c.State = "bad answer: " + err.Error() })
				return
			}
			c.set(func(c *Call) { c.State = "up" })
			return
		default:
			c.ack()
			c.set(func(c *Call) { c.State = "declined " + strconv.Itoa(res.StatusCode) })
			c.closeMedia()
			return
		}
	}
}

func (c *Call) ack() {
	target := sip.Uri{Scheme: "sip", User: c.remoteUser, Host: "127.0.0.1", Port: 8088, UriParams: wsParams()}
	if c.remoteTarget.Host != "" {
		target = c.remoteTarget
	}
	req := c.request(sip.ACK, target, 1)
	c.conn.send(context.Background(), req)
}

// request builds an in-dialog request from Asterisk's side of a call it
// placed (direction "in") or answered ("out").
func (c *Call) request(method sip.RequestMethod, target sip.Uri, cseq int) *sip.Request {
	req := sip.NewRequest(method, target)
	req.AppendHeader(sip.NewHeader("Via", "SIP/2.0/WS 127.0.0.1:8088;rport;branch=z9hG4bKPj"+token(8)+";alias"))
	if c.Direction == "in" {
		req.AppendHeader(sip.NewHeader("From", fmt.Sprintf("<sip:%s@%s>;tag=%s", c.Number, Host, c.localTag)))
		req.AppendHeader(sip.NewHeader("To", fmt.Sprintf("<sip:%s@127.0.0.1>;tag=%s", c.remoteUser, c.remoteTag)))
	} else {
		req.AppendHeader(sip.NewHeader("From", fmt.Sprintf("<sip:%s@127.0.0.1>;tag=%s", c.Number, c.localTag)))
		req.AppendHeader(sip.NewHeader("To", fmt.Sprintf("<sip:%s@127.0.0.1>;tag=%s", c.Endpoint, c.remoteTag)))
	}
	req.AppendHeader(sip.NewHeader("Call-ID", c.ID))
	req.AppendHeader(sip.NewHeader("CSeq", fmt.Sprintf("%d %s", cseq, method)))
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	return req
}

// Hangup sends BYE from Asterisk's side, as when the far end hangs up.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	c.cseq++
	cseq := c.cseq
	target := c.remoteTarget
	c.mu.Unlock()
	if target.Host == "" {
		if c.invite != nil && c.invite.Contact() != nil {
			target = c.invite.Contact().Address
		} else {
			target = sip.Uri{Scheme: "sip", User: c.remoteUser, Host: "127.0.0.1", Port: 8088}
		}
	}
	req := c.request(sip.BYE, target, cseq+100)
	c.set(func(c *Call) { c.State = "hung up"; c.HungUpBy = "asterisk" })
	c.closeMedia()
	return c.conn.send(ctx, req)
}

func (c *Call) inDialog(ctx context.Context, conn *conn, req *sip.Request) {
	switch req.Method {
	case sip.BYE:
		reply(ctx, conn, req, 200, "OK", nil)
		c.set(func(c *Call) { c.State = "hung up"; c.HungUpBy = "browser" })
		c.closeMedia()
	case sip.CANCEL:
		reply(ctx, conn, req, 200, "OK", nil)
		c.set(func(c *Call) { c.State = "cancelled"; c.HungUpBy = "browser" })
		c.closeMedia()
	case sip.INVITE: // a re-INVITE: hold or resume
		sdp := string(req.Body())
		answer, err := c.answer(req.Body())
		if err != nil {
			reply(ctx, conn, req, 488, "Not Acceptable Here", nil)
			return
		}
		held := strings.Contains(sdp, "a=sendonly") || strings.Contains(sdp, "a=inactive")
		c.set(func(c *Call) {
			c.OnHold = held
			if held {
				c.Holds++
			}
		})
		reply(ctx, conn, req, 200, "OK", answer, sip.NewHeader("Contact", "<sip:"+c.s.ln.Addr().String()+";transport=ws>"),
			sip.NewHeader("Content-Type", "application/sdp"))
	case sip.REFER:
		to := ""
		if h := req.GetHeader("Refer-To"); h != nil {
			to = h.Value()
		}
		reply(ctx, conn, req, 202, "Accepted", nil)
		c.set(func(c *Call) { c.Transfers = append(c.Transfers, to) })
	case sip.INFO:
		reply(ctx, conn, req, 200, "OK", nil)
		c.set(func(c *Call) { c.Infos++ })
	default:
		reply(ctx, conn, req, 200, "OK", nil)
	}
}

// Call is one call through the emulator.
type Call struct {
	ID        string
	Direction string // "out": the browser called; "in": Asterisk rang it
	Endpoint  string
	Number    string // dialed ("out") or calling ("in")

	s                    *Server
	conn                 *conn
	invite               *sip.Request
	localTag, remoteTag  string
	remoteUser           string
	remoteTarget         sip.Uri
	pc                   *webrtc.PeerConnection
	tone                 *webrtc.TrackLocalStaticSample
	startTone            chan struct{}
	toneOnce, closedOnce sync.Once

	mu                    sync.Mutex
	cseq                  int
	State                 string // ringing, up, hung up, declined 486, …
	Rang                  bool   // the browser sent 180
	HungUpBy              string // "browser" or "asterisk"
	OnHold                bool
	Holds                 int
	Transfers             []string // Refer-To of each REFER
	Infos                 int
	digits                []byte
	lastEvent             uint32 // RTP timestamp of the last RFC 4733 event counted
	audio                 struct{ packets, bytes, silent int }
	lastOffer, lastAnswer string
}

func (c *Call) set(f func(*Call)) {
	c.mu.Lock()
	f(c)
	c.mu.Unlock()
	c.s.mu.Lock()
	c.s.changed()
	c.s.mu.Unlock()
}

// Snapshot is a call's state at one moment.
type Snapshot struct {
	State, HungUpBy       string
	Rang, OnHold          bool
	Holds, Infos          int
	Transfers             []string
	Digits                string
	AudioPackets, AudioIn int    // packets and payload bytes of audio from the browser
	SilentPackets         int    // of which all silence (a muted microphone)
	Offer, Answer         string // the last SDP offer and answer Asterisk took and gave
}

// Snapshot reads the call.
func (c *Call) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Snapshot{State: c.State, HungUpBy: c.HungUpBy, Rang: c.Rang, OnHold: c.OnHold, Holds: c.Holds, Infos: c.Infos,
		Transfers: append([]string(nil), c.Transfers...), Digits: string(c.digits),
		AudioPackets: c.audio.packets, AudioIn: c.audio.bytes, SilentPackets: c.audio.silent, Offer: c.lastOffer, Answer: c.lastAnswer}
}

// newPeer is res_rtp_asterisk with webrtc = yes: PCMU, PCMA and
// telephone-event, bundle and rtcp-mux, DTLS-SRTP, ICE on loopback only
// (the host has nothing else to offer here).
func (c *Call) newPeer() error {
	m := &webrtc.MediaEngine{}
	for _, codec := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 126},
	} {
		if err := m.RegisterCodec(codec, webrtc.RTPCodecTypeAudio); err != nil {
			return err
		}
	}
	se := webrtc.SettingEngine{}
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled
	se.LoggerFactory = quiet
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle, RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire})
	if err != nil {
		return err
	}
	tone, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", "asterisk")
	if err != nil {
		pc.Close()
		return err
	}
	if _, err := pc.AddTrack(tone); err != nil {
		pc.Close()
		return err
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { go c.readAudio(tr) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			c.toneOnce.Do(func() { go c.playTone() })
		}
	})
	c.pc, c.tone = pc, tone
	return nil
}

func (c *Call) answer(offer []byte) ([]byte, error) {
	c.mu.Lock()
	c.lastOffer = string(offer)
	c.mu.Unlock()
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return nil, err
	}
	ans, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(ans); err != nil {
		return nil, err
	}
	<-gathered
	sdp := c.pc.LocalDescription().SDP
	// Asterisk answers a hold with the mirror direction, as RFC 3264 asks.
	switch {
	case strings.Contains(string(offer), "a=sendonly"):
		sdp = strings.ReplaceAll(sdp, "a=sendrecv", "a=recvonly")
	case strings.Contains(string(offer), "a=inactive"):
		sdp = strings.ReplaceAll(sdp, "a=sendrecv", "a=inactive")
	}
	c.mu.Lock()
	c.lastAnswer = sdp
	c.mu.Unlock()
	return []byte(sdp), nil
}

func (c *Call) offer() ([]byte, error) {
	off, err := c.pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(off); err != nil {
		return nil, err
	}
	<-gathered
	return []byte(c.pc.LocalDescription().SDP), nil
}

func (c *Call) closeMedia() {
	c.closedOnce.Do(func() {
		if c.pc != nil {
			c.pc.Close()
		}
	})
}

// playTone sends a 425 Hz tone, 20 ms a packet, until the call closes.
func (c *Call) playTone() {
	frame := make([]byte, 160)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var n int
	for range tick.C {
		if c.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return
		}
		for i := range frame {
			frame[i] = ulaw(int16(8000 * math.Sin(2*math.Pi*425*float64(n)/8000)))
			n++
		}
		if err := c.tone.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond}); err != nil {
			return
		}
	}
}

// readAudio counts the browser's audio and reads RFC 4733 digits.
func (c *Call) readAudio(tr *webrtc.TrackRemote) {
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if p.PayloadType == 0 || p.PayloadType == 8 {
			silent := true
			for _, b := range p.Payload {
				if b != 0xff && b != 0x7f && b != 0xd5 && b != 0x55 {
					silent = false
					break
				}
			}
			c.mu.Lock()
			c.audio.packets++
			c.audio.bytes += len(p.Payload)
			if silent {
				c.audio.silent++
			}
			c.mu.Unlock()
			continue
		}
		// telephone-event: event, E|R|volume, duration. Count a digit once,
		// on its first end packet (they are sent three times).
		if len(p.Payload) >= 4 && p.Payload[1]&0x80 != 0 {
			c.mu.Lock()
			if p.Timestamp != c.lastEvent || len(c.digits) == 0 {
				c.lastEvent = p.Timestamp
				c.digits = append(c.digits, "0123456789*#ABCD"[min(int(p.Payload[0]), 15)])
			}
			c.mu.Unlock()
			c.s.mu.Lock()
			c.s.changed()
			c.s.mu.Unlock()
		}
	}
}

func wsParams() sip.HeaderParams {
	p := sip.NewParams()
	p.Add("transport", "WS")
	return p
}

// ulaw encodes one linear sample as G.711 μ-law.
func ulaw(s int16) byte {
	const bias, clip = 0x84, 32635
	sign := byte(0)
	v := int(s)
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v, clip) + bias
	exp := byte(7)
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := byte(v>>(int(exp)+3)) & 0x0f
	return ^(sign | exp<<4 | mant)
}
