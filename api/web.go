package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odoo-agi/odoo-agi/contact"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/sipws"
)

// The phone page: Odoo users sign in with their Odoo login, click tel:
// links to call out, and see who is calling. Nothing is installed in Odoo.

//go:embed web
var webFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"odooLink": func(base string, id int) string {
		return fmt.Sprintf("%s/web#id=%d&model=res.partner&view_type=form", strings.TrimRight(base, "/"), id)
	},
	"pretty":   lookup.Pretty,
	"keys":     func(s string) []string { return strings.Split(s, "") },
	"recorded": func(recorded map[string]bool, call string) bool { return recorded[call] },
	"time":     func(t time.Time) string { return t.Local().Format("15:04") },
}).ParseFS(webFiles, "web/*.html"))

// Web configures the phone page.
type Web struct {
	Users       func() dialplan.Users // the current [[users]]
	Auth        Authenticator         // checks passwords and accounts with Odoo
	Directory   Directory             // names for the tel: handler page
	Normalizer  lookup.Normalizer
	Live        *dialplan.Live
	OdooURL     string        // where users reach Odoo, for "Open in Odoo"
	SessionTTL  time.Duration // default 12h
	ConfirmDial bool          // false: a tel: link opened by the user dials at once
	// Recheck is how often a session's Odoo account is checked again
	// (still active); default 5m. Odoo down keeps the session.
	Recheck time.Duration
	// Streams is the most event streams one session may hold; default 10.
	Streams int
	Now     func() time.Time // default time.Now
	// Ping runs the checks of `odoo-agi ping`, for the status view.
	Ping func(ctx context.Context) []Check
	// Softphone, when set, relays the page's SIP WebSocket (/sip) for users
	// with a WebRTC endpoint; SIPDomain is the host in their SIP URIs.
	Softphone *sipws.Relay
	SIPDomain string
	// Contacts, when set, offers Create contact on an unknown caller's card.
	Contacts *contact.Maker
	// Recordings is the folder of the calls' recordings; "" = none.
	Recordings string
	// Companies are the Odoo companies the PBXs' lines serve: a card's
	// contact or lead may be made in one of them.
	Companies []int
}

// Authenticator checks an Odoo login and password (or API key), where uid
// 0 means Odoo refused them, and whether an account is still active.
// *odoo.Client satisfies it.
type Authenticator interface {
	Authenticate(ctx context.Context, login, password string) (int, error)
	UserActive(ctx context.Context, login string) (bool, error)
}

// Directory finds partners by number and suggests them by name;
// *lookup.Directory satisfies it.
type Directory interface {
	Lookup(ctx context.Context, raw string) lookup.Result
	UserName(login string) string
	Suggest(ctx context.Context, q string, limit int) []lookup.Suggestion
}

// Check is one line of a ping.
type Check struct {
	OK     bool   `json:"ok"`
	Name   string `json:"name"`
	Detail string `json:"detail"`
}

const (
	sessionCookie = "odoo_agi_session"
	csrfHeader    = "X-CSRF-Token"
)

type sessionKey struct{}

// session is one signed-in browser. Sessions live in memory only.
type session struct {
	id, csrf, login string
	expires         time.Time
	checked         time.Time // when Odoo last said the account is active
	streams         int       // event streams open
	sockets         int       // softphone sockets open
}

type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func random() string {
	b := make([]byte, 32) // 256 bits
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) add(login string, now time.Time, ttl time.Duration) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*session{}
	}
	for id, s := range ss.m {
		if now.After(s.expires) {
			delete(ss.m, id)
		}
	}
	s := &session{id: random(), csrf: random(), login: login, expires: now.Add(ttl), checked: now}
	ss.m[s.id] = s
	return s
}

func (ss *sessions) get(id string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil || now.After(s.expires) {
		delete(ss.m, id)
		return nil
	}
	return s
}

func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// due claims the session's recheck when it is due, so that one request
// makes it while others go on.
func (ss *sessions) due(sess *session, now time.Time, every time.Duration) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if now.Sub(sess.checked) < every {
		return false
	}
	sess.checked = now
	return true
}

// openStream counts one more event stream for the session, up to max.
func (ss *sessions) openStream(sess *session, max int) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if sess.streams >= max {
		return false
	}
	sess.streams++
	return true
}

