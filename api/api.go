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
	"net/netip"
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
	// Cluster, when set, is POST /cluster/claim: another odoo-agi asks
	// which of the two posts a call (it checks the shared secret).
	Cluster http.Handler
	Logger  *slog.Logger
	// TLS, when set, serves HTTPS (see LoadTLS).
	TLS *tls.Config
	// CallTimeout is the longest a click-to-dial request may take to
	// answer; it is read per request, so a reload applies it.
	CallTimeout func() time.Duration

	// MaxFailures per login and per client address in FailureWindow,
	// counted apart for the API and the page; then 429.
	MaxFailures   int
	FailureWindow time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed; from any other peer they are not.
	TrustedProxies []netip.Prefix

	// Web, when set, serves the phone page for Odoo users.
	Web *Web

	apiLimit  Limiter // basic auth: bcrypt
	pageLimit Limiter // the page's sign-in: Odoo
	limit     ratelog.Limiter
	sessions  sessions
	leads     struct {
		mu sync.Mutex
		at time.Time
		ok bool
	}
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
	// The API has one user: at the page's per-login count, anyone could
	// lock it out with a few guesses. Each address still gets MaxFailures.
	s.apiLimit = Limiter{Max: s.MaxFailures, PerLogin: 10 * s.MaxFailures, Window: s.FailureWindow, Total: 16}
	s.pageLimit = Limiter{Max: s.MaxFailures, Window: s.FailureWindow}
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
	if s.Cluster != nil {
		mux.Handle("POST /cluster/claim", s.Cluster)
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

// auth checks basic auth in constant time. Each check reserves its place
// in the API's limiter before bcrypt runs, per user name and per client
// address, so parallel guesses get 429 without costing CPU.
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
		ip, _ := s.client(r)
		user, pass, ok := r.BasicAuth()
		res, wait := s.apiLimit.Reserve(addrKey(ip), loginKey(user))
		if res == nil {
			w.Header().Set("Retry-After", retryAfter(wait))
			fail(w, http.StatusTooManyRequests, "too many failed logins; try again later")
			return
		}
		// Always run bcrypt, so a wrong user costs the same time as a wrong password.
		passOK := bcrypt.CompareHashAndPassword([]byte(s.PasswordHash), []byte(pass)) == nil
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.User)) == 1
		good := ok && userOK && passOK
		res.Done(!good)
		if !good {
			s.limit.Warn(s.Logger, "auth", "api: rejected a request with wrong or missing credentials", "client", ip, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Basic realm="odoo-agi", charset="UTF-8"`)
			fail(w, http.StatusUnauthorized, "wrong or missing credentials")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// retryAfter is a Retry-After value in whole seconds, rounded up.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

// client returns the client's address and whether it reached us over
// HTTPS. Forwarded headers count only from a trusted proxy: then the
// client is the last address in X-Forwarded-For that is not a trusted
// proxy itself, since each proxy appends the peer it saw.
func (s *Server) client(r *http.Request) (ip string, secure bool) {
	ip = r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ip = host
	}
	secure = r.TLS != nil
	if !s.trusted(ip) {
		return ip, secure
	}
	if p := r.Header.Values("X-Forwarded-Proto"); len(p) > 0 {
		last := p[len(p)-1]
		last = strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])
		secure = strings.EqualFold(last, "https")
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if ap, err := netip.ParseAddrPort(hop); err == nil {
			hop = ap.Addr().String()
		}
		ip = hop
		if !s.trusted(hop) {
			break
		}
	}
	return ip, secure
}

func (s *Server) trusted(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
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
