package agi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/internal/wait"
)

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs srv on a loopback port and returns its address.
func start(t *testing.T, srv *agi.Server) (string, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	if srv.Logger == nil {
		srv.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, agi.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String(), logs
}

func run(t *testing.T, addr string, c agitest.Call) *agitest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Run(ctx, addr)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	if len(res.Pipelined) > 0 {
		t.Errorf("pipelined commands: %q", res.Pipelined)
	}
	return res
}

func TestSetQuotesEveryValueSoAsteriskStoresItExactly(t *testing.T) {
	cases := []struct {
		name, value, stored string
	}{
		{"a plain name", "John Smith", "John Smith"},
		{"a double quote", `Jo"hn`, `Jo"hn`},
		{"a backslash", `back\slash`, `back\slash`},
		{"a trailing backslash", `trail\`, `trail\`},
		{"UTF-8", "Zoë Müller 東京", "Zoë Müller 東京"},
		{"dialplan syntax, kept literally", "${CALLERID(num)} $[1+1]", "${CALLERID(num)} $[1+1]"},
		{"the empty string", "", ""},
		{"a newline that would start a second command", "Evil \"Corp\"\nEXEC System x", "Evil \"Corp\" EXEC System x"},
		{"CR, NUL and other controls", "a\rb\x00c\x1bd\x7fe", "a b c d e"},
		{"invalid UTF-8", "ok\xffok", "ok\uFFFDok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
				if err := s.Set(ctx, "CALLERID(name)", tc.value); err != nil {
					t.Errorf("Set: %v", err)
				}
			})}
			addr, _ := start(t, srv)
			res := run(t, addr, agitest.Call{})
			if len(res.Lines) != 1 {
				t.Fatalf("got %d command lines, want exactly 1: %q", len(res.Lines), res.Lines)
			}
			if got := res.Vars["CALLERID(name)"]; got != tc.stored {
				t.Errorf("Asterisk stored %q, want %q (line %q)", got, tc.stored, res.Lines[0])
			}
		})
	}
}

func TestSetManyFoldsVariablesIntoOneMSetAndKeepsEveryByte(t *testing.T) {
	vars := []agi.Var{
		{"ODOO_LOOKUP", "FOUND"},
		{"CALLERID(name)", `ACME (Belgium, "NV"), Zoë [VIP] \ x=y`},
		{"ODOO_PARTNER_TAGS", "VIP,Gold"},
		{"ODOO_EMPTY", ""},
		{"ODOO_EVIL", "a\nEXEC System x"},
	}
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		if err := s.SetMany(ctx, vars); err != nil {
			t.Errorf("SetMany: %v", err)
		}
	})}
	addr, _ := start(t, srv)
	res := run(t, addr, agitest.Call{})
	if len(res.Lines) != 1 || !strings.HasPrefix(res.Lines[0], "EXEC MSet ") {
		t.Fatalf("want one EXEC MSet line, got %q", res.Lines)
	}
	for _, v := range vars {
		if got, want := res.Vars[v.Name], agi.Sanitize(v.Value); got != want {
			t.Errorf("%s = %q, want %q", v.Name, got, want)
		}
	}
}

func TestSetManySplitsWhatDoesNotFitOneLine(t *testing.T) {
	long := strings.Repeat("é", 700) // 1400 bytes: two of these cannot share a line
	vars := []agi.Var{{"A", long}, {"B", long}, {"C", "short"}, {"D", strings.Repeat("x", 5000)}}
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		if err := s.SetMany(ctx, vars); err != nil {
			t.Errorf("SetMany: %v", err)
		}
	})}
	addr, _ := start(t, srv)
	res := run(t, addr, agitest.Call{})
	for _, l := range res.Lines {
		if len(l)+1 > agi.MaxLineBytes {
			t.Errorf("line of %d bytes exceeds %d", len(l)+1, agi.MaxLineBytes)
		}
	}
	if res.Vars["A"] != long || res.Vars["B"] != long || res.Vars["C"] != "short" {
		t.Errorf("values lost in the split: A=%d B=%d C=%q bytes", len(res.Vars["A"]), len(res.Vars["B"]), res.Vars["C"])
	}
	if d := res.Vars["D"]; len(d) < 1900 || strings.Trim(d, "x") != "" {
		t.Errorf("D should be cut to fit one line, got %d bytes", len(d))
	}
	if len(res.Lines) != 3 {
		t.Errorf("want 3 commands (A / B+C / D alone), got %d: %.60q", len(res.Lines), res.Lines)
	}
}

func TestALongValueIsCutOnARuneBoundaryWithinOneLine(t *testing.T) {
	value := strings.Repeat("Ж\"", 3000) // 9 KB, every rune needing care
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		if err := s.Set(ctx, "X", value); err != nil {
			t.Errorf("Set: %v", err)
		}
	})}
	addr, _ := start(t, srv)
	res := run(t, addr, agitest.Call{})
	if len(res.Lines) != 1 || len(res.Lines[0])+1 > agi.MaxLineBytes {
		t.Fatalf("want one line of at most %d bytes, got %d lines", agi.MaxLineBytes, len(res.Lines))
	}
	got := res.Vars["X"]
	if !utf8.ValidString(got) || !strings.HasPrefix(value, got) || len(got) < 1000 {
		t.Errorf("stored value is not a clean prefix (%d bytes)", len(got))
	}
}

func TestGetTakesTheTextBetweenTheFirstAndLastParenthesis(t *testing.T) {
	done := make(chan struct{})
	var got, unset string
	var err1, err2 error
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		defer close(done)
		got, err1 = s.Get(ctx, "X")
		unset, err2 = s.Get(ctx, "NOT_SET")
	})}
	addr, _ := start(t, srv)
	run(t, addr, agitest.Call{Vars: map[string]string{"X": "A (B) C)"}})
	<-done
	if err1 != nil || got != "A (B) C)" {
		t.Errorf("Get(X) = %q, %v", got, err1)
	}
	if err2 != nil || unset != "" {
		t.Errorf("Get(NOT_SET) = %q, %v", unset, err2)
	}
}

func TestErrorRepliesAreTypedAndTheStreamStaysInStep(t *testing.T) {
	done := make(chan struct{})
	var errs []error
	var after string
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		defer close(done)
		_, err := s.Command(ctx, "FOO BAR")
		errs = append(errs, err)
		_, err = s.Command(ctx, "SET VARIABLE", "only-one-arg")
		errs = append(errs, err)
		_, err = s.Command(ctx, "ANSWER")
		errs = append(errs, err)
		_, err = s.Exec(ctx, "NoSuchApp", "foo")
		errs = append(errs, err)
		after, err = s.Get(ctx, "X")
		errs = append(errs, err)
	})}
	addr, _ := start(t, srv)
	run(t, addr, agitest.Call{
		Vars: map[string]string{"X": "still in step"},
		Reply: func(n int, argv []string) (string, bool) {
			if n == 3 {
				return "511 Command Not Permitted on a dead channel or intercept routine\n", true
			}
			return "", false
		},
	})
	<-done
	want := []error{agi.ErrInvalidCommand, agi.ErrUsage, agi.ErrDeadChannel, agi.ErrNoApplication, nil}
	for i, w := range want {
		if !errors.Is(errs[i], w) && !(w == nil && errs[i] == nil) {
			t.Errorf("command %d: err = %v, want %v", i+1, errs[i], w)
		}
	}
	if after != "still in step" {
		t.Errorf("after a 520 block, GET VARIABLE read %q: replies are off by one", after)
	}
}

func TestHangupEndsTheSessionsWork(t *testing.T) {
	cases := []struct {
		name string
		call agitest.Call
	}{
		{"while idle", agitest.Call{HangupIdle: true}},
		{"between a command and its reply", agitest.Call{HangupBeforeReply: 1}},
		{"with AGIEXITONHANGUP", agitest.Call{HangupBeforeReply: 1, ExitOnHangup: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errc := make(chan [2]error, 1)
			srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
				e1 := s.Set(ctx, "A", "1")
				e2 := s.Set(ctx, "B", "2")
				errc <- [2]error{e1, e2}
			})}
			addr, _ := start(t, srv)
			run(t, addr, tc.call)
			errs := <-errc
			if !errors.Is(errs[0], agi.ErrHangup) || !errors.Is(errs[1], agi.ErrHangup) {
				t.Errorf("got %v, %v; want ErrHangup for both", errs[0], errs[1])
			}
		})
	}
}

func TestMuxRoutesByScriptNameWithParamsAndArgs(t *testing.T) {
	got := make(chan string, 1)
	mux := agi.NewServeMux()
	mux.HandleFunc("incoming", func(ctx context.Context, s *agi.Session) {
		got <- s.Script() + "|" + s.Params().Get("foo") + "|" + strings.Join(s.Args(), ",") + "|" + s.Env("callerid") + "|" + s.Env("agi_accountcode") + "."
	})
	addr, logs := start(t, &agi.Server{Handler: mux})
	run(t, addr, agitest.Call{})
	if g := <-got; g != "incoming|bar|arg1,arg 2|+3225551234|." {
		t.Errorf("session saw %q", g)
	}

	res := run(t, addr, agitest.Call{Script: "nosuch?x=1"})
	if len(res.Lines) != 0 {
		t.Errorf("an unknown script sent commands: %q", res.Lines)
	}
	if !strings.Contains(logs.String(), "no handler for this script") {
		t.Errorf("no log line for the unknown script; logs:\n%s", logs)
	}
}

func TestAllowlistRefusesOtherPeersAtAccept(t *testing.T) {
	var called atomic.Bool
	srv := &agi.Server{
		Allow:   []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) { called.Store(true) }),
	}
	addr, logs := start(t, srv)
	res := run(t, addr, agitest.Call{})
	if called.Load() || len(res.Lines) != 0 {
		t.Error("a refused peer reached the handler")
	}
	if !strings.Contains(logs.String(), "refused a peer outside [agi] allow") {
		t.Errorf("no refusal log line:\n%s", logs)
	}
}

func TestBadPeersEndOnlyTheirOwnSession(t *testing.T) {
	srv := &agi.Server{
		EnvTimeout: 200 * time.Millisecond,
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			s.Set(ctx, "OK", "1")
		}),
	}
	addr, logs := start(t, srv)
	bad := map[string]string{
		"binary garbage":          "\x00\x01\x02\xff\xfe\n\n",
		"not an AGI block":        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"a line over the limit":   "agi_network: " + strings.Repeat("x", 10000) + "\n\n",
		"too many lines":          strings.Repeat("agi_x: y\n", 300) + "\n",
		"closing mid-block":       "agi_network: yes\nagi_channel: PJSIP/x",
		"a half-sent, slow block": "agi_network: yes\n",
	}
	for name, payload := range bad {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte(payload))
			if name == "closing mid-block" {
				c.(*net.TCPConn).CloseWrite()
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			t0 := time.Now()
			b, err := io.ReadAll(c)
			if len(b) != 0 {
				t.Errorf("server answered a bad peer with %q", b)
			}
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("server did not close the session: %v", err)
			}
			if el := time.Since(t0); el > time.Second {
				t.Errorf("closing took %v; the env deadline is 200ms", el)
			}
		})
	}
	// The server still serves good sessions.
	res := run(t, addr, agitest.Call{})
	if res.Vars["OK"] != "1" {
		t.Error("a good session after bad ones was not served")
	}
	// One line for the lot: a peer could otherwise flood the log.
	if n := strings.Count(logs.String(), "dropped a session with a bad environment block"); n != 1 {
		t.Errorf("want 1 log line about %d bad blocks within 10 s, got %d:\n%s", len(bad), n, logs)
	}
}

func TestACommandWithNoReplyHitsTheCommandDeadline(t *testing.T) {
	errc := make(chan error, 1)
	srv := &agi.Server{
		CommandTimeout: 100 * time.Millisecond,
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			errc <- s.Set(ctx, "A", "1")
		}),
	}
	addr, _ := start(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(agitest.Call{}.EnvBlock()))
	t0 := time.Now()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	io.ReadAll(c) // a silent Asterisk: the server must close by itself
	if el := time.Since(t0); el > time.Second {
		t.Errorf("the session held the channel for %v", el)
	}
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("Set = %v, want a deadline error", err)
	}
}

func TestTheSessionDeadlineBoundsAHandler(t *testing.T) {
	srv := &agi.Server{
		SessionTimeout: 150 * time.Millisecond,
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			<-ctx.Done()
		}),
	}
	addr, _ := start(t, srv)
	t0 := time.Now()
	run(t, addr, agitest.Call{})
	if el := time.Since(t0); el > time.Second {
		t.Errorf("session lasted %v, want about 150ms", el)
	}
}

func TestAHandlerPanicIsRecoveredAndLogged(t *testing.T) {
	mux := agi.NewServeMux()
	mux.HandleFunc("incoming", func(ctx context.Context, s *agi.Session) { panic("boom") })
	mux.HandleFunc("ok", func(ctx context.Context, s *agi.Session) { s.Set(ctx, "OK", "1") })
	addr, logs := start(t, &agi.Server{Handler: mux})
	run(t, addr, agitest.Call{})
	if res := run(t, addr, agitest.Call{Script: "ok"}); res.Vars["OK"] != "1" {
		t.Error("the server stopped serving after a panic")
	}
	l := logs.String()
	if !strings.Contains(l, "handler panicked") || !strings.Contains(l, "boom") || strings.Contains(l, "goroutine ") {
		t.Errorf("want one panic line without a stack trace:\n%s", l)
	}
}

func TestMaxSessionsClosesNewConnectionsAtOnce(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(2)
	srv := &agi.Server{
		MaxSessions: 2,
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			entered.Done()
			<-release
		}),
	}
	addr, logs := start(t, srv)
	defer close(release)
	for i := 0; i < 2; i++ {
		go agitest.Call{}.Run(context.Background(), addr)
	}
	entered.Wait()
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		t0 := time.Now()
		_, err = c.Read(make([]byte, 1))
		if err == nil || time.Since(t0) > time.Second {
			t.Fatalf("connection %d over the limit was not closed at once: %v", i, err)
		}
		c.Close()
	}
	if got := srv.ActiveSessions(); got != 2 {
		t.Errorf("ActiveSessions = %d, want 2", got)
	}
	if n := strings.Count(logs.String(), "too many sessions"); n != 1 {
		t.Errorf("want 1 rate-limited log line for 20 refusals, got %d", n)
	}
}

func TestShutdownWaitsForSessionsThenClosesThem(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		entered <- struct{}{}
		select {
		case <-release:
			s.Set(ctx, "DONE", "1")
		case <-ctx.Done():
		}
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	go srv.Serve(ln)
	addr := ln.Addr().String()

	resc := make(chan *agitest.Result, 1)
	go func() {
		r, _ := agitest.Call{}.Run(context.Background(), addr)
		resc <- r
	}()
	<-entered

	// A session in flight finishes when it can.
	go func() { time.Sleep(100 * time.Millisecond); close(release) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v, want nil after the session finished", err)
	}
	cancel()
	if r := <-resc; r.Vars["DONE"] != "1" {
		t.Error("Shutdown cut a session that was finishing")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}

	// A session that does not finish is closed when ctx ends.
	srv2 := &agi.Server{Logger: srv.Logger, Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		entered <- struct{}{}
		<-ctx.Done()
	})}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv2.Serve(ln2)
	go agitest.Call{}.Run(context.Background(), ln2.Addr().String())
	<-entered
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	t0 := time.Now()
	if err := srv2.Shutdown(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(t0); el > time.Second {
		t.Errorf("Shutdown took %v", el)
	}
	if n := srv2.ActiveSessions(); n != 0 {
		t.Errorf("%d sessions still active after Shutdown", n)
	}
}

func TestSetManyStartsANewMSetAfter99Pairs(t *testing.T) {
	// MSet takes 99 pairs (app.c AST_APP_ARG(pair)[99]); a 100th would be
	// glued, raw, onto the 99th value.
	var vars []agi.Var
	for i := range 150 {
		vars = append(vars, agi.Var{Name: fmt.Sprintf("V%d", i), Value: "x"})
	}
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
		if err := s.SetMany(ctx, vars); err != nil {
			t.Errorf("SetMany: %v", err)
		}
	})}
	addr, _ := start(t, srv)
	res := run(t, addr, agitest.Call{})
	if len(res.Lines) != 2 {
		t.Errorf("want 2 MSet commands (99 + 51 pairs), got %d", len(res.Lines))
	}
	for _, v := range vars {
		if got := res.Vars[v.Name]; got != "x" {
			t.Errorf("%s = %q, want \"x\"", v.Name, got)
		}
	}
}

// TestShutdownWhilePeersConnectLeavesNoSession runs Shutdown while peers
// keep connecting: every session that started is over when Shutdown
// returns, and none starts after. Run it under -race.
func TestShutdownWhilePeersConnectLeavesNoSession(t *testing.T) {
	iterations := 1000
	if testing.Short() {
		iterations = 100
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := range iterations {
		var running, afterShutdown atomic.Int64
		var shutDown atomic.Bool
		srv := &agi.Server{Logger: quiet, Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) {
			if shutDown.Load() {
				afterShutdown.Add(1)
			}
			running.Add(1)
			defer running.Add(-1)
			s.Set(ctx, "X", "1")
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		stop := make(chan struct{})
		var peers sync.WaitGroup
		for range 3 {
			peers.Add(1)
			go func() {
				defer peers.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					agitest.Call{}.Run(ctx, ln.Addr().String())
					cancel()
				}
			}()
		}
		time.Sleep(time.Duration(i%5) * 100 * time.Microsecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(ctx)
		cancel()
		shutDown.Store(true)
		if err != nil {
			t.Fatalf("iteration %d: Shutdown = %v", i, err)
		}
		if n := running.Load(); n != 0 {
			t.Fatalf("iteration %d: %d handlers still running after Shutdown returned", i, n)
		}
		if n := srv.ActiveSessions(); n != 0 {
			t.Fatalf("iteration %d: ActiveSessions = %d after Shutdown", i, n)
		}
		close(stop)
		peers.Wait()
		if err := <-served; !errors.Is(err, agi.ErrServerClosed) {
			t.Fatalf("iteration %d: Serve = %v", i, err)
		}
		if n := afterShutdown.Load(); n != 0 {
			t.Fatalf("iteration %d: %d sessions started after Shutdown returned", i, n)
		}
	}
}

// TestAFloodOfBadSessionsWritesOneLinePerCause: unknown scripts and bad
// env blocks, 500 of each, give one log line per cause; the session hook,
// which feeds the metrics, still sees every one.
func TestAFloodOfBadSessionsWritesOneLinePerCause(t *testing.T) {
	var ended sync.Map
	srv := &agi.Server{Handler: agi.NewServeMux(), EnvTimeout: 200 * time.Millisecond,
		OnSessionEnd: func(e agi.SessionEnd) {
			n, _ := ended.LoadOrStore(e.Outcome, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}}
	addr, logs := start(t, srv)
	for i := range 500 {
		run(t, addr, agitest.Call{Script: fmt.Sprintf("no-such-script-%d-%s", i, strings.Repeat("x", 2000))})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("agi_network: yes\n"))
		c.Close()
	}
	wait.For(t, "every session to end", 10*time.Second, func() bool {
		ok, _ := ended.Load("ok")
		bad, _ := ended.Load("bad_env")
		return ok != nil && bad != nil && ok.(*atomic.Int64).Load() == 500 && bad.(*atomic.Int64).Load() == 500
	})
	if n := strings.Count(logs.String(), "\n"); n != 2 {
		t.Errorf("%d log lines for 1,000 bad sessions, want 2 (one per cause):\n%.2000s", n, logs)
	}
	if strings.Contains(logs.String(), strings.Repeat("x", 100)) {
		t.Error("a 2 KB script name was logged whole")
	}
}
