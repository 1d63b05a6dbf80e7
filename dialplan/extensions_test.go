package dialplan

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/lookup"
)

// No Asterisk binary is packaged for this machine (Debian 12 dropped it),
// so extensions_odoo.conf is checked here against pbx_config's rules and
// against what the Go side sends.

type priority struct {
	context, exten, label, app, args string
	line                             int
}

// parseExtensions reads the subset of extensions.conf syntax the snippet
// uses: [context], exten => name,prio(label),App(args), same => n(label),….
func parseExtensions(t *testing.T, path string) []priority {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []priority
	ctx, exten := "", ""
	stmt := regexp.MustCompile(`^\s*(exten|same)\s*=>\s*(.*)$`)
	for i, raw := range strings.Split(string(data), "\n") {
		line := stripComment(raw)
		if strings.TrimSpace(line) == "" {
			continue
		}
		if m := regexp.MustCompile(`^\[([A-Za-z0-9_-]+)\]\s*$`).FindStringSubmatch(line); m != nil {
			ctx, exten = m[1], ""
			continue
		}
		m := stmt.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %d: not a context or an extension line: %q", i+1, raw)
			continue
		}
		rest := m[2]
		if m[1] == "exten" {
			name, r, ok := strings.Cut(rest, ",")
			if !ok {
				t.Errorf("line %d: exten without a priority", i+1)
				continue
			}
			exten, rest = name, r
		} else if exten == "" {
			t.Errorf("line %d: same => before any exten", i+1)
		}
		prio, app, ok := strings.Cut(rest, ",")
		if !ok {
			t.Errorf("line %d: no application", i+1)
			continue
		}
		label := ""
		if p, l, ok := strings.Cut(prio, "("); ok {
			prio, label = p, strings.TrimSuffix(l, ")")
		}
		if prio != "n" && prio != "1" {
			t.Errorf("line %d: priority %q (use 1 then n)", i+1, prio)
		}
		name, args, ok := strings.Cut(app, "(")
		if !ok || !strings.HasSuffix(strings.TrimSpace(args), ")") {
			t.Errorf("line %d: %q is not App(args)", i+1, app)
			continue
		}
		out = append(out, priority{ctx, exten, label, name, strings.TrimSuffix(strings.TrimSpace(args), ")"), i + 1})
	}
	return out
}

// stripComment drops a ';' comment; "\;" is a literal semicolon.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == ';' {
			return s[:i]
		}
	}
	return s
}

func TestExtensionsSnippetIsWellFormed(t *testing.T) {
	prios := parseExtensions(t, "../extensions_odoo.conf")
	apps := map[string]bool{"Set": true, "NoOp": true, "AGI": true, "Return": true, "Gosub": true, "GotoIf": true, "Goto": true,
		"Dial": true, "Hangup": true, "Busy": true, "Congestion": true, "SIPAddHeader": true, "Queue": true, "MixMonitor": true}
	labels := map[string]bool{}
	exts := map[string]bool{}
	for _, p := range prios {
		labels[p.context+"/"+p.exten+"/"+p.label] = true
		exts[p.context+"/"+p.exten] = true
	}
	gotoIf := regexp.MustCompile(`\?([A-Za-z0-9_-]+)(?::([A-Za-z0-9_-]+))?$`)
	for _, p := range prios {
		if !apps[p.app] {
			t.Errorf("line %d: application %s is not one of the standard ones the snippet may use", p.line, p.app)
		}
		if d := strings.Count(p.args, "(") - strings.Count(p.args, ")"); d != 0 {
			t.Errorf("line %d: unbalanced parentheses in %s(%s)", p.line, p.app, p.args)
		}
		if strings.Count(p.args, "${") != strings.Count(p.args, "}") || strings.Count(p.args, "$[") != strings.Count(p.args, "]") {
			t.Errorf("line %d: unbalanced ${} or $[] in %s(%s)", p.line, p.app, p.args)
		}
		if p.app == "GotoIf" {
			m := gotoIf.FindStringSubmatch(p.args)
			if m == nil {
				t.Errorf("line %d: GotoIf without a label", p.line)
				continue
			}
			for _, l := range m[1:] {
				if l != "" && !labels[p.context+"/"+p.exten+"/"+l] {
					t.Errorf("line %d: GotoIf to label %q, which %s,%s does not have", p.line, l, p.context, p.exten)
				}
			}
		}
		if p.app == "Dial" && strings.Contains(p.args, "b(") {
			m := regexp.MustCompile(`b\(([^^]+)\^([^^]+)\^1\)`).FindStringSubmatch(p.args)
			if m == nil || !exts[m[1]+"/"+m[2]] {
				t.Errorf("line %d: the pre-dial handler in %s does not exist", p.line, p.args)
			}
		}
	}
	for _, want := range []string{"odoo-incoming/s", "odoo-outgoing/s", "odoo-originate/ring", "odoo-originate/autoanswer", "odoo-hangup/s"} {
		if !exts[want] {
			t.Errorf("extensions_odoo.conf lacks %s", want)
		}
	}
	// The Originate's first leg must run an extension the snippet has.
	m := regexp.MustCompile(`^Local/([^@]+)@([^/]+)(/n)?$`).FindStringSubmatch(OriginateChannel)
	if m == nil || !exts[m[2]+"/"+m[1]] {
		t.Errorf("OriginateChannel %q does not name an extension of extensions_odoo.conf", OriginateChannel)
	}
}

