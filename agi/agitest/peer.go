package agitest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/odoo-agi/odoo-agi/internal/astarg"
)

// VerbatimEnv is the block Asterisk 22.10.1 sent for
// AGI(agi://127.0.0.1:4573/incoming?foo=bar,arg1,arg 2) on a Local channel.
var VerbatimEnv = [][2]string{
	{"agi_network", "yes"},
	{"agi_network_script", "incoming?foo=bar"},
	{"agi_request", "agi://127.0.0.1:4573/incoming?foo=bar"},
	{"agi_channel", "Local/e1@test-agi-00000000;2"},
	{"agi_language", "en"},
	{"agi_type", "Local"},
	{"agi_uniqueid", "1795787043.2"},
	{"agi_version", "22.10.1"},
	{"agi_callerid", "+3225551234"},
	{"agi_calleridname", "Test Caller"},
	{"agi_callingpres", "0"},
	{"agi_callingani2", "0"},
	{"agi_callington", "0"},
	{"agi_callingtns", "0"},
	{"agi_dnid", "unknown"},
	{"agi_rdnis", "unknown"},
	{"agi_context", "test-agi"},
	{"agi_extension", "e1"},
	{"agi_priority", "4"},
	{"agi_enhanced", "0.0"},
	{"agi_accountcode", ""},
	{"agi_threadid", "140149799245504"},
	{"agi_arg_1", "arg1"},
	{"agi_arg_2", "arg 2"},
}

// setVariableUsage is the 520 block res_agi sends for a bad SET VARIABLE;
// the second part arrived 43 ms after the first on a real Asterisk.
const (
	usageHead = "520-Invalid command syntax.  Proper usage follows:\n"
	usageBody = "Sets a variable to the current channel.\n" +
		"Example return code: 200 result=1 (testvariable)\n" +
		"520 End of proper usage.\n"
)

// Call describes one session Asterisk opens.
type Call struct {
	Script string            // route and query, e.g. "incoming"; sets agi_network_script and agi_request
	Env    map[string]string // overrides of VerbatimEnv ("callerid" or "agi_callerid"); "" keeps the key empty
	Args   []string          // replaces agi_arg_N when not nil
	Vars   map[string]string // channel variables before the session, e.g. "CALLERID(name)"
	// From is the address the session comes from, e.g. "127.0.0.2" for a
	// second PBX on loopback (Linux routes all of 127/8 there); "" is any.
	From string

	// HangupBeforeReply sends HANGUP between the Nth command (1-based) and its reply.
	HangupBeforeReply int
	// HangupIdle sends HANGUP right after the env block.
	HangupIdle bool
	// ExitOnHangup closes the connection after HANGUP, as AGIEXITONHANGUP=yes does.
	ExitOnHangup bool
	// Reply, when set, answers a command instead of the channel emulation;
	// it returns the raw bytes to send, or ok=false to use the emulation.
	Reply func(n int, argv []string) (raw string, ok bool)
	// UsageDelay separates the two parts of a 520 block (default 5 ms).
	UsageDelay time.Duration
}

// Result is what the peer saw.
type Result struct {
	Lines     []string          // command lines received, in order
	Argv      [][]string        // each line parsed by ParseArgs
	Vars      map[string]string // channel variables after the session
	Pipelined []string          // lines that arrived before the previous reply was written
	Execs     []string          // applications run, "App(data)"
	Duration  time.Duration     // from connect to the server closing
}

