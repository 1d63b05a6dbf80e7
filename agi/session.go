package agi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/odoo-agi/odoo-agi/internal/astarg"
	"github.com/odoo-agi/odoo-agi/internal/ratelog"
)

// maxReplyBytes bounds one reply line (a GET VARIABLE value can be long).
const maxReplyBytes = 64 << 10

// maxUsageLines bounds a 520 usage block.
const maxUsageLines = 200

// Session is one FastAGI connection: the environment Asterisk sent and the
// command/reply exchange. Its methods are not safe for concurrent use, by
// design: Asterisk answers one command at a time.
type Session struct {
	conn     net.Conn
	br       *bufio.Reader
	env      map[string]string
	script   string
	params   url.Values
	args     []string
	log      *slog.Logger
	trace    bool
	limit    *ratelog.Limiter // the server's, for warnings a peer can repeat
	cmdTO    time.Duration
	end      time.Time // session deadline
	hungup   bool
	broken   error // set once the stream is out of step; every later command fails
	buf      []byte
	Commands int // commands sent, for metrics and tests
	pack     []byte
	seg      []byte
	done     <-chan struct{} // the session context's; cancelling it interrupts the conn
	started  time.Time
}

// Env returns an agi_* environment value. The "agi_" prefix is optional:
// Env("callerid") and Env("agi_callerid") are the same.
func (s *Session) Env(name string) string {
	if !strings.HasPrefix(name, "agi_") {
		name = "agi_" + name
	}
	return s.env[name]
}

// Peer is the address the session came from: which Asterisk opened it.
func (s *Session) Peer() netip.Addr { return addrOf(s.conn.RemoteAddr()) }

// Script is the route name: agi_network_script without its query, e.g. "incoming".
func (s *Session) Script() string { return s.script }

// Params holds the query of the AGI URL: agi://host/incoming?x=1 gives x=1.
func (s *Session) Params() url.Values { return s.params }

// Args holds agi_arg_1, agi_arg_2, … in order, spaces kept.
func (s *Session) Args() []string { return s.args }

// Arg returns agi_arg_N (1-based), or "" when it was not given.
func (s *Session) Arg(n int) string {
	if n < 1 || n > len(s.args) {
		return ""
	}
	return s.args[n-1]
}

// Started is when the session was accepted: Asterisk has been waiting since.
func (s *Session) Started() time.Time { return s.started }

// HungUp reports whether Asterisk has sent HANGUP.
func (s *Session) HungUp() bool { return s.hungup }

// Set sets a channel variable (or a function such as CALLERID(name)) with
// SET VARIABLE. The value is sanitized, quoted and, if need be, cut to fit
// one command line.
func (s *Session) Set(ctx context.Context, name, value string) error {
	_, err := s.twoArgs(ctx, "SET VARIABLE ", name, 256, value)
	return err
}

// Var is one name/value pair for SetMany.
type Var struct{ Name, Value string }

// SetMany sets several variables in as few round trips as fit: each
// command is one EXEC MSet carrying as many pairs as one line holds. A
// value too long to share a line goes alone through Set, which cuts it.
func (s *Session) SetMany(ctx context.Context, vars []Var) error {
	for len(vars) > 0 {
		n, line := s.packMSet(vars)
		if n == 0 {
			if err := s.Set(ctx, vars[0].Name, vars[0].Value); err != nil {
				return err
			}
			vars = vars[1:]
			continue
		}
		res, err := s.command(ctx, func(b []byte) []byte { return append(b, line...) })
		if err != nil {
			return err
		}
		if res.Result == -2 {
			return fmt.Errorf("MSet: %w", ErrNoApplication)
		}
		vars = vars[n:]
	}
	return nil
}

