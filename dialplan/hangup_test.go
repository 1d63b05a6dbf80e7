package dialplan_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/calllog"
	"github.com/odoo-agi/odoo-agi/dialplan"
)

// hangup runs the odoo-hangup handler's AGI with its eleven arguments.
func (w *world) hangup(t *testing.T, args ...string) *agitest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := agitest.Call{Script: "hangup", Args: args, Env: map[string]string{"channel": "PJSIP/trunk-00000001"}}.Run(ctx, w.addr)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func drainSpool(t *testing.T, sp *calllog.Spool) []calllog.Record {
	t.Helper()
	var out []calllog.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		e, err := sp.Next(ctx)
		cancel()
		if err != nil {
			return out
		}
		out = append(out, e.Record)
		sp.Ack(e.Next)
	}
}

func TestHangupSpoolsTheCallAndSendsNoCommand(t *testing.T) {
	users := dialplan.Users{
		{Login: "john", Exten: "101", Channels: []dialplan.Channel{{Name: "PJSIP/101", Context: "from-internal"}, {Name: "PJSIP/john-soft", Context: "from-internal"}}},
		{Login: "ann", Exten: "102", Channels: []dialplan.Channel{{Name: "PJSIP/102", Context: "from-internal"}}},
	}
	w := newWorld(t, dialplan.Settings{Users: users})
	sp, err := calllog.OpenSpool(t.TempDir(), calllog.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	w.flows.Recorder = sp
	start := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	cases := []struct {
		name string
		args []string
		want calllog.Record
	}{
		{"an incoming call answered on a softphone", []string{"in", "025551234", "42", start, "1700000000.1", "1700000000.1", "ANSWER", "192", "PJSIP/john-soft-0000002a", "john-soft", "025551234"},
			calllog.Record{Direction: "in", Number: "025551234", PartnerID: 42, UniqueID: "1700000000.1", Status: "ANSWER", Peer: "PJSIP/john-soft", User: "john", Exten: "101"}},
		{"a missed incoming call: who was rung", []string{"in", "+3225551234", "", start, "1700000000.2", "1700000000.2", "NOANSWER", "", "", "102", "+3225551234"},
			calllog.Record{Direction: "in", Number: "+3225551234", UniqueID: "1700000000.2", Status: "NOANSWER", User: "ann", Exten: "102"}},
		{"an outgoing call: the caller's extension", []string{"out", "0475123456", "", start, "1700000000.3", "1700000000.3", "BUSY", "", "PJSIP/trunk-0000000b", "0475123456@trunk", "101"},
			calllog.Record{Direction: "out", Number: "0475123456", UniqueID: "1700000000.3", Status: "BUSY", Peer: "PJSIP/trunk", User: "john", Exten: "101"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := w.hangup(t, tc.args...)
			if len(res.Lines) != 0 {
				t.Errorf("the hangup route sent %d commands; it must send none: %q", len(res.Lines), res.Lines)
			}
			got := drainSpool(t, sp)
			if len(got) != 1 {
				t.Fatalf("%d records spooled", len(got))
			}
			g := got[0]
			if g.Start.IsZero() || g.End.Before(g.Start) {
				t.Errorf("start %v end %v", g.Start, g.End)
			}
			g.Start, g.End, g.Talk, g.LinkedID = time.Time{}, time.Time{}, calllog.Duration{}, ""
			if g != tc.want {
				t.Errorf("got  %+v\nwant %+v", g, tc.want)
			}
		})
	}
	t.Run("talk time is ANSWEREDTIME", func(t *testing.T) {
		w.hangup(t, "in", "025551234", "", start, "1700000000.4", "", "ANSWER", "65", "PJSIP/101-0000000c", "101", "")
		if got := drainSpool(t, sp); len(got) != 1 || got[0].Talk.Duration != 65*time.Second {
			t.Errorf("%+v", got)
		}
	})
	t.Run("an unknown direction spools nothing", func(t *testing.T) {
		w.hangup(t, "sideways", "1", "", start, "x")
		if got := drainSpool(t, sp); len(got) != 0 {
			t.Errorf("%+v", got)
		}
	})
}

func TestClickToDialPushesTheHangupHandlerWhenTheCallLogIsOn(t *testing.T) {
	w := newWorld(t, dialplan.Settings{Users: clickUsers()})
	s, orig, _ := w.pbx(t)
	sp, err := calllog.OpenSpool(t.TempDir(), calllog.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	w.flows.Recorder = sp
	orig.LogCalls = true
	if _, err := orig.Call(context.Background(), dialplan.CallRequest{User: "john", Number: "0475 12 34 56", PartnerID: 7}); err != nil {
		t.Fatal(err)
	}
	v := s.Originates()[0].Var("CHANNEL(hangup_handler_push)")
	if !strings.HasPrefix(v, "odoo-hangup,s,1(click,+32475123456,7,") || !strings.HasSuffix(v, ")") {
		t.Errorf("Asterisk reads CHANNEL(hangup_handler_push) = %q", v)
	}
}
