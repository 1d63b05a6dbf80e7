package agi

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odoo-agi/odoo-agi/internal/ratelog"
)

// Defaults for a zero Server.
const (
	DefaultAddr           = "127.0.0.1:4573"
	DefaultMaxSessions    = 1000
	DefaultEnvTimeout     = 2 * time.Second
	DefaultCommandTimeout = 5 * time.Second
	DefaultSessionTimeout = 30 * time.Second
)

// readers are reused across sessions: one 4 KiB buffer each.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxEnvLineSize) }}

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown.
var ErrServerClosed = errors.New("agi: server closed")

// Server accepts FastAGI sessions. Its zero value serves on DefaultAddr,
// admits loopback peers only, and uses the default limits.
type Server struct {
	Addr    string  // "host:port"; DefaultAddr when empty
	Handler Handler // usually a *ServeMux

	// Allow lists the peers that may open sessions; empty admits loopback only.
	Allow []netip.Prefix

	MaxSessions int // concurrent sessions; more are closed at once
	// Timeouts; zero means the Default one. A negative one expires at once.
	EnvTimeout     time.Duration // to receive the whole agi_* block
	CommandTimeout time.Duration // for one command's reply
	SessionTimeout time.Duration // for the whole session

	Logger *slog.Logger // nil: slog.Default()
	// Trace logs every command and reply at debug level, in the sessions
	// that start while Logger is enabled for debug.
	Trace bool
	// OnSessionEnd, when set, is called after every session and every
	// refused connection, for metrics. It must not block.
	OnSessionEnd func(SessionEnd)

	mu         sync.Mutex // guards listeners, conns, and the start of Shutdown
	listeners  map[net.Listener]struct{}
	conns      map[net.Conn]*conn
	inShutdown atomic.Bool
	active     atomic.Int64
	wg         sync.WaitGroup
	limit      ratelog.Limiter // warnings a peer can repeat at will: one line per cause per 10 s
}

// SessionEnd describes a finished or refused session.
type SessionEnd struct {
	Script   string        // the route; "" when refused before the env block
	Outcome  string        // ok, hangup, error, bad_env, panic, refused, busy
	Commands int           // AGI round trips
	Duration time.Duration // from accept to close
}

func (srv *Server) ended(e SessionEnd) {
	if srv.OnSessionEnd != nil {
		srv.OnSessionEnd(e)
	}
}

// ActiveSessions reports how many sessions are running now.
func (srv *Server) ActiveSessions() int { return int(srv.active.Load()) }

// ListenAndServe listens on srv.Addr and serves until Shutdown.
func (srv *Server) ListenAndServe() error {
	if srv.inShutdown.Load() {
		return ErrServerClosed
	}
	addr := srv.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("agi: listen on %s: %w", addr, err)
	}
	return srv.Serve(ln)
}

// Serve accepts sessions on ln until Shutdown. It closes ln on return.
func (srv *Server) Serve(ln net.Listener) error {
	if !srv.track(ln, true) {
		ln.Close()
		return ErrServerClosed
	}
	defer srv.track(ln, false)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if srv.inShutdown.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("agi: accept: %w", err)
			}
			// EMFILE and the like pass; keep serving the sessions we have.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			srv.logger().Warn("agi: accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !srv.allowed(c.RemoteAddr()) {
			srv.limit.Warn(srv.logger(), "refused", "agi: refused a peer outside [agi] allow", "peer", c.RemoteAddr().String())
			c.Close()
			srv.ended(SessionEnd{Outcome: "refused"})
			continue
		}
		switch err := srv.register(c); err {
		case nil:
			go srv.serveConn(c)
		case errBusy:
			c.Close()
			srv.limit.Warn(srv.logger(), "busy", "agi: too many sessions; refusing new ones (Asterisk continues with AGISTATUS=FAILURE)",
				"max_sessions", srv.maxSessions())
			srv.ended(SessionEnd{Outcome: "busy"})
		default:
			c.Close()
			return err
		}
	}
}

var errBusy = errors.New("agi: too many sessions")

// register counts c as a running session. It refuses with errBusy past
// MaxSessions and with ErrServerClosed once Shutdown has begun. As in
// net/http, a connection is registered under the lock that Shutdown takes
// to begin, so wg.Add never races wg.Wait and no session outlives Shutdown.
func (srv *Server) register(c net.Conn) error {
	start := time.Now()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.inShutdown.Load() {
		return ErrServerClosed
	}
	if srv.active.Load() >= int64(srv.maxSessions()) {
		return errBusy
	}
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(cmp.Or(srv.SessionTimeout, DefaultSessionTimeout)))
	if srv.conns == nil {
		srv.conns = map[net.Conn]*conn{}
	}
	srv.conns[c] = &conn{ctx: ctx, cancel: cancel, start: start}
	srv.active.Add(1)
	srv.wg.Add(1)
	return nil
}

