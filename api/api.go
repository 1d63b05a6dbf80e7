package api

import (
	"cmp"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/ratelog"
)

// Caller places click-to-dial calls; *dialplan.Originator satisfies it.
type Caller interface {
	Call(ctx context.Context, req dialplan.CallRequest) (dialplan.CallResult, error)
}

// Server is the control API's handler set. Build it, then serve Handler().
type Server struct {
	User         string
	PasswordHash string // bcrypt
	Caller       Caller
	// Health returns the /healthz document and whether the service can
	// answer calls with names at all.
	Health  func() (doc any, ok bool)
	Metrics http.Handler // GET /metrics when set: counts and states, no auth
	Logger  *slog.Logger
	// TLS, when set, serves HTTPS (see LoadTLS).
	TLS *tls.Config
	// CallTimeout is the longest a click-to-dial request may take to
	// answer; it is read per request, so a reload applies it.
	CallTimeout func() time.Duration

	// MaxFailures per client address in FailureWindow; then 429.
	MaxFailures   int
	FailureWindow time.Duration

	// Web, when set, serves the phone page for Odoo users.
	Web *Web

	mu       sync.Mutex
	failures map[string]*failures
	limit    ratelog.Limiter
	sessions sessions
}

type failures struct {
	n     int
	since time.Time
}

// HashPassword returns the bcrypt hash for [api] password_hash.
func HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", errors.New("use a password of at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// CheckHash reports whether s looks like a bcrypt hash.
func CheckHash(s string) error {
	if _, err := bcrypt.Cost([]byte(s)); err != nil {
		return errors.New("not a bcrypt hash; make one with: odoo-agi hash-password")
	}
	return nil
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.MaxFailures <= 0 {
		s.MaxFailures = 5
	}
	if s.FailureWindow <= 0 {
		s.FailureWindow = time.Minute
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	// A browser on another site must not place calls with credentials it
	// has cached: refuse cross-origin requests (Sec-Fetch-Site, else Origin
	// against Host). Clients that send neither, such as curl, are not
	// browsers and pass.
	mux.Handle("POST /api/v1/originate", http.NewCrossOriginProtection().Handler(s.auth(http.HandlerFunc(s.originate))))
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics) // counts and states only, like /healthz
	}
	if s.Web != nil {
		s.webRoutes(mux)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// auth checks basic auth in constant time; failures count against the
// client address, and past MaxFailures the address gets 429 until the
// window ends.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sess := s.session(r); sess != nil {
			// The phone page: the session's user, and its CSRF token.
			if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(sess.csrf)) != 1 {
				fail(w, http.StatusForbidden, "missing or wrong "+csrfHeader+": reload the page")
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
			return
		}
		if s.PasswordHash == "" {
			fail(w, http.StatusForbidden, "the click-to-dial API is off: set [api] password_hash (odoo-agi hash-password)")
			return
		}
		ip := clientIP(r)
		if wait := s.blocked(ip); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			fail(w, http.StatusTooManyRequests, "too many failed logins; try again later")
			return
		}
		user, pass, ok := r.BasicAuth()
		// Always run bcrypt, so a wrong user costs the same time as a wrong password.
		passOK := bcrypt.CompareHashAndPassword([]byte(s.PasswordHash), []byte(pass)) == nil
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.User)) == 1
		if !ok || !userOK || !passOK {
			s.failed(ip)
			s.limit.Warn(s.Logger, "auth", "api: rejected a request with wrong or missing credentials", "client", ip, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Basic realm="odoo-agi", charset="UTF-8"`)
			fail(w, http.StatusUnauthorized, "wrong or missing credentials")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) blocked(ip string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failures[ip]
	if f == nil {
		return 0
	}
	left := s.FailureWindow - time.Since(f.since)
	if left <= 0 {
		delete(s.failures, ip)
		return 0
	}
	if f.n >= s.MaxFailures {
		return left
	}
	return 0
}

func (s *Server) failed(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures == nil {
		s.failures = map[string]*failures{}
	}
	f := s.failures[ip]
	if f == nil || time.Since(f.since) > s.FailureWindow {
		f = &failures{since: time.Now()}
		s.failures[ip] = f
	}
	f.n++
	if len(s.failures) > 10000 { // a flood of addresses: forget the oldest state wholesale
		s.failures = map[string]*failures{ip: f}
	}
}

// originateRequest is the body of POST /api/v1/originate.
type originateRequest struct {
	User      string `json:"user"`
	Number    string `json:"number"`
	PartnerID int    `json:"partner_id,omitempty"`
}

func (s *Server) originate(w http.ResponseWriter, r *http.Request) {
	if s.CallTimeout != nil {
		// The server's WriteTimeout is short; a call rings for longer.
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.CallTimeout()))
	}
	// Only JSON: a form (text/plain, urlencoded) is what a cross-site page
	// can send without a preflight.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		fail(w, http.StatusUnsupportedMediaType, "send the body as Content-Type: application/json")
		return
	}
	var req originateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("data after the JSON object")
	}
	if err != nil {
		fail(w, http.StatusBadRequest, fmt.Sprintf("the body must be one JSON object {\"user\": \"john\", \"number\": \"0475 12 34 56\"}: %v", err))
		return
	}
	sess, _ := r.Context().Value(sessionKey{}).(*session)
	if sess != nil {
		req.User = sess.login // a signed-in user calls as themselves
	}
	if strings.TrimSpace(req.User) == "" || strings.TrimSpace(req.Number) == "" {
		fail(w, http.StatusBadRequest, "user and number are required")
		return
	}
	res, err := s.Caller.Call(r.Context(), dialplan.CallRequest{User: req.User, Number: req.Number, PartnerID: req.PartnerID})
	switch {
	case errors.Is(err, dialplan.ErrUnknownUser):
		fail(w, http.StatusNotFound, err.Error())
	case errors.Is(err, dialplan.ErrNoChannel), errors.Is(err, dialplan.ErrBadNumber), errors.Is(err, dialplan.ErrDenied):
		fail(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, dialplan.ErrTooMany):
		fail(w, http.StatusTooManyRequests, err.Error())
	case errors.Is(err, dialplan.ErrPBXDown):
		fail(w, http.StatusServiceUnavailable, err.Error())
	case err != nil:
		s.Logger.Error("api: click-to-dial failed", "user", req.User, "err", err)
		fail(w, http.StatusBadGateway, err.Error())
	default:
		if sess != nil && s.Web != nil && s.Web.Live != nil {
			s.Web.Live.Record(sess.login, dialplan.CallEvent{Call: "click", State: res.Status, Number: cmp.Or(res.E164, res.Dialed),
				Name: res.Partner, PartnerID: req.PartnerID, Detail: res.Detail})
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": res.Status, "detail": res.Detail})
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.Health == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	doc, ok := s.Health()
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, doc)
}

// LoadTLS reads a certificate and its key for Server.TLS, so that a bad
// file is an error at start, before anything serves.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("[api] tls_cert %s and tls_key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Serve runs the API on ln until ctx ends, with TLS when s.TLS is set. It
// returns nil after ctx ends, and the error when the listener fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	h := s.Handler()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelDebug)}
	if s.TLS != nil {
		ln = tls.NewListener(ln, s.TLS)
	}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	defer stop()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
