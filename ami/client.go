package ami

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors callers branch on.
var (
	ErrNotConnected = errors.New("ami: not connected to Asterisk")
	ErrAuth         = errors.New("Authentication failed") // Asterisk's words; always wrapped
	ErrPermission   = errors.New("Permission denied")
	ErrTimeout      = errors.New("ami: timed out waiting for Asterisk")
	ErrClosed       = errors.New("ami: connection closed")
)

// Error is a "Response: Error" to an action.
type Error struct {
	Action  string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("ami: %s: %s", e.Action, e.Message) }

// Is maps Asterisk's messages to the sentinel errors.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.Message == "Authentication failed"
	case ErrPermission:
		return e.Message == "Permission denied"
	}
	return false
}

// Client talks to one Asterisk manager. Set the fields, then either call
// Connect for a single session (CLI use) or Run to stay connected.
type Client struct {
	Addr        string        // host:port of manager.conf's bindaddr/port; default 127.0.0.1:5038
	Username    string        // manager.conf [user]
	Secret      string        // its secret; never logged
	DialTimeout time.Duration // default 5s
	Logger      *slog.Logger
	Trace       bool // log every message at debug level (Secret redacted)

	seq    atomic.Uint64
	prefix string
	once   sync.Once

	mu      sync.Mutex
	cur     *conn
	lastErr error
	since   time.Time
	subs    map[*subscriber]struct{}
	dropped atomic.Int64 // events a slow subscriber missed
}

// subscriber receives the events that answer no action.
type subscriber struct {
	names map[string]bool // event names, lower case; nil takes all
	ch    chan Message
}

// Subscribe returns the events Asterisk sends of its own accord (DialBegin,
// Hangup, …) whose names are among names (all when none), until ctx ends.
// They arrive only while the manager user has the read permission for them
// (read = call). A subscriber that falls 256 events behind loses the next
// ones, counted in State. The channel is closed when ctx ends.
func (c *Client) Subscribe(ctx context.Context, names ...string) <-chan Message {
	sub := &subscriber{ch: make(chan Message, 256)}
	if len(names) > 0 {
		sub.names = map[string]bool{}
		for _, n := range names {
			sub.names[strings.ToLower(n)] = true
		}
	}
	c.mu.Lock()
	if c.subs == nil {
		c.subs = map[*subscriber]struct{}{}
	}
	c.subs[sub] = struct{}{}
	c.mu.Unlock()
	context.AfterFunc(ctx, func() {
		c.mu.Lock()
		delete(c.subs, sub)
		c.mu.Unlock()
		close(sub.ch)
	})
	return sub.ch
}

// publish hands an unsolicited event to the subscribers that want it.
func (c *Client) publish(m Message) {
	name := strings.ToLower(m.Get("Event"))
	c.mu.Lock()
	defer c.mu.Unlock()
	for sub := range c.subs {
		if sub.names != nil && !sub.names[name] {
			continue
		}
		select {
		case sub.ch <- m:
		default:
			c.dropped.Add(1)
		}
	}
}

// State is the connection state, for health checks.
type State struct {
	Connected     bool
	Since         time.Time // of the last change
	LastError     string
	DroppedEvents int64 // events a slow subscriber missed
}

// State reports whether the client is logged in.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{Connected: c.cur != nil, Since: c.since, DroppedEvents: c.dropped.Load()}
	if c.lastErr != nil {
		s.LastError = c.lastErr.Error()
	}
	return s
}

func (c *Client) init() {
	c.once.Do(func() {
		var b [4]byte
		rand.Read(b[:])
		c.prefix = "odoo-agi-" + hex.EncodeToString(b[:]) + "-"
		if c.Addr == "" {
			c.Addr = "127.0.0.1:5038"
		}
		if c.DialTimeout <= 0 {
			c.DialTimeout = 5 * time.Second
		}
		if c.Logger == nil {
			c.Logger = slog.Default()
		}
	})
}

func (c *Client) nextID() string {
	return c.prefix + fmt.Sprint(c.seq.Add(1))
}

// Connect dials, reads the banner and logs in once. Close ends the session.
func (c *Client) Connect(ctx context.Context) error {
	c.init()
	cn, err := c.dial(ctx)
	if err != nil {
		c.setState(nil, err)
		return err
	}
	c.setState(cn, nil)
	go func() {
		<-cn.done
		c.setState(nil, cn.err)
	}()
	return nil
}

