package agi

import (
	"context"
	"strings"
	"sync"

	"github.com/odoo-agi/odoo-agi/internal/ratelog"
)

// A Handler runs one FastAGI session. ctx ends at the session deadline or
// when the server is shut down. A Handler should not keep s after returning.
type Handler interface {
	ServeAGI(ctx context.Context, s *Session)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, s *Session)

// ServeAGI calls f(ctx, s).
func (f HandlerFunc) ServeAGI(ctx context.Context, s *Session) { f(ctx, s) }

// ServeMux routes sessions by script name: agi://host:4573/incoming?x=1
// goes to the handler registered as "incoming". It is the only place that
// knows the routing rules.
type ServeMux struct {
	mu     sync.RWMutex
	routes map[string]Handler
}

// NewServeMux returns an empty ServeMux.
func NewServeMux() *ServeMux { return &ServeMux{routes: map[string]Handler{}} }

// Handle registers h for the script name (leading and trailing '/' ignored).
func (m *ServeMux) Handle(name string, h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes == nil {
		m.routes = map[string]Handler{}
	}
	m.routes[strings.Trim(name, "/")] = h
}

// HandleFunc registers f for the script name.
func (m *ServeMux) HandleFunc(name string, f func(context.Context, *Session)) {
	m.Handle(name, HandlerFunc(f))
}

// Handler returns the handler for a script name, or nil.
func (m *ServeMux) Handler(name string) Handler {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.routes[name]
}

// ServeAGI dispatches s. An unknown script gets one log line and no
// command, so Asterisk's dialplan simply continues (AGISTATUS=SUCCESS).
func (m *ServeMux) ServeAGI(ctx context.Context, s *Session) {
	if h := m.Handler(s.Script()); h != nil {
		h.ServeAGI(ctx, s)
		return
	}
	script := s.Script()
	if len(script) > 64 {
		script = script[:64] + "…"
	}
	l := s.limit
	if l == nil {
		l = new(ratelog.Limiter)
	}
	l.Warn(s.log, "no_handler", "agi: no handler for this script; the dialplan continues", "script", Sanitize(script), "channel", s.Env("channel"))
}