func (ss *sessions) openSocket(sess *session, max int) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if sess.sockets >= max {
		return false
	}
	sess.sockets++
	return true
}

func (ss *sessions) closeSocket(sess *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sess.sockets--
}

func (ss *sessions) closeStream(sess *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sess.streams--
}

func (s *Server) now() time.Time {
	if s.Web != nil && s.Web.Now != nil {
		return s.Web.Now()
	}
	return time.Now()
}

// session returns the request's live session, or nil. A user removed from
// [[users]] by a reload loses it at once; one deactivated in Odoo at the
// next recheck.
func (s *Server) session(r *http.Request) *session {
	if s.Web == nil {
		return nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	now := s.now()
	sess := s.sessions.get(c.Value, now)
	if sess == nil {
		return nil
	}
	if _, ok := s.Web.Users().ByLogin(sess.login); !ok {
		s.sessions.remove(sess.id)
		return nil
	}
	if s.sessions.due(sess, now, cmp.Or(s.Web.Recheck, 5*time.Minute)) {
		ctx, cancel := context.WithTimeout(r.Context(), odooCheckTimeout)
		active, err := s.Web.Auth.UserActive(ctx, sess.login)
		cancel()
		switch {
		case err != nil:
			s.limit.Warn(s.Logger, "recheck", "web: cannot recheck a signed-in user with Odoo; the session goes on", "err", err)
		case !active:
			s.Logger.Info("web: signed out a user whose Odoo account is archived or gone", "login", sess.login)
			s.sessions.remove(sess.id)
			return nil
		}
	}
	return sess
}

// odooCheckTimeout bounds a password check or a recheck with Odoo.
const odooCheckTimeout = 10 * time.Second

// maxForm caps the body of every form the page posts.
const maxForm = 8 << 10

func capBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		h(w, r)
	}
}

func (s *Server) webRoutes(mux *http.ServeMux) {
	cop := http.NewCrossOriginProtection()
	static, _ := fs.Sub(webFiles, "web")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.home)
	mux.Handle("POST /login", cop.Handler(capBody(s.login)))
	mux.Handle("POST /logout", cop.Handler(capBody(s.logout)))
	mux.HandleFunc("GET /dial", s.dial)
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /status", s.status)
	mux.Handle("POST /status/ping", cop.Handler(capBody(s.ping)))
	mux.HandleFunc("GET /sip", s.sip)
	mux.HandleFunc("GET /sip/config", s.sipConfig)
	mux.HandleFunc("GET /sip/dial", s.sipDial)
	mux.Handle("POST /contacts", cop.Handler(http.HandlerFunc(s.createContact)))
	mux.HandleFunc("GET /suggest", s.suggest)
	mux.HandleFunc("GET /recordings/{call}", s.recording)
	mux.Handle("POST /leads", cop.Handler(http.HandlerFunc(s.createLead)))
}

var titles = map[string]string{"login.html": "Sign in", "phone.html": "Phone", "dial.html": "Call", "status.html": "Status", "denied.html": "Not allowed"}

// page renders a template with the headers every page gets: no script
// but our own files, and no framing.
func (s *Server) page(w http.ResponseWriter, code int, name string, data map[string]any) {
	data["Title"] = titles[name]
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.Logger.Error("web: rendering a page", "page", name, "err", err)
	}
}

func (s *Server) user(sess *session) dialplan.User {
	u, _ := s.Web.Users().ByLogin(sess.login)
	return u
}