// Run connects to addr and plays Asterisk until the server closes the
// connection or ctx ends.
func (c Call) Run(ctx context.Context, addr string) (*Result, error) {
	start := time.Now()
	var d net.Dialer
	if c.From != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(c.From)}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := conn.Write([]byte(c.EnvBlock())); err != nil {
		return nil, fmt.Errorf("agitest: send env: %w", err)
	}
	ch := &channel{vars: map[string]string{}}
	for k, v := range c.Vars {
		ch.vars[k] = v
	}
	res := &Result{}
	// hangup sends HANGUP; with ExitOnHangup, Asterisk sends a second one
	// and closes, and the session is over.
	hangup := func() (over bool) {
		conn.Write([]byte("HANGUP\n"))
		ch.dead = true
		if !c.ExitOnHangup {
			return false
		}
		conn.Write([]byte("HANGUP\n"))
		res.Vars = ch.vars
		res.Duration = time.Since(start)
		return true
	}
	if c.HangupIdle && hangup() {
		return res, nil
	}
	br := bufio.NewReader(conn)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil {
			// The server closing the connection ends the session (AGISTATUS=SUCCESS).
			res.Vars = ch.vars
			res.Duration = time.Since(start)
			if line != "" {
				res.Lines = append(res.Lines, line)
				return res, fmt.Errorf("agitest: unterminated command line %q", line)
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			return res, nil
		}
		line = strings.TrimSuffix(line, "\n")
		if br.Buffered() > 0 {
			res.Pipelined = append(res.Pipelined, line)
		}
		argv := ParseArgs(line)
		res.Lines = append(res.Lines, line)
		res.Argv = append(res.Argv, argv)

		if c.HangupBeforeReply == n && hangup() {
			return res, nil
		}
		raw, ok := "", false
		if c.Reply != nil {
			raw, ok = c.Reply(n, argv)
		}
		if !ok {
			raw = ch.answer(argv, &res.Execs)
		}
		if strings.HasPrefix(raw, usageHead) {
			conn.Write([]byte(usageHead))
			delay := c.UsageDelay
			if delay == 0 {
				delay = 5 * time.Millisecond
			}
			time.Sleep(delay)
			raw = raw[len(usageHead):]
		}
		if _, err := conn.Write([]byte(raw)); err != nil {
			res.Vars = ch.vars
			return res, nil
		}
	}
}

// EnvBlock renders the agi_* block with the call's overrides.
func (c Call) EnvBlock() string {
	over := map[string]string{}
	for k, v := range c.Env {
		if !strings.HasPrefix(k, "agi_") {
			k = "agi_" + k
		}
		over[k] = v
	}
	if c.Script != "" {
		over["agi_network_script"] = c.Script
		over["agi_request"] = "agi://127.0.0.1:4573/" + c.Script
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, kv := range VerbatimEnv {
		k, v := kv[0], kv[1]
		if c.Args != nil && strings.HasPrefix(k, "agi_arg_") {
			continue
		}
		if o, ok := over[k]; ok {
			v = o
		}
		seen[k] = true
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	for k, v := range over {
		if !seen[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	for i, a := range c.Args {
		fmt.Fprintf(&b, "agi_arg_%d: %s\n", i+1, a)
	}
	b.WriteString("\n")
	return b.String()
}

// channel emulates what res_agi and the dialplan do with each command.
type channel struct {
	mu   sync.Mutex
	vars map[string]string
	dead bool
}

func (ch *channel) answer(argv []string, execs *[]string) string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	words := strings.ToUpper(strings.Join(argv[:min(2, len(argv))], " "))
	switch {
	case len(argv) == 0:
		return "510 Invalid or unknown command\n"
	case words == "SET VARIABLE":
		if len(argv) != 4 {
			return usageHead + usageBody
		}
		ch.vars[argv[2]] = argv[3]
		return "200 result=1\n"
	case words == "GET VARIABLE":
		if len(argv) != 3 {
			return usageHead + usageBody
		}
		if v, ok := ch.vars[argv[2]]; ok {
			return "200 result=1 (" + v + ")\n"
		}
		return "200 result=0\n"
	case strings.EqualFold(argv[0], "EXEC"):
		if len(argv) < 2 {
			return usageHead + usageBody
		}
		data := ""
		if len(argv) >= 3 {
			data = argv[2]
		}
		*execs = append(*execs, argv[1]+"("+data+")")
		switch strings.ToLower(argv[1]) {
		case "set":
			if name, value, ok := strings.Cut(data, "="); ok {
				ch.vars[name] = value
			}
			return "200 result=0\n"
		case "mset":
			// pbx_builtin_setvar_multiple
			for _, pair := range astarg.Separate(data, ',', astarg.MaxMSetPairs) {
				nv := astarg.Separate(pair, '=', 2)
				if len(nv) == 2 {
					ch.vars[nv[0]] = nv[1]
				}
			}
			return "200 result=0\n"
		case "noop", "verbose", "gosub", "dial", "wait":
			return "200 result=0\n"
		}
		return "200 result=-2\n"
	case strings.EqualFold(argv[0], "VERBOSE"):
		return "200 result=1\n"
	case strings.EqualFold(argv[0], "NOOP"):
		return "200 result=0\n"
	case strings.EqualFold(argv[0], "ANSWER"):
		if ch.dead {
			return "511 Command Not Permitted on a dead channel or intercept routine\n"
		}
		return "200 result=0\n"
	}
	return "510 Invalid or unknown command\n"
}
