package dialplan_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
)

// pbx starts the AMI emulator and an Originator on the world's directory.
func (w *world) pbx(t *testing.T) (*amitest.Server, *dialplan.Originator, *ami.Client) {
	t.Helper()
	s, addr := amitest.StartT(t)
	c := &ami.Client{Addr: addr, Username: "odoo", Secret: "secret", Logger: quiet}
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, &dialplan.Originator{Settings: w.flows.Settings, Directory: w.flows.Directory, Normalizer: lookup.Normalizer{Country: "BE"}, Manager: c, Logger: quiet}, c
}

func clickUsers() dialplan.Users {
	return dialplan.Users{
		{Login: "john", Exten: "101", Channels: []dialplan.Channel{
			{Name: "PJSIP/101", Context: "from-internal", Originate: true, AutoAnswer: "yealink"},
			{Name: "PJSIP/101-soft", Context: "from-internal", Originate: true, AutoAnswer: "Call-Info: <sip:>;answer-after=0"},
			{Name: "SIP/101-old", Context: "from-internal", Originate: true, AutoAnswer: "snom"},
			{Name: "PJSIP/101-desk", Context: "from-internal", Originate: false, AutoAnswer: "polycom"},
		}},
		{Login: "ann", Exten: "102", Channels: []dialplan.Channel{{Name: "PJSIP/102", Context: "from-internal"}}},
	}
}