// recorder keeps the Originate instead of sending it.
type recorder struct{ got ami.Originate }

func (r *recorder) Originate(_ context.Context, o ami.Originate) (ami.OriginateResult, error) {
	r.got = o
	return ami.OriginateResult{Success: true, Reason: ami.ReasonAnswered}, nil
}

type noDirectory struct{}

func (noDirectory) Lookup(context.Context, string) lookup.Result {
	return lookup.Result{Status: lookup.NotFound}
}
func (noDirectory) LookupLine(context.Context, string, lookup.Line) lookup.Result {
	return lookup.Result{Status: lookup.NotFound}
}
func (noDirectory) UserID(string) (int, bool) { return 0, false }
func (noDirectory) UserName(string) string    { return "" }
func (noDirectory) CompanyLabel(int) string   { return "" }

// TestOriginateVariablesMatchTheSnippet: every ODOO_* the first leg reads
// is sent, and the handler's key is the one the Go side computes.
func TestOriginateVariablesMatchTheSnippet(t *testing.T) {
	chans := []Channel{{Name: "PJSIP/john-desk", Context: "from-internal", Originate: true, AutoAnswer: "yealink"},
		{Name: "SIP/101", Context: "from-internal", Originate: true, AutoAnswer: "grandstream"}}
	f := NewFlows(noDirectory{}, Settings{Users: Users{{Login: "john", Exten: "101", Channels: chans}}}, nil)
	rec := &recorder{}
	o := &Originator{Settings: f.Settings, Directory: f.Directory, Normalizer: lookup.Normalizer{Country: "BE"}, Manager: rec}
	if _, err := o.Call(context.Background(), CallRequest{User: "john", Number: "025551234"}); err != nil {
		t.Fatal(err)
	}
	sent := map[string]string{}
	for _, v := range rec.got.Variables {
		sent[strings.TrimLeft(v.Name, "_")] = v.Value
	}
	read := regexp.MustCompile(`\$\{(ODOO_[A-Z_]+)\}`)
	for _, p := range parseExtensions(t, "../extensions_odoo.conf") {
		if p.context != "odoo-originate" {
			continue
		}
		for _, m := range read.FindAllStringSubmatch(p.args, -1) {
			if _, ok := sent[m[1]]; !ok && m[1] != "ODOO_AA" {
				t.Errorf("line %d reads ${%s}, which the Originate does not set", p.line, m[1])
			}
		}
		if p.exten == "autoanswer" && p.app == "Set" && strings.HasPrefix(p.args, "ODOO_AA=") {
			if p.args != "ODOO_AA=${FILTER(0-9A-Za-z,${CHANNEL(name):0:-9})}" {
				t.Errorf("line %d: the handler's key is %q; autoAnswerKey assumes FILTER(0-9A-Za-z) of the name without its 9-byte suffix", p.line, p.args)
			}
		}
	}
	// What Asterisk names the channels Dial creates, and the key the handler derives.
	for _, c := range []struct{ conf, live string }{{"PJSIP/john-desk", "PJSIP/john-desk-0000002a"}, {"SIP/101", "SIP/101-0000000b"}} {
		key := autoAnswerKey(c.live[:len(c.live)-9])
		if sent["ODOO_AAH_"+key] == "" || key != autoAnswerKey(c.conf) {
			t.Errorf("channel %s: handler key %q finds no header in %v", c.live, key, sent)
		}
	}
}