// packMSet encodes the longest prefix of vars that fits one line as
// EXEC MSet "n1=v1,n2=v2", returning how many pairs it took. It works in
// one pass: each pair is MSet-escaped, then AGI-escaped onto the line.
func (s *Session) packMSet(vars []Var) (int, []byte) {
	line := append(s.pack[:0], `EXEC MSet "`...)
	n := 0
	for _, v := range vars {
		if n == astarg.MaxMSetPairs {
			break // MSet would put the raw rest into its last value
		}
		seg := s.seg[:0]
		if n > 0 {
			seg = append(seg, ',')
		}
		seg = append(seg, Sanitize(v.Name)...)
		seg = append(seg, '=')
		seg = astarg.AppendEscaped(seg, v.Value, MaxLineBytes)
		s.seg = seg
		// Room for the closing quote and the newline.
		next, ok := appendEscapedSanitized(line, seg, MaxLineBytes-2)
		if !ok {
			break
		}
		line = next
		n++
	}
	s.pack = line
	return n, append(line, '"')
}

// twoArgs sends verb and two quoted arguments: the first within firstMax
// bytes, the second within what is left of the line.
func (s *Session) twoArgs(ctx context.Context, verb, first string, firstMax int, second string) (Reply, error) {
	return s.command(ctx, func(b []byte) []byte {
		b = append(b, verb...)
		b, _ = appendQuoted(b, first, firstMax)
		b = append(b, ' ')
		b, _ = appendQuoted(b, second, MaxLineBytes-1-len(b))
		return b
	})
}

// Get reads a channel variable or function. An unset variable gives "".
func (s *Session) Get(ctx context.Context, name string) (string, error) {
	r, err := s.command(ctx, func(b []byte) []byte {
		b = append(b, "GET VARIABLE "...)
		b, _ = appendQuoted(b, name, MaxLineBytes-1-len(b))
		return b
	})
	if err != nil || r.Result != 1 {
		return "", err
	}
	return r.Value, nil
}

// Exec runs a dialplan application with EXEC and returns its result. An
// application Asterisk does not have gives ErrNoApplication.
func (s *Session) Exec(ctx context.Context, app, data string) (int, error) {
	r, err := s.twoArgs(ctx, "EXEC ", app, 128, data)
	if err != nil {
		return 0, err
	}
	if r.Result == -2 {
		return r.Result, fmt.Errorf("%s: %w", Sanitize(app), ErrNoApplication)
	}
	return r.Result, nil
}

// Verbose writes msg to the Asterisk console at verbosity level 1.
func (s *Session) Verbose(ctx context.Context, msg string) error {
	_, err := s.command(ctx, func(b []byte) []byte {
		b = append(b, "VERBOSE "...)
		b, _ = appendQuoted(b, msg, MaxLineBytes-1-len(b)-2)
		return append(b, " 1"...)
	})
	return err
}

// Command sends verb (command words, written as is: they must be plain
// words such as "CHANNEL STATUS") followed by args, each quoted.
func (s *Session) Command(ctx context.Context, verb string, args ...string) (Reply, error) {
	if strings.ContainsAny(verb, "\"\\\r\n\x00") {
		return Reply{}, fmt.Errorf("agi: command words %q must not need quoting", verb)
	}
	return s.command(ctx, func(b []byte) []byte {
		b = append(b, verb...)
		for _, a := range args {
			b = append(b, ' ')
			b, _ = appendQuoted(b, a, MaxLineBytes-1-len(b))
		}
		return b
	})
}

