// Package sipws relays SIP over WebSocket (RFC 7118) between a signed-in
// browser and Asterisk's WebSocket transport: one upstream socket per
// browser socket, frames passed through untouched, and every out-of-dialog
// request from the browser checked against the one endpoint its session may
// use. It carries no audio: media flows from the browser to Asterisk.
package sipws

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"

	"github.com/odoo-agi/odoo-agi/internal/ratelog"
	"golang.org/x/time/rate"
)

// Refusal reasons, as counted by Stats.
const (
	ReasonOrigin      = "origin"      // the upgrade came from another site
	ReasonSubprotocol = "subprotocol" // no "sip" subprotocol, as Asterisk refuses
	ReasonIdentity    = "identity"    // an out-of-dialog request as another endpoint
	ReasonDialog      = "dialog"      // an in-dialog request for a dialog this socket never had
	ReasonUnparsable  = "unparsable"  // not a SIP message
	ReasonRate        = "rate"        // more messages than a softphone sends
	ReasonUpstream    = "upstream"    // Asterisk's WebSocket could not be reached
	ReasonSession     = "session"     // no signed-in session with a softphone (counted by the caller)
)

var reasons = []string{ReasonOrigin, ReasonSubprotocol, ReasonIdentity, ReasonDialog, ReasonUnparsable, ReasonRate, ReasonUpstream, ReasonSession}

// Relay connects browsers to Asterisk. The zero value is not usable: set
// Upstream.
type Relay struct {
	// Upstream is Asterisk's SIP WebSocket, e.g. ws://127.0.0.1:8088/ws.
	Upstream string
	Logger   *slog.Logger
	// MaxMessage caps one SIP message from the browser; default 64 KiB.
	MaxMessage int64
	// PerSecond and Burst cap the messages a browser sends; default 20
	// a second with bursts of 60, far above a softphone's needs.
	PerSecond float64
	Burst     int
	// PingEvery is how often the relay pings the browser, so that a
	// reverse proxy's idle timeout (nginx: 60 s) never cuts a registered
	// softphone between its REGISTER refreshes; default 25 s. A socket
	// that leaves a ping unanswered for PingTimeout (default 15 s) closes.
	PingEvery, PingTimeout time.Duration

	limit    ratelog.Limiter // warnings a browser or an outage can repeat
	refused  [8]atomic.Int64
	open     atomic.Int64
	messages atomic.Int64
}

// Stats counts the relay's sockets, messages and refusals.
type Stats struct {
	Open     int64
	Messages int64
	Refused  map[string]int64
}

// Stats returns the counters.
func (rl *Relay) Stats() Stats {
	st := Stats{Open: rl.open.Load(), Messages: rl.messages.Load(), Refused: map[string]int64{}}
	for i, r := range reasons {
		st.Refused[r] = rl.refused[i].Load()
	}
	return st
}

// Refuse counts a refusal made before Serve, such as ReasonSession.
func (rl *Relay) Refuse(reason string) { rl.refuse(reason) }

func (rl *Relay) refuse(reason string) {
	for i, r := range reasons {
		if r == reason {
			rl.refused[i].Add(1)
		}
	}
}

func (rl *Relay) log() *slog.Logger {
	if rl.Logger == nil {
		return slog.Default()
	}
	return rl.Logger
}

// Serve upgrades r to a SIP WebSocket for endpoint, the PJSIP endpoint of
// the signed-in user, and relays it until either side closes or ctx ends.
// The caller has checked the session; Serve checks the origin and the
// subprotocol, as Asterisk's own transport does not check the first.
func (rl *Relay) Serve(ctx context.Context, w http.ResponseWriter, r *http.Request, endpoint string) {
	if !sameOrigin(r) {
		rl.refuse(ReasonOrigin)
		http.Error(w, "this socket is for the phone page's own origin", http.StatusForbidden)
		return
	}
	if !offersSIP(r) {
		rl.refuse(ReasonSubprotocol)
		http.Error(w, `the WebSocket subprotocol must be "sip"`, http.StatusBadRequest)
		return
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	up, _, err := websocket.Dial(dctx, rl.Upstream, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	cancel()
	if err != nil {
		rl.refuse(ReasonUpstream)
		rl.limit.Warn(rl.log(), "upstream", "sipws: cannot reach Asterisk's WebSocket; the softphone stays offline", "upstream", rl.Upstream, "err", err)
		http.Error(w, "Asterisk's WebSocket does not answer", http.StatusBadGateway)
		return
	}
	if up.Subprotocol() != "sip" {
		up.Close(websocket.StatusProtocolError, "no sip subprotocol")
		rl.refuse(ReasonUpstream)
		rl.log().Warn("sipws: Asterisk's WebSocket did not take the sip subprotocol", "upstream", rl.Upstream)
		http.Error(w, "Asterisk's WebSocket refused the sip subprotocol", http.StatusBadGateway)
		return
	}
	br, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		up.Close(websocket.StatusGoingAway, "")
		return
	}
	rl.open.Add(1)
	defer rl.open.Add(-1)
	maxMsg := rl.MaxMessage
	if maxMsg <= 0 {
		maxMsg = 64 << 10
	}
	br.SetReadLimit(maxMsg)
	up.SetReadLimit(1 << 20)

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	s := &socket{relay: rl, endpoint: endpoint, browser: br, upstream: up, dialogs: map[string]bool{},
		limit: rate.NewLimiter(rate.Limit(or(rl.PerSecond, 20)), or(rl.Burst, 60))}
	done := make(chan error, 2)
	go func() { done <- s.fromAsterisk(ctx) }()
	go func() { done <- s.fromBrowser(ctx) }()
	go s.keepAlive(ctx, stop)
	err = <-done
	stop()
	// Closing the upstream socket is what makes Asterisk drop the contact
	// at once; a call still up ends by the endpoint's rtp_timeout.
	up.Close(websocket.StatusNormalClosure, "")
	br.Close(websocket.StatusNormalClosure, "")
	<-done
	if err != nil && !errors.Is(err, context.Canceled) && websocket.CloseStatus(err) == -1 {
		rl.log().Debug("sipws: socket closed", "endpoint", endpoint, "err", err)
	}
}

// keepAlive pings the browser; a socket that stops answering is closed.
func (s *socket) keepAlive(ctx context.Context, stop func()) {
	t := time.NewTicker(cmp.Or(s.relay.PingEvery, 25*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, cmp.Or(s.relay.PingTimeout, 15*time.Second))
			err := s.browser.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				stop()
				return
			}
		}
	}
}