// TestHangupArgumentsMatchTheFlow pins the odoo-hangup AGI arguments to
// the order Flows.Hangup reads, and each push to its four arguments.
func TestHangupArgumentsMatchTheFlow(t *testing.T) {
	want := "agi://127.0.0.1:4573/hangup,${ARG1},${ARG2},${ARG3},${ARG4},${UNIQUEID},${CHANNEL(linkedid)},${DIALSTATUS},${ANSWEREDTIME},${DIALEDPEERNAME},${DIALEDPEERNUMBER},${FILTER(0-9A-Za-z*#+,${CALLERID(num)})}"
	pushes := 0
	for _, p := range parseExtensions(t, "../extensions_odoo.conf") {
		second := strings.Replace(want, "127.0.0.1:4573", "${ODOO_AGI_SECOND}", 1) // the failover to a second odoo-agi
		if p.context == "odoo-hangup" && p.app == "AGI" && p.args != want && p.args != second {
			t.Errorf("line %d: odoo-hangup passes\n%s\nwant\n%s", p.line, p.args, want)
		}
		if strings.HasPrefix(p.args, "CHANNEL(hangup_handler_push)=odoo-hangup,s,1(") {
			pushes++
			inner := strings.TrimSuffix(strings.TrimPrefix(p.args, "CHANNEL(hangup_handler_push)=odoo-hangup,s,1("), ")")
			depth, n := 0, 1
			for _, r := range inner {
				switch r {
				case '(', '{':
					depth++
				case ')', '}':
					depth--
				case ',':
					if depth == 0 {
						n++
					}
				}
			}
			if n != 4 {
				t.Errorf("line %d: the push passes %d arguments, want 4 (direction, number, partner, start)", p.line, n)
			}
		}
	}
	if pushes != 2 {
		t.Errorf("%d hangup handler pushes in the snippet, want 2 (incoming, outgoing)", pushes)
	}
}

// TestTheSecondLegCarriesTheUsersCallerID: a Local channel copies the
// answering phone's connected line into its ;1 caller (core_unreal.c
// unreal_colp_redirect_indicate), so the snippet must keep the phones'
// identity out (Dial's I option) and set the user's caller ID again on the
// first leg before it dials out. The AMI emulator cannot show what Asterisk
// does with connected lines; this pins the dialplan that handles it.
func TestTheSecondLegCarriesTheUsersCallerID(t *testing.T) {
	var dial []string
	ringIgnoresPhones := false
	for _, p := range parseExtensions(t, "../extensions_odoo.conf") {
		if p.context != OriginateContext {
			continue
		}
		if p.exten == "ring" && p.app == "Dial" {
			opts := strings.Split(p.args, ",")
			ringIgnoresPhones = len(opts) >= 3 && strings.Contains(strings.SplitN(opts[2], "(", 2)[0], "I")
		}
		if p.exten == OriginateExten {
			dial = append(dial, p.app+"("+p.args+")")
		}
	}
	if !ringIgnoresPhones {
		t.Error("ring's Dial lacks the I option: the answering phone's identity would reach the first leg")
	}
	want := []string{"Set(CALLERID(num)=${ODOO_USER_NUM})", "Set(CALLERID(name)=${ODOO_USER_NAME})", "Goto(${ODOO_DIAL_CONTEXT},${ODOO_DIAL_NUMBER},1)"}
	if len(dial) < len(want) || !slices.Equal(dial[len(dial)-len(want):], want) {
		t.Errorf("%s@%s runs %q; want it to end with %q", OriginateExten, OriginateContext, dial, want)
	}
}