func TestClickToDialOriginatesOnceWithEveryChannelAndItsHeader(t *testing.T) {
	w := newWorld(t, dialplan.Settings{Users: clickUsers(), OriginateTimeout: 25 * time.Second})
	s, orig, _ := w.pbx(t)
	res, err := orig.Call(context.Background(), dialplan.CallRequest{User: "john", Number: "+32 2 555 12 34"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != dialplan.Answered || res.Dialed != "025551234" || res.Partner != "ACME SA, Zoë Müller" {
		t.Errorf("result %+v", res)
	}
	got := s.Originates()
	if len(got) != 1 {
		t.Fatalf("%d Originate actions, want exactly 1", len(got))
	}
	o := got[0]
	headers := map[string]string{"Channel": "Local/ring@odoo-originate/n", "Context": "odoo-originate", "Exten": "dial",
		"Priority": "1", "Timeout": "25000", "CallerID": `"John Seller" <101>`, "Async": "true"}
	for k, v := range headers {
		if o.Header(k) != v {
			t.Errorf("%s: %q, want %q", k, o.Header(k), v)
		}
	}
	vars := map[string]string{
		"ODOO_DIAL":              "PJSIP/101&PJSIP/101-soft&SIP/101-old",
		"ODOO_RING_TIMEOUT":      "25",
		"ODOO_CALLEE_NUM":        "+3225551234",
		"ODOO_CALLEE_NAME":       "ACME SA, Zoë Müller",
		"ODOO_USER":              "john",
		"ODOO_USER_NUM":          "101",
		"ODOO_USER_NAME":         "John Seller",
		"ODOO_DIAL_CONTEXT":      "from-internal",
		"ODOO_DIAL_NUMBER":       "025551234",
		"_ODOO_AAH_PJSIP101":     "Alert-Info",
		"_ODOO_AAV_PJSIP101":     "info=alert-autoanswer",
		"_ODOO_AAH_PJSIP101soft": "Call-Info",
		"_ODOO_AAV_PJSIP101soft": "<sip:>;answer-after=0",
		"_ODOO_AAH_SIP101old":    "Alert-Info",
		"_ODOO_AAV_SIP101old":    "<http://127.0.0.1>;info=alert-autoanswer;delay=0",
	}
	for k, v := range vars {
		if o.Var(k) != v {
			t.Errorf("Asterisk reads %s = %q, want %q", k, o.Var(k), v)
		}
	}
	if len(o.Vars) != len(vars) {
		t.Errorf("%d variables, want %d (the non-originate channel must not get a header): %q", len(o.Vars), len(vars), o.Vars)
	}
}

func TestClickToDialOutcomes(t *testing.T) {
	w := newWorld(t, dialplan.Settings{Users: clickUsers(), OriginateTimeout: time.Second})
	s, orig, _ := w.pbx(t)
	cases := []struct {
		name   string
		out    amitest.Outcome
		status string
	}{
		{"the user answers", amitest.Outcome{Success: true, Reason: ami.ReasonAnswered}, dialplan.Answered},
		{"the phone is busy", amitest.Outcome{Reason: ami.ReasonBusy}, dialplan.Busy},
		{"nobody answers before the timeout", amitest.Outcome{Reason: ami.ReasonRinging}, dialplan.NoAnswer},
		{"Dial gave up and hung up", amitest.Outcome{Reason: ami.ReasonHangup}, dialplan.NoAnswer},
		{"the phones are unreachable", amitest.Outcome{Reason: ami.ReasonCongestion}, dialplan.Failed},
		{"the context does not exist", amitest.Outcome{Reason: ami.ReasonFailed}, dialplan.Failed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.Decide(func(amitest.Originated) amitest.Outcome { return tc.out })
			res, err := orig.Call(context.Background(), dialplan.CallRequest{User: "john", Number: "0475 12 34 56"})
			if err != nil || res.Status != tc.status || res.Detail == "" {
				t.Errorf("got %+v, %v; want %s", res, err, tc.status)
			}
		})
	}
}

func TestClickToDialRefusesWhatCannotWork(t *testing.T) {
	w := newWorld(t, dialplan.Settings{Users: clickUsers()})
	s, orig, c := w.pbx(t)
	cases := []struct {
		name string
		req  dialplan.CallRequest
		want error
	}{
		{"an unknown user", dialplan.CallRequest{User: "mallory", Number: "025551234"}, dialplan.ErrUnknownUser},
		{"a user with no originate channel", dialplan.CallRequest{User: "ann", Number: "025551234"}, dialplan.ErrNoChannel},
		{"a number that is not one", dialplan.CallRequest{User: "john", Number: "call me maybe"}, dialplan.ErrBadNumber},
		{"an anonymous number", dialplan.CallRequest{User: "john", Number: "anonymous"}, dialplan.ErrBadNumber},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := orig.Call(context.Background(), tc.req); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if n := len(s.Originates()); n != 0 {
		t.Errorf("%d Originates were sent for requests that cannot work", n)
	}
	t.Run("an internal extension is dialed as it is", func(t *testing.T) {
		res, err := orig.Call(context.Background(), dialplan.CallRequest{User: "john", Number: "102"})
		if err != nil || res.Dialed != "102" {
			t.Errorf("got %+v, %v", res, err)
		}
	})
	t.Run("AMI down is ErrPBXDown", func(t *testing.T) {
		c.Close()
		if _, err := orig.Call(context.Background(), dialplan.CallRequest{User: "john", Number: "025551234"}); !errors.Is(err, dialplan.ErrPBXDown) {
			t.Errorf("got %v", err)
		}
	})
}

func TestAutoAnswerPresetsAndAsteriskPlusHeaders(t *testing.T) {
	for _, p := range dialplan.Presets {
		h, err := dialplan.ParseAutoAnswer(strings.ToUpper(p.Name))
		if err != nil || h == nil || *h != p.Header || p.Setting == "" || p.Source == "" {
			t.Errorf("preset %s: %+v, %v (every preset needs a header, a setting and a source)", p.Name, h, err)
		}
	}
	// Every header Asterisk Plus offers must still work after a migration.
	for _, raw := range []string{
		"Alert-Info: Info=Alert-Autoanswer", "Alert-Info: Ring Answer", "Alert-Info: Info=Auto Answer",
		"Alert-Info: ;info=alert-autoanswer", "Alert-Info: <sip:>;info=alert-autoanswer", "Alert-Info: answer-after=0",
		"Call-Info: <sip:>;answer-after=0", "Call-Info: Answer-After=0", "Call-Info: Auto Answer",
		"Answer-Mode: Auto", "P-Auto-Answer: normal",
	} {
		h, err := dialplan.ParseAutoAnswer(raw)
		name, value, _ := strings.Cut(raw, ": ")
		if err != nil || h == nil || h.Name != name || h.Value != value {
			t.Errorf("%q: %+v, %v", raw, h, err)
		}
	}
	for _, bad := range []string{"yealnik", "Bad Header: x", "Call-Info: a\r\nINVITE", "Call-Info: é"} {
		if _, err := dialplan.ParseAutoAnswer(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	if h, err := dialplan.ParseAutoAnswer(""); h != nil || err != nil {
		t.Errorf("empty: %+v, %v", h, err)
	}
}

func TestUsersThatClickToDialCannotServeAreRefusedAtLoad(t *testing.T) {
	cases := []struct {
		name string
		ch   []dialplan.Channel
		want string
	}{
		{"an unknown preset", []dialplan.Channel{{Name: "PJSIP/1", Context: "c", AutoAnswer: "yealnik"}}, "want a preset"},
		{"originate channels in two contexts", []dialplan.Channel{{Name: "PJSIP/1", Context: "a", Originate: true}, {Name: "PJSIP/2", Context: "b", Originate: true}}, "contexts"},
		{"names the handler cannot tell apart", []dialplan.Channel{{Name: "PJSIP/1-0", Context: "c", Originate: true}, {Name: "PJSIP/10", Context: "c", Originate: true}}, "punctuation"},
		{"a context with a comma", []dialplan.Channel{{Name: "PJSIP/1", Context: "a,b"}}, "context"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := dialplan.Users{{Login: "x", Channels: tc.ch}}.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error about %s", err, tc.want)
			}
		})
	}
}

func TestEveryPresetReachesAsteriskIntactOnPJSIPAndChanSIP(t *testing.T) {
	var chans []dialplan.Channel
	for _, p := range dialplan.Presets {
		chans = append(chans,
			dialplan.Channel{Name: "PJSIP/" + p.Name, Context: "from-internal", Originate: true, AutoAnswer: p.Name},
			dialplan.Channel{Name: "SIP/" + p.Name, Context: "from-internal", Originate: true, AutoAnswer: p.Name})
	}
	users := dialplan.Users{{Login: "tester", Exten: "199", Channels: chans}}
	if err := users.Validate(); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, dialplan.Settings{Users: users, OriginateTimeout: time.Second})
	s, orig, _ := w.pbx(t)
	if _, err := orig.Call(context.Background(), dialplan.CallRequest{User: "tester", Number: "025551234"}); err != nil {
		t.Fatal(err)
	}
	o := s.Originates()[0]
	for _, p := range dialplan.Presets {
		for _, tech := range []string{"PJSIP", "SIP"} {
			key := tech + p.Name
			if o.Var("_ODOO_AAH_"+key) != p.Header.Name || o.Var("_ODOO_AAV_"+key) != p.Header.Value {
				t.Errorf("%s/%s: Asterisk reads %q: %q, want %q: %q", tech, p.Name, o.Var("_ODOO_AAH_"+key), o.Var("_ODOO_AAV_"+key), p.Header.Name, p.Header.Value)
			}
		}
	}
}

// TestOnlyCallsCountAsCallLookups: lookups_total counts calls, so the
// click-to-dial's lookup of the partner's name is not one of them.
func TestOnlyCallsCountAsCallLookups(t *testing.T) {
	w := newWorld(t, dialplan.Settings{Users: clickUsers()})
	_, orig, _ := w.pbx(t)
	w.call(t, "+3225551234", "TRUNK")
	if _, err := orig.Call(context.Background(), dialplan.CallRequest{User: "john", Number: "02 555 12 34"}); err != nil {
		t.Fatal(err)
	}
	calls, all := w.flows.LookupCounts(), w.dir.LookupCounts()
	if calls[lookup.Found] != 1 || all[lookup.Found] != 2 {
		t.Errorf("call lookups %v, directory lookups %v; want 1 and 2 FOUND", calls, all)
	}
}
