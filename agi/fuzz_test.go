package agi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/agi/agitest"
)

var fuzzSeeds = []string{`"`, `\`, "\n", "\r", "\x00", "${X}", "Zoë Müller 東京", strings.Repeat("é\"\\", 3500),
	"Evil \"Corp\"\nEXEC System x", "a,b=(c)[d]", ""}

// fuzzServer serves one handler that sets X (or X and Y through SetMany) to
// the value the test hands over.
func fuzzServer(f *testing.F, many bool) (addr string, values chan string) {
	values = make(chan string, 1)
	srv := &agi.Server{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			v := <-values
			if many {
				s.SetMany(ctx, []agi.Var{{Name: "X", Value: v}, {Name: "Y", Value: "after"}})
			} else {
				s.Set(ctx, "X", v)
			}
		}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go srv.Serve(ln)
	f.Cleanup(func() { srv.Shutdown(context.Background()) })
	return ln.Addr().String(), values
}

// checkStored: the peer got one line per command, none longer than the
// limit, and X holds the sanitized value or, when cut, a prefix of it.
func checkStored(t *testing.T, res *agitest.Result, v string, wantLines int) {
	if len(res.Lines) > wantLines || len(res.Pipelined) > 0 {
		t.Fatalf("value %q produced %d command lines: %q", v, len(res.Lines), res.Lines)
	}
	for _, l := range res.Lines {
		if len(l)+1 > agi.MaxLineBytes {
			t.Fatalf("line of %d bytes", len(l)+1)
		}
	}
	want, got := agi.Sanitize(v), res.Vars["X"]
	if got != want && !(len(res.Lines[0])+1 > agi.MaxLineBytes-8 && strings.HasPrefix(want, got)) {
		t.Fatalf("stored %q, want %q", got, want)
	}
}

func FuzzSetValue(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	addr, values := fuzzServer(f, false)
	f.Fuzz(func(t *testing.T, v string) {
		values <- v
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := agitest.Call{}.Run(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		checkStored(t, res, v, 1)
	})
}

func FuzzSetManyValue(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	addr, values := fuzzServer(f, true)
	f.Fuzz(func(t *testing.T, v string) {
		values <- v
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := agitest.Call{}.Run(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if res.Vars["Y"] != "after" {
			t.Fatalf("value %q broke the next pair: Y=%q, line %q", v, res.Vars["Y"], res.Lines)
		}
		if len(res.Lines) == 1 && res.Vars["X"] != agi.Sanitize(v) {
			t.Fatalf("MSet stored %q, want %q (line %q)", res.Vars["X"], agi.Sanitize(v), res.Lines[0])
		}
		if len(res.Lines) == 2 {
			checkStored(t, res, v, 2)
		}
	})
}