// Run keeps the client connected until ctx ends, reconnecting with
// backoff (1 s doubling to 30 s). Each failure is logged once per state
// change, not once per attempt.
func (c *Client) Run(ctx context.Context) {
	c.init()
	backoff := time.Second
	var lastLogged string
	for ctx.Err() == nil {
		cn, err := c.dial(ctx)
		if err != nil {
			c.setState(nil, err)
			if msg := err.Error(); msg != lastLogged {
				c.Logger.Error("ami: cannot log in to Asterisk; click-to-dial is down until it can", "err", err, "retry_in", backoff)
				lastLogged = msg
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff, lastLogged = time.Second, ""
		c.setState(cn, nil)
		c.Logger.Info("ami: logged in to Asterisk", "addr", c.Addr, "user", c.Username)
		select {
		case <-ctx.Done():
			c.logoff(cn)
			return
		case <-cn.done:
		}
		c.setState(nil, cn.err)
		c.Logger.Warn("ami: lost the connection to Asterisk; reconnecting", "err", cn.err)
	}
}

// Close logs off and closes the current session.
func (c *Client) Close() error {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn == nil {
		return nil
	}
	c.logoff(cn)
	c.setState(nil, ErrClosed)
	return nil
}

func (c *Client) logoff(cn *conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cn.roundTrip(ctx, NewAction("Logoff"), c.nextID(), "")
	cn.close(ErrClosed)
}

func (c *Client) setState(cn *conn, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != cn {
		c.since = time.Now()
	}
	c.cur = cn
	if err != nil {
		c.lastErr = err
	}
}

// dial connects, checks the banner and logs in.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: c.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("ami: cannot connect to Asterisk at %s: %w (is the manager enabled in manager.conf?)", c.Addr, unwrapNet(err))
	}
	nc.SetReadDeadline(time.Now().Add(c.DialTimeout))
	br := bufio.NewReaderSize(nc, 16<<10)
	banner, err := readLine(br)
	if err != nil || !strings.HasPrefix(banner, "Asterisk Call Manager/") {
		nc.Close()
		if err == nil {
			err = fmt.Errorf("got %q", banner)
		}
		return nil, fmt.Errorf("ami: %s did not greet as an Asterisk manager: %w", c.Addr, err)
	}
	nc.SetReadDeadline(time.Time{})
	cn := newConn(nc, br, c.Logger, c.Trace)
	cn.publish = c.publish
	go cn.readLoop()
	login := NewAction("Login")
	login.Add("Username", c.Username)
	login.Add("Secret", c.Secret)
	lctx, cancel := context.WithTimeout(ctx, c.DialTimeout)
	defer cancel()
	if _, err := cn.roundTrip(lctx, login, c.nextID(), ""); err != nil {
		cn.close(err)
		if errors.Is(err, ErrAuth) {
			return nil, fmt.Errorf("ami: login as %q on %s: %w (check [ami] user and secret against manager.conf)", c.Username, c.Addr, ErrAuth)
		}
		return nil, fmt.Errorf("ami: login as %q on %s: %w", c.Username, c.Addr, err)
	}
	return cn, nil
}

func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// Action sends an action and returns its response. A "Response: Error"
// comes back as *Error.
func (c *Client) Action(ctx context.Context, a Message) (Message, error) {
	c.init()
	cn, err := c.conn()
	if err != nil {
		return Message{}, err
	}
	return cn.roundTrip(ctx, a, c.nextID(), "")
}

func (c *Client) conn() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		if c.lastErr != nil && !errors.Is(c.lastErr, ErrClosed) {
			return nil, fmt.Errorf("%w (%v)", ErrNotConnected, c.lastErr)
		}
		return nil, ErrNotConnected
	}
	return c.cur, nil
}

// Ping checks that Asterisk answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Action(ctx, NewAction("Ping"))
	return err
}

// Command runs a CLI command and returns its output lines.
func (c *Client) Command(ctx context.Context, command string) ([]string, error) {
	a := NewAction("Command")
	a.Add("Command", command)
	r, err := c.Action(ctx, a)
	if err != nil {
		return nil, err
	}
	return r.All("Output"), nil
}

// conn is one logged-in (or logging-in) TCP session.
type conn struct {
	nc      net.Conn
	br      *bufio.Reader
	log     *slog.Logger
	trace   bool
	publish func(Message) // unsolicited events

	wmu sync.Mutex

	mu      sync.Mutex
	pending map[string]*waiter
	err     error
	done    chan struct{}
}