// conn is a registered session's deadline and its start.
type conn struct {
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time
}

// Shutdown stops accepting, waits for running sessions until ctx ends, then
// closes those still running and returns ctx.Err().
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.inShutdown.Store(true)
	for ln := range srv.listeners {
		ln.Close()
	}
	srv.mu.Unlock()

	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	srv.mu.Lock()
	for c, cn := range srv.conns {
		cn.cancel()
		c.Close()
	}
	srv.mu.Unlock()
	<-done
	return ctx.Err()
}

func (srv *Server) serveConn(c net.Conn) {
	defer srv.wg.Done()
	defer c.Close()

	srv.mu.Lock()
	cn := srv.conns[c]
	srv.mu.Unlock()
	ctx, start := cn.ctx, cn.start
	defer func() {
		cn.cancel()
		srv.mu.Lock()
		delete(srv.conns, c)
		srv.active.Add(-1)
		srv.mu.Unlock()
	}()

	log := srv.logger()
	envDeadline := start.Add(cmp.Or(srv.EnvTimeout, DefaultEnvTimeout))
	c.SetDeadline(envDeadline)
	br := readers.Get().(*bufio.Reader)
	br.Reset(c)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	env, err := readEnv(br)
	if err != nil {
		srv.limit.Warn(log, "bad_env", "agi: dropped a session with a bad environment block", "peer", c.RemoteAddr().String(), "err", err)
		srv.ended(SessionEnd{Outcome: "bad_env", Duration: time.Since(start)})
		return
	}
	name, params := route(env["agi_network_script"])
	s := &Session{
		conn:    c,
		br:      br,
		env:     env,
		script:  name,
		params:  params,
		args:    envArgs(env),
		log:     log,
		limit:   &srv.limit,
		trace:   srv.Trace && log.Enabled(ctx, slog.LevelDebug),
		cmdTO:   cmp.Or(srv.CommandTimeout, DefaultCommandTimeout),
		end:     start.Add(cmp.Or(srv.SessionTimeout, DefaultSessionTimeout)),
		done:    ctx.Done(),
		started: start,
	}
	stopWatch := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stopWatch()
	if s.trace {
		log.Debug("agi session", "script", name, "channel", env["agi_channel"], "callerid", env["agi_callerid"])
	}
	outcome := "panic"
	defer func() {
		if p := recover(); p != nil {
			srv.limit.Log(log, slog.LevelError, "panic", "agi: handler panicked; session closed, the dialplan continues", "script", name, "panic", fmt.Sprint(p))
		}
		srv.ended(SessionEnd{Script: name, Outcome: outcome, Commands: s.Commands, Duration: time.Since(start)})
	}()
	h := srv.Handler
	if h == nil {
		log.Warn("agi: server has no handler", "script", name)
		outcome = "error"
		return
	}
	h.ServeAGI(ctx, s)
	switch {
	case s.hungup:
		outcome = "hangup"
	case s.broken != nil:
		outcome = "error"
	default:
		outcome = "ok"
	}
}

func (srv *Server) track(ln net.Listener, add bool) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if add {
		if srv.inShutdown.Load() {
			return false
		}
		if srv.listeners == nil {
			srv.listeners = map[net.Listener]struct{}{}
		}
		srv.listeners[ln] = struct{}{}
	} else {
		delete(srv.listeners, ln)
	}
	return true
}

// addrOf is a peer's IP address, IPv4-mapped ones as IPv4.
func addrOf(a net.Addr) netip.Addr {
	var ip netip.Addr
	if tcp, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(tcp.IP)
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	}
	return ip.Unmap()
}

func (srv *Server) allowed(a net.Addr) bool {
	ip := addrOf(a)
	if !ip.IsValid() {
		return false
	}
	if len(srv.Allow) == 0 {
		return ip.IsLoopback()
	}
	for _, p := range srv.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (srv *Server) maxSessions() int {
	if srv.MaxSessions > 0 {
		return srv.MaxSessions
	}
	return DefaultMaxSessions
}

func (srv *Server) logger() *slog.Logger {
	if srv.Logger != nil {
		return srv.Logger
	}
	return slog.Default()
}
