package lookup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kolo/xmlrpc"
)

// Errors the Odoo client returns; callers branch on them with errors.Is.
var (
	ErrOdooLogin       = errors.New("odoo: login failed")
	ErrOdooAccess      = errors.New("odoo: access denied")
	ErrOdooUser        = errors.New("odoo: user error")
	ErrOdooServer      = errors.New("odoo: server error")
	ErrOdooUnreachable = errors.New("odoo: unreachable")
)

// OdooError is one failed Odoo call, with a message an admin can act on.
type OdooError struct {
	Kind  error  // one of the ErrOdoo… sentinels
	Fault int    // XML-RPC fault code, 0 for transport errors
	Msg   string // the whole sentence
	Err   error  // the cause, for transport errors
}

func (e *OdooError) Error() string { return e.Msg }

// Unwrap exposes the sentinel and the cause to errors.Is.
func (e *OdooError) Unwrap() []error { return []error{e.Kind, e.Err} }

// OdooConfig says where and as whom to call Odoo.
type OdooConfig struct {
	URL      string // e.g. http://127.0.0.1:8069
	DB       string
	User     string
	Password string
	Timeout  time.Duration // per call; 0 means 30s
	Logger   *slog.Logger
	Trace    bool // log every call at debug level, password redacted
}

// OdooClient calls Odoo's external API over XML-RPC. It logs in once and
// reuses the uid: authenticate costs about 0.8 s on a real Odoo.
type OdooClient struct {
	cfg  OdooConfig
	http *http.Client

	mu  sync.Mutex
	uid int

	Calls func(model, method string, d time.Duration, err error) // optional metrics hook
}

// NewOdooClient returns a client; it does not connect until the first call.
func NewOdooClient(cfg OdooConfig) *OdooClient {
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
	return &OdooClient{cfg: cfg, http: &http.Client{Transport: tr, Timeout: cfg.Timeout}}
}

// Login authenticates and caches the uid.
func (c *OdooClient) Login(ctx context.Context) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loginLocked(ctx)
}

func (c *OdooClient) loginLocked(ctx context.Context) (int, error) {
	var res any
	err := c.call(ctx, "common", "authenticate", "", "", &res, c.cfg.DB, c.cfg.User, c.cfg.Password, map[string]any{})
	if err != nil {
		return 0, err
	}
	uid, ok := asInt(res)
	if !ok || uid == 0 {
		return 0, &OdooError{Kind: ErrOdooLogin, Msg: fmt.Sprintf(
			"odoo: login failed for user %q on db %q: wrong login or password (check [odoo] user and password)", c.cfg.User, c.cfg.DB)}
	}
	c.uid = uid
	return uid, nil
}

