package dialplan

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A small dialplan walker: extensions_odoo.conf, plus contexts shaped like
// the ones FreePBX 16 and 17 generate (docs/freepbx.md cites their source),
// run as Asterisk's pbx would run them for the applications they use. It
// stands in for a FreePBX that cannot be installed here.

// freepbxStubs are FreePBX's generated contexts, cut down to what the
// walks cross: the trunk's from-trunk, inbound routes (ext-did-*) with
// their Set(__DIRECTION), a Custom Destination with Return, a ring group,
// and macro-dialout-trunk trying two trunks: DIAL_TRUNK_OPTIONS set before
// each attempt, then the pre-dial hook (17 line 2542: once per trunk
// attempt), the connected line FreePBX sets right after it (2546/2549), and
// Dial with ${DIAL_TRUNK_OPTIONS}b(func-apply-sipheaders…) (17 through
// trunk-dial-with-exten, 2562).
const freepbxStubs = `
[from-trunk]
exten => _X.,1,Goto(from-pstn,${EXTEN},1)
exten => _+X.,1,Goto(from-pstn,${EXTEN},1)
exten => s,1,Goto(from-pstn,${EXTEN},1)

[from-pstn]
exten => _X.,1,Goto(ext-did-0001,${EXTEN},1)
exten => _+X.,1,Goto(ext-did-0001,${EXTEN},1)

[ext-did-0001]
exten => 3220000000,1,Set(__DIRECTION=INBOUND)
 same => n,Set(CIDLOOKUP_RAN=yes)
 same => n,Goto(ext-group,600,1)
exten => +3220000000,1,Set(__DIRECTION=INBOUND)
 same => n,Goto(ext-group,600,1)
exten => 3220000001,1,Set(__DIRECTION=INBOUND)
 same => n,Goto(customdests,dest-1,1)

[from-branch-did]
; not FreePBX's: an admin's inbound context for company 2's numbers
exten => _X.,1,Gosub(odoo-incoming,s,1(2))
 same => n,Goto(ext-group,600,1)

[customdests]
exten => dest-1,1,Gosub(odoo-salesperson,s,1)
 same => n,NoOp(Returned from Custom Destination Odoo salesperson)
 same => n,Goto(ext-group,600,1)

[ext-group]
exten => 600,1,NoOp(ring group 600)
 same => n,Hangup()

[outbound-17]
exten => _X.,1,Gosub(macro-dialout-trunk,s,1(1,${EXTEN}))
 same => n,Hangup()

[macro-dialout-trunk]
exten => s,1,Set(DIAL_NUMBER=${ARG2})
 same => n,Set(DIAL_TRUNK_OPTIONS=Tt)
 same => n,Gosub(macro-dialout-trunk-predial-hook,s,1)
 same => n,Set(CONNECTEDLINE(num,i)=${DIAL_NUMBER})
 same => n,Set(CONNECTEDLINE(name,i)=CID:${CALLERID(number)})
 same => n,Gosub(trunk-dial-with-exten,${DIAL_NUMBER},1)
 same => n,Set(DIAL_TRUNK_OPTIONS=Tt)
 same => n,Gosub(macro-dialout-trunk-predial-hook,s,1)
 same => n,Set(CONNECTEDLINE(num,i)=${DIAL_NUMBER})
 same => n,Set(CONNECTEDLINE(name,i)=CID:${CALLERID(number)})
 same => n,Dial(PJSIP/${DIAL_NUMBER}@trunk2,300,${DIAL_TRUNK_OPTIONS}b(func-apply-sipheaders^s^1,(trunk2)))
 same => n,Return()

[trunk-dial-with-exten]
exten => _[+-X].,1,Dial(PJSIP/${EXTEN}@trunk1,300,${DIAL_TRUNK_OPTIONS}b(func-apply-sipheaders^s^1,(trunk1)))
 same => n,Return()

[func-apply-sipheaders]
exten => s,1,NoOp(FreePBX's SIP headers for ${ARG1})
 same => n,Return()

[outbound-16]
exten => _X.,1,Macro(dialout-trunk16,1,${EXTEN})
 same => n,Hangup()

[macro-dialout-trunk16]
exten => s,1,Set(DIAL_NUMBER=${ARG2})
 same => n,Set(DIAL_TRUNK_OPTIONS=Tt)
 same => n,Macro(dialout-trunk-predial-hook)
 same => n,Set(CONNECTEDLINE(num,i)=${DIAL_NUMBER})
 same => n,Set(CONNECTEDLINE(name,i)=CID:${CALLERID(number)})
 same => n,Dial(PJSIP/${DIAL_NUMBER}@trunk1,300,${DIAL_TRUNK_OPTIONS}b(func-apply-sipheaders^s^1,(trunk1)))
 same => n,Set(DIAL_TRUNK_OPTIONS=Tt)
 same => n,Macro(dialout-trunk-predial-hook)
 same => n,Set(CONNECTEDLINE(num,i)=${DIAL_NUMBER})
 same => n,Set(CONNECTEDLINE(name,i)=CID:${CALLERID(number)})
 same => n,Dial(PJSIP/${DIAL_NUMBER}@trunk2,300,${DIAL_TRUNK_OPTIONS}b(func-apply-sipheaders^s^1,(trunk2)))
 same => n,MacroExit()
`

