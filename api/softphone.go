package api

import (
	"cmp"
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/odoo-agi/odoo-agi/sipws"
)

// The softphone: the page's SIP stack talks to Asterisk through /sip, a
// WebSocket relayed by sipws on the page's own origin, as the signed-in
// user's own endpoint only. Media goes from the browser to Asterisk.

// maxSIPSockets is the most softphone sockets one session may hold: tabs,
// as Asterisk's max_contacts = 5 in `odoo-agi pjsip`.
const maxSIPSockets = 5

// softphone returns the signed-in user's endpoint and secret, when the
// softphone is on for them.
func (s *Server) softphone(sess *session) (endpoint, secret string, ok bool) {
	if s.Web.Softphone == nil {
		return "", "", false
	}
	u := s.user(sess)
	return u.WebRTC, u.WebRTCSecret, u.WebRTC != ""
}

// scriptSession is the session of a request the page's own script made,
// with the session's CSRF token; else it answers 401 or 403 and returns
// nil. Its answers are never cached.
func (s *Server) scriptSession(w http.ResponseWriter, r *http.Request) *session {
	w.Header().Set("Cache-Control", "no-store")
	sess := s.session(r)
	if sess == nil {
		fail(w, http.StatusUnauthorized, "sign in first")
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(sess.csrf)) != 1 {
		fail(w, http.StatusForbidden, "missing or wrong "+csrfHeader+": reload the page")
		return nil
	}
	return sess
}

// sipConfig hands the page its own user's endpoint and digest password.
// It needs the session's CSRF token, so only the page's own script reads
// it, and it is never cached.
func (s *Server) sipConfig(w http.ResponseWriter, r *http.Request) {
	sess := s.scriptSession(w, r)
	if sess == nil {
		return
	}
	endpoint, secret, ok := s.softphone(sess)
	if !ok {
		fail(w, http.StatusNotFound, "no softphone for this user: ask your admin for a [[users]] webrtc endpoint")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"endpoint": endpoint, "secret": secret, "domain": s.Web.SIPDomain})
}

// sip relays the page's SIP WebSocket to Asterisk. The socket ends when
// the session does.
func (s *Server) sip(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	if sess == nil || s.Web.Softphone == nil {
		if s.Web.Softphone != nil {
			s.Web.Softphone.Refuse(sipws.ReasonSession)
		}
		fail(w, http.StatusUnauthorized, "sign in first")
		return
	}
	endpoint, _, ok := s.softphone(sess)
	if !ok {
		s.Web.Softphone.Refuse(sipws.ReasonSession)
		fail(w, http.StatusNotFound, "no softphone for this user")
		return
	}
	if !s.sessions.openSocket(sess, maxSIPSockets) {
		s.Web.Softphone.Refuse(sipws.ReasonSession)
		w.Header().Set("Retry-After", "5")
		fail(w, http.StatusTooManyRequests, "too many softphone tabs for this session; close one")
		return
	}
	defer s.sessions.closeSocket(sess)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	go func() {
		every := cmp.Or(s.Web.Recheck, 5*time.Minute) / 10
		t := time.NewTicker(max(every, time.Second))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if s.session(r) == nil {
					cancel() // signed out, expired, or removed from [[users]]
					return
				}
			}
		}
	}()
	s.Web.Softphone.Serve(ctx, w, r, endpoint)
}

// sipDial turns what the user typed or clicked into what the softphone
// dials: a phone number in the PBX's dial format (as click-to-dial dials
// it), or an extension as typed.
func (s *Server) sipDial(w http.ResponseWriter, r *http.Request) {
	if s.scriptSession(w, r) == nil {
		return
	}
	raw := strings.TrimSpace(r.URL.Query().Get("number"))
	dial := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '*' || r == '#' || r == '+' {
			return r
		}
		return -1
	}, raw)
	if e164, err := s.Web.Normalizer.Caller(raw); err == nil {
		if d, err := s.Web.Normalizer.Dialable(e164); err == nil {
			dial = d
		}
	}
	if dial == "" || len(dial) > 32 {
		fail(w, http.StatusUnprocessableEntity, "not a number or an extension")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"dial": dial})
}