// command writes one line and reads its whole reply. Never pipelined: the
// next command is only built once this reply has been read to its end.
func (s *Session) command(ctx context.Context, build func([]byte) []byte) (Reply, error) {
	if s.hungup {
		return Reply{}, ErrHangup
	}
	if s.broken != nil {
		return Reply{}, s.broken
	}
	if err := ctx.Err(); err != nil {
		return Reply{}, err
	}
	s.buf = build(s.buf[:0])
	if len(s.buf) > MaxLineBytes-1 {
		// build respects the budget; this guards the guarantee itself.
		return Reply{}, fmt.Errorf("agi: command line of %d bytes exceeds %d", len(s.buf)+1, MaxLineBytes)
	}
	s.buf = append(s.buf, '\n')

	deadline := time.Now().Add(s.cmdTO)
	if !s.end.IsZero() && s.end.Before(deadline) {
		deadline = s.end
	}
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.conn.SetDeadline(deadline)
	// The session's own context already interrupts the conn (serveConn);
	// a context derived from it needs its own watch.
	if ctx.Done() != s.done {
		stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}

	s.Commands++
	if s.trace {
		s.log.Debug("agi send", "line", string(bytes.TrimSuffix(s.buf, []byte{'\n'})))
	}
	if _, err := s.conn.Write(s.buf); err != nil {
		return Reply{}, s.fail(ctx, "write", err)
	}
	r, err := s.readReply(ctx)
	if err != nil && !errors.Is(err, ErrHangup) && !isReplyStatus(err) {
		return r, s.fail(ctx, "read", err)
	}
	return r, err
}

func isReplyStatus(err error) bool {
	return errors.Is(err, ErrInvalidCommand) || errors.Is(err, ErrDeadChannel) || errors.Is(err, ErrUsage)
}

// fail marks the session unusable: after a timeout or a malformed reply
// the stream can no longer be trusted to be in step.
func (s *Session) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		err = fmt.Errorf("agi: %s: %w", op, ctx.Err())
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("agi: %s: no reply from Asterisk within the deadline: %w", op, err)
	} else if errors.Is(err, io.EOF) {
		err = fmt.Errorf("agi: %s: Asterisk closed the connection: %w", op, err)
	} else if !errors.Is(err, ErrMalformedReply) {
		err = fmt.Errorf("agi: %s: %w", op, err)
	}
	s.broken = err
	return err
}

func (s *Session) readReply(ctx context.Context) (Reply, error) {
	line, err := s.readLine()
	if err != nil {
		return Reply{}, err
	}
	if s.trace {
		s.log.Debug("agi recv", "line", line)
	}
	switch {
	case line == "HANGUP":
		// Asterisk sends HANGUP alone on a line, even between a command
		// and its reply. Whatever follows belongs to a dead session.
		s.hungup = true
		return Reply{}, ErrHangup
	case strings.HasPrefix(line, "200 "):
		r, err := parse200(line[4:])
		if err != nil {
			s.broken = err
		}
		return r, err
	case strings.HasPrefix(line, "510"):
		return Reply{}, ErrInvalidCommand
	case strings.HasPrefix(line, "511"):
		return Reply{}, ErrDeadChannel
	case strings.HasPrefix(line, "520-"):
		// The usage text is raw documentation and may itself contain
		// "200 result=1": only a line starting "520 " ends the block.
		for i := 0; i < maxUsageLines; i++ {
			l, err := s.readLine()
			if err != nil {
				return Reply{}, err
			}
			if strings.HasPrefix(l, "520 ") {
				return Reply{}, ErrUsage
			}
		}
		return Reply{}, fmt.Errorf("%w: 520 block longer than %d lines", ErrMalformedReply, maxUsageLines)
	case strings.HasPrefix(line, "520 "):
		return Reply{}, ErrUsage
	}
	return Reply{}, fmt.Errorf("%w: %q", ErrMalformedReply, truncate(line, 80))
}

// readLine reads one LF-terminated line, without its CR LF, bounded by maxReplyBytes.
func (s *Session) readLine() (string, error) {
	var long []byte
	for {
		frag, err := s.br.ReadSlice('\n')
		if err == nil {
			if long != nil {
				frag = append(long, frag...)
			}
			return string(bytes.TrimRight(frag, "\r\n")), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
		long = append(long, frag...)
		if len(long) > maxReplyBytes {
			return "", fmt.Errorf("%w: reply line longer than %d bytes", ErrMalformedReply, maxReplyBytes)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