// hooks takes the FreePBX 16 or 17 pre-dial hook out of the snippet's
// comments, as an admin would paste it.
func hooks(t *testing.T, snippet string, version int) string {
	t.Helper()
	lines := strings.Split(snippet, "\n")
	end := map[int]string{16: "MacroExit()", 17: "Return()"}[version]
	for i, l := range lines {
		if l != ";[macro-dialout-trunk-predial-hook]" || i+2 >= len(lines) || !strings.Contains(lines[i+2], end) {
			continue
		}
		var out []string
		for _, h := range lines[i : i+3] {
			out = append(out, strings.TrimPrefix(h, ";"))
		}
		return strings.Join(out, "\n") + "\n"
	}
	t.Fatalf("the snippet shows no FreePBX %d pre-dial hook ending in %s", version, end)
	return ""
}

type dialplanModel struct {
	exts map[string][]priority // context/exten → priorities in order
	ctxs map[string][]string   // context → extension names in order
}

func loadDialplan(t *testing.T, version int) *dialplanModel {
	t.Helper()
	snippet, err := os.ReadFile("../extensions_odoo.conf")
	if err != nil {
		t.Fatal(err)
	}
	stubs := freepbxStubs + strings.ReplaceAll(hooks(t, string(snippet), version), "[macro-dialout-trunk-predial-hook]",
		map[int]string{16: "[macro-dialout-trunk-predial-hook]", 17: "[macro-dialout-trunk-predial-hook]"}[version])
	path := filepath.Join(t.TempDir(), "extensions.conf")
	if err := os.WriteFile(path, append(snippet, stubs...), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &dialplanModel{exts: map[string][]priority{}, ctxs: map[string][]string{}}
	for _, p := range parseExtensions(t, path) {
		k := p.context + "/" + p.exten
		if _, ok := m.exts[k]; !ok {
			m.ctxs[p.context] = append(m.ctxs[p.context], p.exten)
		}
		m.exts[k] = append(m.exts[k], p)
	}
	return m
}

// match reports whether exten matches an extension name, with pbx.c's
// pattern letters X, Z, N, [..] and a trailing '.'.
func match(name, exten string) bool {
	if !strings.HasPrefix(name, "_") {
		return name == exten
	}
	pat := "^"
	inClass := false
	for _, c := range name[1:] {
		if inClass {
			// In a class, letters are themselves and '-' is a range, as in
			// pbx.c: FreePBX's [+-X] runs from '+' to 'X', digits included.
			switch c {
			case ']':
				pat += "]"
				inClass = false
			case '-':
				pat += "-"
			default:
				pat += regexp.QuoteMeta(string(c))
			}
			continue
		}
		switch c {
		case '[':
			pat += "["
			inClass = true
		case 'X':
			pat += "[0-9]"
		case 'Z':
			pat += "[1-9]"
		case 'N':
			pat += "[2-9]"
		case '.':
			pat += ".+"
		case '!':
			pat += ".*"
		default:
			pat += regexp.QuoteMeta(string(c))
		}
	}
	return regexp.MustCompile(pat + "$").MatchString(exten)
}

func (m *dialplanModel) find(context, exten string) (string, bool) {
	for _, name := range m.ctxs[context] {
		if name == exten {
			return name, true
		}
	}
	for _, name := range m.ctxs[context] {
		if match(name, exten) {
			return name, true
		}
	}
	return "", false
}

// call is one channel walking the dialplan.
type call struct {
	t          *testing.T
	m          *dialplanModel
	vars       map[string]string
	handlers   []string // hangup handlers pushed
	trace      []string // context/exten/priority reached
	agi        func(c *call, script string, args []string)
	dial       func(c *call, target string) string // DIALSTATUS
	depth      int                                 // nested B() handlers
	recordings []string                            // MixMonitor's arguments
	recordDir  string                              // what odoo-agi sets as ODOO_RECORD_DIR
	down       map[string]bool                     // odoo-agi addresses that refuse: AGISTATUS=FAILURE
	agiHosts   []string                            // the addresses AGI() was run against, in order
	agiArgs    [][]string                          // each AGI()'s arguments after the address
}

type frame struct {
	context, exten, name string
	idx                  int
	args                 []string
	macro                bool
}

var innermost = regexp.MustCompile(`\$\{([^${}]*)\}`)

// expand substitutes ${…}, innermost first.
func (c *call) expand(s string, f *frame) string {
	for {
		loc := innermost.FindStringSubmatchIndex(s)
		if loc == nil {
			return s
		}
		expr := s[loc[2]:loc[3]]
		val := ""
		switch {
		case expr == "EXTEN":
			val = f.exten
		case strings.HasPrefix(expr, "ARG"):
			var n int
			fmt.Sscanf(expr, "ARG%d", &n)
			if n >= 1 && n <= len(f.args) {
				val = f.args[n-1]
			}
		case strings.HasPrefix(expr, "FILTER("):
			allowed, v, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(expr, "FILTER("), ")"), ",")
			for _, r := range v {
				if strings.ContainsRune(strings.ReplaceAll(allowed, "0-9", "0123456789"), r) {
					val += string(r)
				}
			}
		case expr == "CALLERID(number)":
			val = c.vars["CALLERID(num)"]
		case expr == "EPOCH":
			val = "1700000000"
		default:
			val = c.vars[expr]
		}
		s = s[:loc[0]] + val + s[loc[1]:]
	}
}