// waiter receives the response to one action and, when event is set, the
// event of that name carrying the same ActionID.
type waiter struct {
	event string
	resp  chan Message
	ev    chan Message
}

// tracing reports whether to log messages now: Trace is set and the
// logger is enabled for debug, which a reload may change.
func (cn *conn) tracing() bool {
	return cn.trace && cn.log.Enabled(context.Background(), slog.LevelDebug)
}

func newConn(nc net.Conn, br *bufio.Reader, log *slog.Logger, trace bool) *conn {
	return &conn{nc: nc, br: br, log: log, trace: trace, pending: map[string]*waiter{}, done: make(chan struct{})}
}

func (cn *conn) close(err error) {
	cn.mu.Lock()
	if cn.err == nil {
		cn.err = err
	}
	cn.mu.Unlock()
	cn.nc.Close()
}

// readLoop dispatches responses and awaited events until the connection
// ends. Other events go to the subscribers.
func (cn *conn) readLoop() {
	defer close(cn.done)
	for {
		m, err := ReadMessage(cn.br)
		if err != nil {
			cn.close(fmt.Errorf("%w: %v", ErrClosed, err))
			return
		}
		if cn.tracing() {
			cn.log.Debug("ami <-", "msg", m.String())
		}
		id := m.Get("ActionID")
		var w *waiter
		if id != "" {
			cn.mu.Lock()
			w = cn.pending[id]
			cn.mu.Unlock()
		}
		if w == nil {
			if m.Has("Event") && cn.publish != nil {
				cn.publish(m)
			}
			continue
		}
		switch {
		case m.Has("Response") && !m.Has("Event"):
			select {
			case w.resp <- m:
			default:
			}
		case w.event != "" && strings.EqualFold(m.Get("Event"), w.event):
			select {
			case w.ev <- m:
			default:
			}
		}
	}
}

// send registers a waiter for id and writes the action.
func (cn *conn) send(ctx context.Context, a Message, id, event string) (*waiter, error) {
	a.Fields = append([]Field{a.Fields[0], {"ActionID", id}}, a.Fields[1:]...)
	b, err := a.encode()
	if err != nil {
		return nil, err
	}
	w := &waiter{event: event, resp: make(chan Message, 1), ev: make(chan Message, 1)}
	cn.mu.Lock()
	if cn.err != nil {
		err := cn.err
		cn.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrNotConnected, err)
	}
	cn.pending[id] = w
	cn.mu.Unlock()
	if cn.tracing() {
		cn.log.Debug("ami ->", "msg", a.String())
	}
	cn.wmu.Lock()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(5 * time.Second)
	}
	cn.nc.SetWriteDeadline(dl)
	_, err = cn.nc.Write(b)
	cn.wmu.Unlock()
	if err != nil {
		cn.forget(id)
		cn.close(fmt.Errorf("%w: %v", ErrClosed, err))
		return nil, fmt.Errorf("ami: sending %s: %w", a.Get("Action"), err)
	}
	return w, nil
}

func (cn *conn) forget(id string) {
	cn.mu.Lock()
	delete(cn.pending, id)
	cn.mu.Unlock()
}

// roundTrip sends a and waits for its response.
func (cn *conn) roundTrip(ctx context.Context, a Message, id, event string) (Message, error) {
	w, err := cn.send(ctx, a, id, event)
	if err != nil {
		return Message{}, err
	}
	if event == "" {
		defer cn.forget(id)
	}
	r, err := cn.await(ctx, w.resp, a.Get("Action"))
	if err != nil {
		cn.forget(id)
		return Message{}, err
	}
	if strings.EqualFold(r.Get("Response"), "Error") {
		cn.forget(id)
		return r, &Error{Action: a.Get("Action"), Message: r.Get("Message")}
	}
	return r, nil
}

func (cn *conn) await(ctx context.Context, ch <-chan Message, what string) (Message, error) {
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		return Message{}, fmt.Errorf("%w (%s)", ErrTimeout, what)
	case <-cn.done:
		select {
		case m := <-ch: // it arrived just before the close
			return m, nil
		default:
		}
		cn.mu.Lock()
		err := cn.err
		cn.mu.Unlock()
		return Message{}, fmt.Errorf("ami: %s: %w", what, err)
	}
}