func (s *Server) pageData(sess *session) map[string]any {
	u := s.user(sess)
	return map[string]any{"Login": u.Login, "Name": cmp.Or(s.Web.Directory.UserName(u.Login), u.Login), "Exten": u.Exten,
		"Admin": u.Admin, "CSRF": sess.csrf, "OdooURL": s.Web.OdooURL, "Softphone": s.Web.Softphone != nil && u.WebRTC != "", "Contacts": s.Web.Contacts != nil}
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	if sess == nil {
		s.page(w, http.StatusOK, "login.html", map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
		return
	}
	data := s.pageData(sess)
	if s.Web.Live != nil {
		h := s.Web.Live.History(sess.login)
		rec := map[string]bool{}
		for _, ev := range h {
			rec[ev.Call] = (ev.State == dialplan.Ended || ev.State == dialplan.AnsweredByYou) && s.recorded(ev.Call)
		}
		data["History"], data["Recorded"] = h, rec
	}
	data["Leads"] = s.leadsOn(r.Context())
	s.page(w, http.StatusOK, "phone.html", data)
}

// safeNext keeps a redirect after sign-in on this site: a path, with no
// scheme or host, no "//" or "/\\", and no control characters (browsers
// drop a tab, so "/\t/evil.example" would read as "//evil.example").
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 2048 || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if u.Path == "/dial" {
		// Signing in is no consent to a call the link chose: the Call
		// button waits for a click.
		q := u.Query()
		q.Set("confirm", "1")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return next
}

// login checks a sign-in. Only logins with a [[users]] entry reach Odoo;
// each check first reserves its place per login and per client address,
// so parallel guesses get 429 at once.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	ip, secure := s.client(r)
	if err := r.ParseForm(); err != nil {
		s.page(w, http.StatusRequestEntityTooLarge, "login.html", map[string]any{"Error": "The sign-in form is too large.", "Next": "/"})
		return
	}
	next := safeNext(r.PostFormValue("next"))
	login, password := strings.TrimSpace(r.PostFormValue("login")), r.PostFormValue("password")
	if login == "" || password == "" {
		s.page(w, http.StatusBadRequest, "login.html", map[string]any{"Error": "Enter your Odoo login and password.", "Login": login, "Next": next})
		return
	}
	res, wait := s.pageLimit.Reserve(addrKey(ip), loginKey(login))
	if res == nil {
		w.Header().Set("Retry-After", retryAfter(wait))
		s.page(w, http.StatusTooManyRequests, "login.html", map[string]any{
			"Error": "Too many failed sign-ins. Try again in a minute.", "Login": login, "Next": next})
		return
	}
	wrong := map[string]any{"Error": "Wrong login or password, or this login has no phone in odoo-agi (ask your admin).", "Login": login, "Next": next}
	if _, ok := s.Web.Users().ByLogin(login); !ok {
		// Odoo is never asked, and the answer is the same as for a wrong
		// password: the page tells no one which logins exist.
		res.Done(true)
		s.limit.Warn(s.Logger, "signin-nouser", "web: a sign-in with a login that has no [[users]] entry", "client", ip)
		s.page(w, http.StatusUnauthorized, "login.html", wrong)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), odooCheckTimeout)
	uid, err := s.Web.Auth.Authenticate(ctx, login, password)
	cancel()
	res.Done(err == nil && uid == 0)
	if err != nil {
		s.Logger.Warn("web: cannot check a sign-in with Odoo", "err", err)
		msg := "Odoo does not answer; try again shortly."
		if !errors.Is(err, odoo.ErrUnreachable) {
			msg = "Odoo's answer could not be read; your admin will find why in odoo-agi's log."
		}
		s.page(w, http.StatusServiceUnavailable, "login.html", map[string]any{"Error": msg, "Login": login, "Next": next})
		return
	}
	if uid == 0 {
		s.limit.Warn(s.Logger, "signin", "web: a sign-in with a wrong password", "client", ip)
		s.page(w, http.StatusUnauthorized, "login.html", wrong)
		return
	}
	sess := s.sessions.add(login, s.now(), cmp.Or(s.Web.SessionTTL, 12*time.Hour))
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.id, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, Expires: sess.expires})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.remove(c.Value)
	}
	_, secure := s.client(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// dial is the tel: handler's target: whom you are about to call, and a
// Call button. It never dials by itself: the button, or with confirm_dial
// off the page's script, posts the call, and the script does so only on a
// navigation the user started (userStarted).
func (s *Server) dial(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	if sess == nil {
		http.Redirect(w, r, "/?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	to := r.URL.Query().Get("to")
	number, _ := url.PathUnescape(strings.TrimPrefix(strings.TrimPrefix(to, "tel:"), "TEL:"))
	if i := strings.IndexAny(number, ";?"); i >= 0 {
		number = number[:i] // RFC 3966 parameters
	}
	data := s.pageData(sess)
	data["Number"] = number
	data["AutoDial"] = !s.Web.ConfirmDial && r.URL.Query().Get("confirm") == "" && s.userStarted(r)
	e164, err := s.Web.Normalizer.Caller(number)
	if err == nil {
		data["E164"] = e164
		data["Pretty"] = lookup.Pretty(e164)
		data["Dialed"], _ = s.Web.Normalizer.Dialable(e164)
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		if res := s.Web.Directory.Lookup(ctx, e164); res.Status == lookup.Found {
			data["Partner"], data["PartnerID"] = res.Partner.DisplayName, res.Partner.ID
		}
		cancel()
	}
	s.page(w, http.StatusOK, "dial.html", data)
}

// userStarted reports a navigation that the user started: typed, a
// bookmark or a protocol handler launched by the browser itself
// (Sec-Fetch-Site: none), a link on this site, or a tel: link in the
// configured Odoo, whose origin its Referer carries. A GET from any other
// site carries the Lax cookie too, and must not dial.
func (s *Server) userStarted(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "none", "same-origin":
		return true
	case "":
		// A browser that sends no fetch metadata: the Referer decides.
		if ref, err := url.Parse(r.Referer()); err == nil && ref.Host != "" && ref.Host == r.Host {
			return true
		}
	}
	return s.fromOdoo(r)
}

// fromOdoo reports a Referer from the origin of [web] odoo_url.
func (s *Server) fromOdoo(r *http.Request) bool {
	odooURL, err := url.Parse(s.Web.OdooURL)
	ref, err2 := url.Parse(r.Referer())
	return err == nil && err2 == nil && odooURL.Host != "" &&
		strings.EqualFold(ref.Scheme, odooURL.Scheme) && strings.EqualFold(ref.Host, odooURL.Host)
}

// events streams the signed-in user's calls as server-sent events: each
// "call" event is a dialplan.CallEvent in JSON. A comment every 15 s keeps
// proxies from closing the stream; Last-Event-ID resumes it.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	if sess == nil || s.Web.Live == nil {
		fail(w, http.StatusUnauthorized, "sign in first")
		return
	}
	if !s.sessions.openStream(sess, cmp.Or(s.Web.Streams, 10)) {
		w.Header().Set("Retry-After", "5")
		fail(w, http.StatusTooManyRequests, "too many open event streams for this session; close a tab")
		return
	}
	defer s.sessions.closeStream(sess)
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout
	last, _ := strconv.ParseInt(cmp.Or(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("last")), 10, 64)
	missed, ch, cancel := s.Web.Live.Subscribe(sess.login, last)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(ev dialplan.CallEvent) error {
		b, _ := json.Marshal(ev)
		_, err := fmt.Fprintf(w, "id: %d\nevent: call\ndata: %s\n\n", ev.ID, b)
		return err
	}
	fmt.Fprint(w, "retry: 2000\n\n")
	for _, ev := range missed {
		send(ev)
	}
	rc.Flush()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case ev := <-ch:
			err = send(ev)
		case <-beat.C:
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
		if s.session(r) == nil {
			return // signed out or expired
		}
	}
}

