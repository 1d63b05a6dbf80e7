package odoo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kolo/xmlrpc"
)

// The APIs a Client speaks.
const (
	Auto   = "auto"   // JSON-2 when an API key is set and Odoo serves it (19+), else XML-RPC
	XMLRPC = "xmlrpc" // /xmlrpc/2: Odoo 8 to 21 (deprecated from 19, removed in 22)
	JSON2  = "json2"  // /json/2: Odoo 19 and later, with an API key
)

// Config says where and as whom to call Odoo.
type Config struct {
	URL      string // e.g. http://127.0.0.1:8069
	DB       string
	User     string
	Password string
	// APIKey is the credential for JSON-2; over XML-RPC it is used in
	// place of the password, as Odoo 14 and later accept.
	APIKey  string
	API     string        // Auto (default), XMLRPC or JSON2
	Timeout time.Duration // per call; 0 means 30s
	Logger  *slog.Logger
	Trace   bool // log every call at debug level, secrets redacted
}

// Client calls Odoo's external API over XML-RPC or JSON-2, with the same
// typed errors either way. Over XML-RPC it logs in once and reuses the uid:
// authenticate costs about 0.8 s on a real Odoo. JSON-2 sends the API key
// with every call and needs no login.
type Client struct {
	cfg   Config
	shown string // cfg.URL with its password redacted, for messages
	http  *http.Client

	mu  sync.Mutex
	uid int
	api string // XMLRPC or JSON2, once resolved

	Calls func(model, method string, d time.Duration, err error) // optional metrics hook
}

// New returns a client; it does not connect until the first call.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &Client{cfg: cfg, shown: RedactURL(cfg.URL), http: &http.Client{Transport: tr, Timeout: cfg.Timeout}}
}

// Login checks the credentials: over XML-RPC it authenticates and caches
// the uid; over JSON-2 it makes one call with the key and returns uid 0.
func (c *Client) Login(ctx context.Context) (int, error) {
	api, err := c.API(ctx)
	if err != nil {
		return 0, err
	}
	if api == JSON2 {
		_, err := c.json2(ctx, "res.users", "context_get", nil, nil)
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loginLocked(ctx)
}

// secret is what XML-RPC sends: the API key when one is set.
func (c *Client) secret() string { return cmp.Or(c.cfg.APIKey, c.cfg.Password) }

// API returns the API the client speaks, deciding it at the first call:
// with Auto and an API key, JSON-2 when Odoo serves it, else XML-RPC. A
// wrong key is an error, not a reason to fall back.
func (c *Client) API(ctx context.Context) (string, error) {
	c.mu.Lock()
	api := c.api
	c.mu.Unlock()
	if api != "" {
		return api, nil
	}
	switch c.cfg.API {
	case XMLRPC, JSON2:
		api = c.cfg.API
	default:
		api = XMLRPC
		if c.cfg.APIKey != "" {
			_, err := c.json2(ctx, "res.users", "context_get", nil, nil)
			switch {
			case err == nil:
				api = JSON2
			case !errors.Is(err, errNoJSON2):
				return "", err
			}
		}
	}
	c.mu.Lock()
	c.api = api
	c.mu.Unlock()
	return api, nil
}

// ServerVersion asks Odoo's version over XML-RPC (common.version, which
// every version answers) and returns its major number.
func (c *Client) ServerVersion(ctx context.Context) (int, error) {
	var res any
	if err := c.call(ctx, "common", "version", "", "", &res); err != nil {
		return 0, err
	}
	m, _ := res.(map[string]any)
	info, _ := m["server_version_info"].([]any)
	if len(info) == 0 {
		return 0, &Error{Kind: ErrServer, Msg: "odoo: version() gave no server_version_info"}
	}
	major, _ := Int(info[0])
	return major, nil
}

// Authenticate checks another user's login and password (or API key)
// with common.authenticate on the same Odoo and database. It returns the
// uid, or 0 and no error when Odoo answers False. Neither is kept or
// logged. Odoo's login cooldown does not count these failures
// (docs/odoo-wire.md), so guesses through odoo-agi lock no one else out.
// The answer is a few hundred bytes: a larger one is an error.
func (c *Client) Authenticate(ctx context.Context, login, password string) (int, error) {
	var res any
	if err := c.callLimit(ctx, authAnswerMax, "common", "authenticate", &res, c.cfg.DB, login, password, map[string]any{}); err != nil {
		return 0, err
	}
	if res == false {
		return 0, nil
	}
	if uid, ok := Int(res); ok && uid > 0 {
		return uid, nil
	}
	return 0, &Error{Kind: ErrServer, Msg: fmt.Sprintf("odoo: authenticate on %s gave neither a uid nor False: %.40v", c.shown, res)}
}

// authAnswerMax caps common.authenticate's answer.
const authAnswerMax = 64 << 10

// UserActive reports whether an active res.users record has this login:
// false once the user is archived or deleted.
func (c *Client) UserActive(ctx context.Context, login string) (bool, error) {
	res, err := c.Execute(ctx, "res.users", "search_count", []any{[]any{[]any{"login", "=", login}}}, nil)
	if err != nil {
		return false, err
	}
	n, ok := Int(res)
	if !ok {
		return false, &Error{Kind: ErrServer, Msg: fmt.Sprintf("odoo: res.users search_count gave %.40v", res)}
	}
	return n > 0, nil
}

func (c *Client) loginLocked(ctx context.Context) (int, error) {
	var res any
	err := c.call(ctx, "common", "authenticate", "", "", &res, c.cfg.DB, c.cfg.User, c.secret(), map[string]any{})
	if err != nil {
		return 0, err
	}
	uid, ok := Int(res)
	if !ok || uid == 0 {
		return 0, &Error{Kind: ErrLogin, Msg: fmt.Sprintf(
			"odoo: login failed for user %q on db %q: wrong login or password (check [odoo] user and password, or api_key)", c.cfg.User, c.cfg.DB)}
	}
	c.uid = uid
	return uid, nil
}

// Execute calls a model method and decodes the result into generic values
// (numbers, bool, string, []any, map[string]any; read them with Int and the
// other helpers). Over XML-RPC it is execute_kw(db, uid, password, model,
// method, args, kwargs), logging in once more after a Fault 3; over JSON-2
// the positional args become the method's named arguments.
func (c *Client) Execute(ctx context.Context, model, method string, args []any, kwargs map[string]any) (any, error) {
	api, err := c.API(ctx)
	if err != nil {
		return nil, err
	}
	if api == JSON2 {
		return c.json2(ctx, model, method, args, kwargs)
	}
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		uid := c.uid
		var err error
		if uid == 0 {
			uid, err = c.loginLocked(ctx)
		}
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if args == nil {
			args = []any{}
		}
		if kwargs == nil {
			kwargs = map[string]any{}
		}
		var res any
		err = c.call(ctx, "object", "execute_kw", model, method, &res, c.cfg.DB, uid, c.secret(), model, method, args, kwargs)
		var oe *Error
		if errors.As(err, &oe) && oe.Fault == 3 && attempt == 0 {
			// The password may have changed, or the session: log in again, once.
			c.mu.Lock()
			c.uid = 0
			c.mu.Unlock()
			continue
		}
		return res, err
	}
}