// test evaluates the $[…] expressions the snippet uses: "a" = "b",
// "a" != "b" and "a" : "regex", joined by |.
func test(expr string) bool {
	expr = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(expr), "$["), "]")
	for _, part := range strings.Split(expr, " | ") {
		m := regexp.MustCompile(`^\s*"(.*)"\s*(!=|=|:)\s*"(.*)"\s*$`).FindStringSubmatch(part)
		if m == nil {
			panic("an expression the walker does not know: " + part)
		}
		switch m[2] {
		case "=":
			if m[1] == m[3] {
				return true
			}
		case "!=":
			if m[1] != m[3] {
				return true
			}
		case ":":
			if regexp.MustCompile("^" + m[3]).MatchString(m[1]) {
				return true
			}
		}
	}
	return false
}

// run walks from context,exten,1 until the channel hangs up or the
// dialplan ends, and returns how it ended.
func (c *call) run(context, exten string) string {
	name, ok := c.m.find(context, exten)
	if !ok {
		c.t.Fatalf("no %s in %s", exten, context)
	}
	var stack []frame
	f := frame{context: context, exten: exten, name: name}
	for steps := 0; steps < 500; steps++ {
		prios := c.m.exts[f.context+"/"+f.name]
		if f.idx >= len(prios) {
			return "fell off " + f.context + "/" + f.exten
		}
		p := prios[f.idx]
		c.trace = append(c.trace, fmt.Sprintf("%s/%s/%d", f.context, f.exten, f.idx+1))
		args := c.expand(p.args, &f)
		f.idx++
		switch p.app {
		case "NoOp", "Busy", "Congestion", "SIPAddHeader", "Queue":
		case "MixMonitor":
			c.recordings = append(c.recordings, args)
		case "Set":
			name, val, _ := strings.Cut(args, "=")
			name = strings.TrimLeft(name, "_")
			if name == "CHANNEL(hangup_handler_push)" {
				c.handlers = append(c.handlers, val)
			} else {
				c.vars[name] = val
			}
		case "AGI":
			parts := strings.Split(args, ",")
			host, script, _ := strings.Cut(strings.TrimPrefix(parts[0], "agi://"), "/")
			c.agiHosts = append(c.agiHosts, host)
			c.agiArgs = append(c.agiArgs, parts[1:])
			if c.vars["AGISTATUS"] = "SUCCESS"; c.down[host] {
				c.vars["AGISTATUS"] = "FAILURE" // connection refused; the dialplan goes on
				continue
			}
			c.agi(c, script, parts[1:])
		case "Dial":
			dargs := splitArgs(args)
			if len(dargs) > 2 {
				// B(): app_dial runs it on this channel before it creates
				// the outgoing ones (app_dial.c, OPT_PREDIAL_CALLER).
				if sub, ok := dialOption(dargs[2], 'B'); ok && c.depth == 0 {
					parts := strings.Split(sub, "^")
					if len(parts) != 3 {
						c.t.Fatalf("%s: B(%s) is not context^exten^priority", p.context, sub)
					}
					c.depth++
					end := c.run(parts[0], parts[1])
					c.depth--
					if !strings.HasPrefix(end, "Return with nothing to return to") {
						c.t.Fatalf("the B() handler %s did not return: %s", sub, end)
					}
				}
			}
			c.vars["DIALSTATUS"] = c.dial(c, dargs[0])
		case "Gosub", "Macro":
			stack = append(stack, f)
			target, gargs := args, ""
			if i := strings.IndexByte(args, '('); i >= 0 {
				target, gargs = args[:i], strings.TrimSuffix(args[i+1:], ")")
			}
			nf := frame{macro: p.app == "Macro"}
			if p.app == "Macro" {
				name, rest, _ := strings.Cut(args, ",")
				nf.context, nf.exten, gargs = "macro-"+name, "s", rest
			} else {
				parts := strings.Split(target, ",")
				nf.context, nf.exten = parts[0], parts[1]
			}
			if gargs != "" {
				nf.args = strings.Split(gargs, ",")
			}
			if nf.name, ok = c.m.find(nf.context, nf.exten); !ok {
				c.t.Fatalf("%s: Gosub to a missing %s,%s", p.context, nf.context, nf.exten)
			}
			f = nf
		case "Return", "MacroExit":
			if len(stack) == 0 {
				return p.app + " with nothing to return to, in " + f.context
			}
			if (p.app == "MacroExit") != f.macro {
				return p.app + " in a " + map[bool]string{true: "Macro", false: "Gosub"}[f.macro] + ", in " + f.context
			}
			f, stack = stack[len(stack)-1], stack[:len(stack)-1]
		case "Goto", "GotoIf":
			target := args
			if p.app == "GotoIf" {
				cond, branches, _ := strings.Cut(args, "?")
				yes, no, _ := strings.Cut(branches, ":")
				if target = no; test(cond) {
					target = yes
				}
				if target == "" {
					continue
				}
			}
			parts := strings.Split(target, ",")
			switch len(parts) {
			case 1: // a label in this extension
				f.idx = slices.IndexFunc(c.m.exts[f.context+"/"+f.name], func(q priority) bool { return q.label == parts[0] })
				if f.idx < 0 {
					c.t.Fatalf("no label %s in %s/%s", parts[0], f.context, f.name)
				}
			case 3:
				nf := frame{context: parts[0], exten: parts[1], args: f.args, macro: f.macro}
				if nf.name, ok = c.m.find(nf.context, nf.exten); !ok {
					c.t.Fatalf("Goto to a missing %s,%s", nf.context, nf.exten)
				}
				f = nf
			}
		case "Hangup":
			return "hung up in " + f.context
		default:
			c.t.Fatalf("the walker does not know %s", p.app)
		}
	}
	return "looped"
}