func or[T int | float64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// sameOrigin reports an upgrade with no Origin (not a browser) or one
// whose host is the request's own.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func offersSIP(r *http.Request) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if strings.TrimSpace(p) == "sip" {
				return true
			}
		}
	}
	return false
}

// socket is one browser's relayed connection.
type socket struct {
	relay             *Relay
	endpoint          string
	browser, upstream *websocket.Conn
	limit             *rate.Limiter

	mu      sync.Mutex
	dialogs map[string]bool // the Call-IDs this socket has carried
}

// maxDialogs bounds the Call-IDs one socket remembers.
const maxDialogs = 256

func (s *socket) remember(callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.dialogs) >= maxDialogs {
		for k := range s.dialogs {
			delete(s.dialogs, k)
			break
		}
	}
	s.dialogs[callID] = true
}

func (s *socket) known(callID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialogs[callID]
}

func (s *socket) fromAsterisk(ctx context.Context) error {
	for {
		typ, data, err := s.upstream.Read(ctx)
		if err != nil {
			return err
		}
		if id := callID(data); id != "" {
			s.remember(id)
		}
		s.relay.messages.Add(1)
		if err := s.browser.Write(ctx, typ, data); err != nil {
			return err
		}
	}
}

func (s *socket) fromBrowser(ctx context.Context) error {
	for {
		typ, data, err := s.browser.Read(ctx)
		if err != nil {
			return err
		}
		if !s.limit.Allow() {
			s.relay.refuse(ReasonRate)
			continue
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			s.relay.refuse(ReasonUnparsable)
			s.relay.limit.Warn(s.relay.log(), "unparsable", "sipws: dropped a frame from the browser that is not SIP", "endpoint", s.endpoint, "err", err)
			continue
		}
		if req, ok := msg.(*sip.Request); ok {
			if reason := s.check(req); reason != "" {
				s.relay.refuse(reason)
				s.relay.limit.Warn(s.relay.log(), reason, "sipws: refused a request from the browser", "endpoint", s.endpoint, "method", string(req.Method), "reason", reason)
				if !req.IsAck() {
					res := sip.NewResponseFromRequest(req, http.StatusForbidden, "Forbidden", nil)
					if err := s.browser.Write(ctx, websocket.MessageText, []byte(res.String())); err != nil {
						return err
					}
				}
				continue
			}
		}
		s.relay.messages.Add(1)
		if err := s.upstream.Write(ctx, typ, data); err != nil {
			return err
		}
	}
}

// check returns why req may not go to Asterisk, or "". A REGISTER must be
// for this endpoint in From and To; any other request with no To tag
// starts something new, so its From must be this endpoint. A request in a
// dialog (a To tag) carries the other side's identity as From (the random
// contact user of an incoming call), so it is checked by its Call-ID: it
// must belong to a dialog this socket has seen.
func (s *socket) check(req *sip.Request) string {
	from, to, cid := req.From(), req.To(), req.CallID()
	if from == nil || to == nil || cid == nil {
		return ReasonUnparsable
	}
	if req.Method == sip.REGISTER {
		if from.Address.User != s.endpoint || to.Address.User != s.endpoint {
			return ReasonIdentity
		}
		s.remember(cid.Value())
		return ""
	}
	if _, tagged := to.Params.Get("tag"); tagged {
		if !s.known(cid.Value()) {
			return ReasonDialog
		}
		return ""
	}
	if from.Address.User != s.endpoint {
		return ReasonIdentity
	}
	s.remember(cid.Value())
	return ""
}

// callID reads the Call-ID of a SIP message without parsing the rest.
func callID(data []byte) string {
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return ""
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if n := strings.TrimSpace(name); strings.EqualFold(n, "Call-ID") || n == "i" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
