package agi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/agi/agitest"
)

// asterisk plays the Asterisk side, identical for both benchmarks.
func asterisk(b *testing.B, addr string, env []byte) {
	if _, _, err := agitest.Play(addr, env, false); err != nil {
		b.Fatal(err)
	}
}

var benchVars = []string{"ODOO_LOOKUP", "ODOO_CALLER_E164", "ODOO_PARTNER_ID", "CALLERID(name)"}

// BenchmarkSession: env block plus 4 SET VARIABLE round trips through the
// whole Server.
func BenchmarkSession(b *testing.B) {
	srv := &agi.Server{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxSessions: 10000,
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			for _, v := range benchVars {
				if err := s.Set(ctx, v, "ACME SA, Zoë Müller"); err != nil {
					return
				}
			}
		}),
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	env := []byte(agitest.Call{}.EnvBlock())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		asterisk(b, ln.Addr().String(), env)
	}
}

// BenchmarkBareResponder is the baseline: the same exchange on a raw
// net.Conn, with neither the library nor this package.
func BenchmarkBareResponder(b *testing.B) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	var lines []string
	for _, v := range benchVars {
		lines = append(lines, "SET VARIABLE "+v+" \"ACME SA, Zoë Müller\"\n")
	}
	go agitest.Bare(ln, lines)
	env := []byte(agitest.Call{}.EnvBlock())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		asterisk(b, ln.Addr().String(), env)
	}
}