func (c *call) reached(ctxExtPrio string) bool { return slices.Contains(c.trace, ctxExtPrio) }

// splitArgs splits an application's arguments at commas outside
// parentheses, as Asterisk's ast_app_separate_args does.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// dialOption returns the argument of option letter o in Dial's options.
// As in Asterisk's option parser, a later one wins.
func dialOption(opts string, o rune) (string, bool) {
	arg, found := "", false
	for i := 0; i < len(opts); i++ {
		letter := rune(opts[i])
		var a string
		if i+1 < len(opts) && opts[i+1] == '(' {
			depth, j := 0, i+1
			for ; j < len(opts); j++ {
				if opts[j] == '(' {
					depth++
				} else if opts[j] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			a, i = opts[i+2:min(j, len(opts))], j
		}
		if letter == o {
			arg, found = a, true
		}
	}
	return arg, found
}

// odooAGI plays odoo-agi: a known customer of salesperson 101.
func odooAGI(known bool) func(c *call, script string, args []string) {
	return func(c *call, script string, args []string) {
		switch script {
		case "incoming":
			c.vars["ODOO_RECORD_DIR"] = c.recordDir
			c.vars["ODOO_LOOKUP"], c.vars["ODOO_PARTNER_ID"], c.vars["ODOO_SALESPERSON_DIAL"] = "NOTFOUND", "", ""
			if known {
				c.vars["ODOO_LOOKUP"], c.vars["ODOO_PARTNER_ID"], c.vars["ODOO_SALESPERSON_DIAL"] = "FOUND", "42", "PJSIP/101"
				c.vars["CALLERID(name)"] = "ACME SA"
			}
		case "outgoing":
			c.vars["ODOO_RECORD_DIR"] = c.recordDir
			c.vars["ODOO_PARTNER_ID"], c.vars["ODOO_CONNECTED_NAME"] = "", ""
			if known {
				c.vars["ODOO_PARTNER_ID"], c.vars["ODOO_CONNECTED_NAME"] = "42", "ACME SA"
				c.vars["CONNECTEDLINE(name,i)"] = "ACME SA"
			}
		}
	}
}

func newCall(t *testing.T, m *dialplanModel, known bool, dial func(*call, string) string) *call {
	return &call{t: t, m: m, vars: map[string]string{"CALLERID(num)": "+32475123456"}, agi: odooAGI(known), dial: dial}
}

func noAnswer(*call, string) string { return "NOANSWER" }

func TestFreePBXWrapperThenTheInboundRoute(t *testing.T) {
	m := loadDialplan(t, 17)
	for _, exten := range []string{"3220000000", "+3220000000"} {
		c := newCall(t, m, true, noAnswer)
		end := c.run("from-trunk-odoo", exten)
		if !c.reached("ext-did-0001/" + exten + "/1") {
			t.Errorf("%s: the route's priority 1 (Set(__DIRECTION)) was skipped: %v", exten, c.trace)
		}
		if c.vars["DIRECTION"] != "INBOUND" || c.vars["CALLERID(name)"] != "ACME SA" || !c.reached("ext-group/600/1") {
			t.Errorf("%s: vars %v, trace %v", exten, c.vars, c.trace)
		}
		if len(c.handlers) != 1 || !strings.HasPrefix(c.handlers[0], "odoo-hangup,s,1(in,+32475123456,42,") {
			t.Errorf("%s: handlers %q", exten, c.handlers)
		}
		if end != "hung up in ext-group" {
			t.Errorf("%s: ended %q", exten, end)
		}
	}
}

func TestFreePBXCustomDestinationReturns(t *testing.T) {
	m := loadDialplan(t, 17)
	for _, known := range []bool{true, false} {
		dialed := ""
		c := newCall(t, m, known, func(_ *call, target string) string { dialed = target; return "NOANSWER" })
		end := c.run("from-trunk", "3220000001")
		if !c.reached("customdests/dest-1/2") || !c.reached("ext-group/600/1") || end != "hung up in ext-group" {
			t.Errorf("known %v: did not return to the Custom Destination: %v (%s)", known, c.trace, end)
		}
		if want := map[bool]string{true: "PJSIP/101", false: ""}[known]; dialed != want {
			t.Errorf("known %v: dialed %q, want %q", known, dialed, want)
		}
	}
}

func TestFreePBXOutboundHookPushesTheHandlerOnceAcrossAFailover(t *testing.T) {
	for _, v := range []struct {
		version int
		context string
	}{{17, "outbound-17"}, {16, "outbound-16"}} {
		t.Run(fmt.Sprintf("FreePBX %d", v.version), func(t *testing.T) {
			m := loadDialplan(t, v.version)
			var trunks, shown []string
			c := newCall(t, m, true, func(c *call, target string) string {
				trunks = append(trunks, target)
				shown = append(shown, c.vars["CONNECTEDLINE(name,i)"])
				return "CHANUNAVAIL"
			})
			c.vars["CALLERID(num)"] = "+3225550101" // the extension's outbound caller ID
			end := c.run(v.context, "0475123456")
			if len(trunks) != 2 {
				t.Fatalf("trunks tried: %q (%s)", trunks, end)
			}
			// What app_dial presents to the phone: the caller's connected
			// name when the trunk is dialed, after FreePBX's CID:<number>.
			if !slices.Equal(shown, []string{"ACME SA", "ACME SA"}) {
				t.Errorf("the phone is shown %q on the two trunk attempts, want the partner both times", shown)
			}
			if len(c.handlers) != 1 || !strings.HasPrefix(c.handlers[0], "odoo-hangup,s,1(out,0475123456,42,") {
				t.Errorf("handlers %q: want one, whatever the failover", c.handlers)
			}
			if end != "hung up in "+v.context {
				t.Errorf("ended %q: trace %v", end, c.trace)
			}

			shown = nil
			c = newCall(t, m, false, func(c *call, _ string) string {
				shown = append(shown, c.vars["CONNECTEDLINE(name,i)"])
				return "CHANUNAVAIL"
			})
			c.vars["CALLERID(num)"] = "+3225550101"
			c.run(v.context, "0475123456")
			if !slices.Equal(shown, []string{"CID:+3225550101", "CID:+3225550101"}) || c.reached("odoo-connected-name/s/1") {
				t.Errorf("an unknown number: the phone is shown %q; FreePBX's own name must stay", shown)
			}
		})
	}
}

// TestEveryGosubTargetReturnsOnEveryPath follows every branch of every
// context the snippet enters by Gosub (and the Custom Destination target):
// each path must end in Return(), never in Hangup() or off the end.
func TestEveryGosubTargetReturnsOnEveryPath(t *testing.T) {
	m := loadDialplan(t, 17)
	// The Custom Destination's target, the hangup handler and Dial's b()
	// and B() pre-dial handlers are entered as by Gosub too.
	targets := map[string]bool{"odoo-salesperson/s": true, "odoo-hangup/s": true, "odoo-originate/autoanswer": true, "odoo-connected-name/s": true}
	for _, prios := range m.exts {
		for _, p := range prios {
			if p.app == "Gosub" {
				if parts := strings.Split(strings.SplitN(p.args, "(", 2)[0], ","); len(parts) == 3 && strings.HasPrefix(parts[0], "odoo-") {
					targets[parts[0]+"/"+parts[1]] = true
				}
			}
		}
	}
	if len(targets) < 6 {
		t.Fatalf("found only %v", targets)
	}
	for target := range targets {
		var walk func(idx int, seen map[int]bool)
		walk = func(idx int, seen map[int]bool) {
			prios := m.exts[target]
			if idx >= len(prios) {
				t.Errorf("%s: a path falls off the end without Return()", target)
				return
			}
			if seen[idx] {
				return
			}
			seen = maps(seen, idx)
			p := prios[idx]
			switch p.app {
			case "Return":
				return
			case "Hangup", "Goto":
				if p.app == "Goto" && !strings.Contains(p.args, ",") {
					walk(slices.IndexFunc(prios, func(q priority) bool { return q.label == p.args }), seen)
					return
				}
				t.Errorf("%s line %d: a path ends in %s(%s), not Return()", target, p.line, p.app, p.args)
			case "GotoIf":
				_, branches, _ := strings.Cut(p.args, "?")
				yes, no, _ := strings.Cut(branches, ":")
				for _, b := range []string{yes, no} {
					if b == "" {
						walk(idx+1, seen)
					} else {
						walk(slices.IndexFunc(prios, func(q priority) bool { return q.label == b }), seen)
					}
				}
			default:
				walk(idx+1, seen)
			}
		}
		walk(0, map[int]bool{})
	}
}

func maps(m map[int]bool, k int) map[int]bool {
	out := map[int]bool{k: true}
	for x := range m {
		out[x] = true
	}
	return out
}

func TestRecordingsStartOnlyWhenOdooAgiSaysWhere(t *testing.T) {
	m := loadDialplan(t, 17)
	for _, dir := range []string{"", "/var/spool/asterisk/odoo"} {
		c := newCall(t, m, true, noAnswer)
		c.recordDir = dir
		c.vars["CHANNEL(linkedid)"] = "1795836500.7"
		c.run("from-trunk-odoo", "3220000000")
		want := []string(nil)
		if dir != "" {
			want = []string{dir + "/1795836500.7.wav,b"}
		}
		if !slices.Equal(c.recordings, want) {
			t.Errorf("dir %q: MixMonitor %q, want %q", dir, c.recordings, want)
		}
		if !c.reached("ext-group/600/1") {
			t.Errorf("dir %q: the call did not go on: %v", dir, c.trace)
		}
	}
}

// TestASecondOdooAgiAnswersWhenTheFirstIsDown: with ODOO_AGI_SECOND set,
// every AGI() of the snippet is tried there when the first odoo-agi
// refuses; with it unset, or the first up, nothing changes.
func TestASecondOdooAgiAnswersWhenTheFirstIsDown(t *testing.T) {
	m := loadDialplan(t, 17)
	for _, c := range []struct {
		second    string
		firstDown bool
		wantHosts []string
		wantName  string
	}{
		{"10.0.0.2:4573", true, []string{"127.0.0.1:4573", "10.0.0.2:4573"}, "ACME SA"},
		{"10.0.0.2:4573", false, []string{"127.0.0.1:4573"}, "ACME SA"},
		{"", true, []string{"127.0.0.1:4573"}, "Carrier"},
	} {
		call := newCall(t, m, true, noAnswer)
		call.vars["CALLERID(name)"] = "Carrier"
		call.vars["ODOO_AGI_SECOND"] = c.second
		call.down = map[string]bool{"127.0.0.1:4573": c.firstDown}
		call.run("from-trunk-odoo", "3220000000")
		if !slices.Equal(call.agiHosts, c.wantHosts) || call.vars["CALLERID(name)"] != c.wantName {
			t.Errorf("second %q, first down %v: incoming ran at %v, name %q; want %v, %q", c.second, c.firstDown, call.agiHosts, call.vars["CALLERID(name)"], c.wantHosts, c.wantName)
		}
		// The hangup handler, and a call out, fail over the same way.
		for _, ctx := range []struct{ context, exten string }{{"odoo-hangup", "s"}, {"odoo-outgoing", "s"}} {
			call.agiHosts = nil
			if end := call.run(ctx.context, ctx.exten); !slices.Equal(call.agiHosts, c.wantHosts) {
				t.Errorf("second %q, first down %v: %s ran at %v (%s); want %v", c.second, c.firstDown, ctx.context, call.agiHosts, end, c.wantHosts)
			}
		}
	}
}

// TestTheCalledLinesCompanyReachesTheLookup: odoo-incoming's first argument
// is the lookup's agi_arg_2 (the called line's company), on both odoo-agi;
// FreePBX's trunk wrapper, which passes none, sends it empty.
func TestTheCalledLinesCompanyReachesTheLookup(t *testing.T) {
	m := loadDialplan(t, 17)
	c := newCall(t, m, true, noAnswer)
	c.vars["ODOO_AGI_SECOND"] = "10.0.0.2:4573"
	c.down = map[string]bool{"127.0.0.1:4573": true}
	c.run("from-branch-did", "3220000000")
	want := [][]string{{"", "2"}, {"", "2"}}
	if len(c.agiArgs) < 2 || !slices.Equal(c.agiArgs[0], want[0]) || !slices.Equal(c.agiArgs[1], want[1]) {
		t.Errorf("odoo-incoming(2) ran AGI with %q; want %q first", c.agiArgs, want)
	}
	c = newCall(t, m, true, noAnswer)
	c.run("from-trunk-odoo", "3220000000")
	if len(c.agiArgs) == 0 || !slices.Equal(c.agiArgs[0], []string{"", ""}) {
		t.Errorf("the FreePBX wrapper ran AGI with %q; want two empty arguments first", c.agiArgs)
	}
}