// Execute calls execute_kw(db, uid, password, model, method, args, kwargs)
// and decodes the result into generic values (int64, bool, string, []any,
// map[string]any). After a Fault 3 it logs in once more and retries.
func (c *OdooClient) Execute(ctx context.Context, model, method string, args []any, kwargs map[string]any) (any, error) {
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
		err = c.call(ctx, "object", "execute_kw", model, method, &res, c.cfg.DB, uid, c.cfg.Password, model, method, args, kwargs)
		var oe *OdooError
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

func (c *OdooClient) call(ctx context.Context, service, fn, model, method string, out *any, args ...any) error {
	start := time.Now()
	what := fn
	if model != "" {
		what = model + "." + method
	}
	err := c.post(ctx, service, fn, model, method, out, args)
	if c.Calls != nil {
		c.Calls(model, method, time.Since(start), err)
	}
	if c.cfg.Trace {
		// Arguments are not logged: they hold the password.
		c.cfg.Logger.Debug("odoo call", "call", what, "took", time.Since(start).Round(time.Microsecond), "err", err)
	}
	return err
}

func (c *OdooClient) post(ctx context.Context, service, fn, model, method string, out *any, args []any) error {
	url := c.cfg.URL + "/xmlrpc/2/" + service
	body, err := xmlrpc.EncodeMethodCall(fn, args...)
	if err != nil {
		return fmt.Errorf("odoo: encode %s: %w", fn, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &OdooError{Kind: ErrOdooUnreachable, Err: err, Msg: fmt.Sprintf("odoo: bad URL %q (check [odoo] url): %v", c.cfg.URL, err)}
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := c.http.Do(req)
	if err != nil {
		return &OdooError{Kind: ErrOdooUnreachable, Err: err, Msg: fmt.Sprintf("odoo: cannot reach %s: %s", c.cfg.URL, shortNetErr(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return &OdooError{Kind: ErrOdooUnreachable, Err: err, Msg: fmt.Sprintf("odoo: reading the answer from %s: %s", c.cfg.URL, shortNetErr(err))}
	}
	if resp.StatusCode != http.StatusOK {
		return &OdooError{Kind: ErrOdooUnreachable, Msg: fmt.Sprintf("odoo: %s answered HTTP %d (is Odoo running behind it?)", url, resp.StatusCode)}
	}
	r := xmlrpc.Response(data)
	if err := r.Err(); err != nil {
		var f xmlrpc.FaultError
		if errors.As(err, &f) {
			return c.fault(f, model, method)
		}
		return &OdooError{Kind: ErrOdooServer, Err: err, Msg: fmt.Sprintf("odoo: unreadable answer from %s: %v", url, err)}
	}
	if err := r.Unmarshal(out); err != nil {
		return &OdooError{Kind: ErrOdooServer, Err: err, Msg: fmt.Sprintf("odoo: unreadable answer from %s: %v", url, err)}
	}
	return nil
}

// fault turns an Odoo Fault into one sentence: 3 wrong password, 4 access
// rights, 2 user errors, 1 server tracebacks (its last line is the cause).
func (c *OdooClient) fault(f xmlrpc.FaultError, model, method string) error {
	last := lastLine(f.String)
	e := &OdooError{Fault: f.Code}
	switch f.Code {
	case 3:
		e.Kind = ErrOdooLogin
		e.Msg = fmt.Sprintf("odoo: login failed for user %q on db %q: wrong password (check [odoo] password)", c.cfg.User, c.cfg.DB)
	case 4:
		e.Kind = ErrOdooAccess
		e.Msg = fmt.Sprintf("odoo: user %q is not allowed to %s %s: %s", c.cfg.User, verb(method), model, firstLine(f.String))
	case 2:
		e.Kind = ErrOdooUser
		e.Msg = fmt.Sprintf("odoo: %s.%s refused: %s", model, method, firstLine(f.String))
	default:
		e.Kind = ErrOdooServer
		if strings.Contains(f.String, "does not exist") && strings.Contains(f.String, "database") {
			e.Msg = fmt.Sprintf("odoo: database %q does not exist on %s (check [odoo] db)", c.cfg.DB, c.cfg.URL)
		} else {
			e.Msg = fmt.Sprintf("odoo: server error in %s.%s: %s", model, method, last)
		}
	}
	return e
}

func verb(method string) string {
	switch method {
	case "search_read", "read", "search", "search_count", "fields_get":
		return "read"
	case "create":
		return "create"
	case "write", "message_post":
		return "write"
	}
	return "call " + method + " on"
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[i+1:])
	}
	return s
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

// Odoo's generic values: False is empty, many2one is [id, "name"].

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int64:
		return int(x), true
	case int:
		return x, true
	case float64:
		return int(x), true
	}
	return 0, false
}

func asString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func asBool(v any) bool {
	b, _ := v.(bool)
	return b
}

// asMany2one returns the id and name of [id, "name"], or 0, "" for False.
func asMany2one(v any) (int, string) {
	pair, ok := v.([]any)
	if !ok || len(pair) < 1 {
		return 0, ""
	}
	id, _ := asInt(pair[0])
	name := ""
	if len(pair) > 1 {
		name = asString(pair[1])
	}
	return id, name
}

// asIDs returns a many2many id list.
func asIDs(v any) []int {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]int, 0, len(list))
	for _, e := range list {
		if id, ok := asInt(e); ok {
			out = append(out, id)
		}
	}
	return out
}