func (c *Client) call(ctx context.Context, service, fn, model, method string, out *any, args ...any) error {
	start := time.Now()
	err := c.post(ctx, answerMax, service, fn, model, method, out, args)
	if model == "" {
		model, method = service, fn // common.authenticate, common.version
	}
	c.observe(ctx, XMLRPC, model, method, start, err)
	return err
}

// callLimit is call for a common service whose answer is at most limit bytes.
func (c *Client) callLimit(ctx context.Context, limit int64, service, fn string, out *any, args ...any) error {
	start := time.Now()
	err := c.post(ctx, limit, service, fn, "", "", out, args)
	c.observe(ctx, XMLRPC, service, fn, start, err)
	return err
}

// answerMax caps any XML-RPC answer: a full page of a million contacts fits.
const answerMax = 256 << 20

// observe feeds the metrics hook and the debug trace. Arguments are not
// logged: they hold the password.
func (c *Client) observe(ctx context.Context, api, model, method string, start time.Time, err error) {
	if c.Calls != nil {
		c.Calls(model, method, time.Since(start), err)
	}
	if c.cfg.Trace && c.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		c.cfg.Logger.Debug("odoo call", "api", api, "call", model+"."+method, "took", time.Since(start).Round(time.Microsecond), "err", err)
	}
}

func (c *Client) post(ctx context.Context, limit int64, service, fn, model, method string, out *any, args []any) error {
	url := c.cfg.URL + "/xmlrpc/2/" + service
	shown := c.shown + "/xmlrpc/2/" + service
	body, err := xmlrpc.EncodeMethodCall(fn, args...)
	if err != nil {
		return fmt.Errorf("odoo: encode %s: %w", fn, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &Error{Kind: ErrUnreachable, Err: err, Msg: fmt.Sprintf("odoo: bad URL %q (check [odoo] url)", c.shown)}
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Kind: ErrUnreachable, Err: err, Msg: fmt.Sprintf("odoo: cannot reach %s: %s", c.shown, shortNetErr(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return &Error{Kind: ErrUnreachable, Err: err, Msg: fmt.Sprintf("odoo: reading the answer from %s: %s", c.shown, shortNetErr(err))}
	}
	if int64(len(data)) > limit {
		return &Error{Kind: ErrServer, Msg: fmt.Sprintf("odoo: %s answered %s with more than %d bytes; is it Odoo?", shown, fn, limit)}
	}
	if resp.StatusCode != http.StatusOK {
		return &Error{Kind: ErrUnreachable, Msg: fmt.Sprintf("odoo: %s answered HTTP %d (is Odoo running behind it?)", shown, resp.StatusCode)}
	}
	if v, err := responseValue(data); err == nil {
		*out = v
		return nil
	}
	r := xmlrpc.Response(data)
	if err := r.Err(); err != nil {
		var f xmlrpc.FaultError
		if errors.As(err, &f) {
			return c.fault(f, model, method)
		}
		return &Error{Kind: ErrServer, Err: err, Msg: fmt.Sprintf("odoo: unreadable answer from %s: %v", shown, err)}
	}
	if err := r.Unmarshal(out); err != nil {
		return &Error{Kind: ErrServer, Err: err, Msg: fmt.Sprintf("odoo: unreadable answer from %s: %v", shown, err)}
	}
	return nil
}

// RedactURL returns u with the password of its user info, if any, replaced
// by "xxxxx": a URL is logged and shown, its password never.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		if i := strings.LastIndexByte(u, '@'); i >= 0 {
			return "(redacted)@" + u[i+1:]
		}
		return u
	}
	return p.Redacted()
}

func shortNetErr(err error) string {
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		return ne.Err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within the deadline"
	}
	return err.Error()
}