// heartbeat is how often an idle event stream gets a comment.
var heartbeat = 15 * time.Second

func (s *Server) admin(w http.ResponseWriter, r *http.Request) *session {
	sess := s.session(r)
	if sess == nil {
		http.Redirect(w, r, "/?next=/status", http.StatusSeeOther)
		return nil
	}
	if !s.user(sess).Admin {
		s.page(w, http.StatusForbidden, "denied.html", s.pageData(sess))
		return nil
	}
	return sess
}

// status shows admins what /healthz knows, with a Ping button.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	sess := s.admin(w, r)
	if sess == nil {
		return
	}
	data := s.pageData(sess)
	if s.Health != nil {
		doc, _ := s.Health()
		b, _ := json.Marshal(doc)
		var m map[string]any
		json.Unmarshal(b, &m)
		data["Health"] = m
	}
	s.page(w, http.StatusOK, "status.html", data)
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	sess := s.session(r)
	if sess == nil || !s.user(sess).Admin {
		fail(w, http.StatusForbidden, "admins only")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(sess.csrf)) != 1 {
		fail(w, http.StatusForbidden, "missing or wrong "+csrfHeader+": reload the page")
		return
	}
	if s.Web.Ping == nil {
		fail(w, http.StatusNotImplemented, "no checks configured")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	writeJSON(w, http.StatusOK, s.Web.Ping(ctx))
}
