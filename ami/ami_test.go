package ami_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/internal/wait"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func manager(t *testing.T) (*amitest.Server, string) { return amitest.StartT(t) }

func connect(t *testing.T, addr, user, secret string) (*ami.Client, error) {
	t.Helper()
	c := &ami.Client{Addr: addr, Username: user, Secret: secret, Logger: quiet, DialTimeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := c.Connect(ctx)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestReadMessage(t *testing.T) {
	cases := []struct {
		name, wire string
		want       []ami.Field
	}{
		{"a response with an empty value", "Response: Success\r\nActionID: 1\r\nMessage:\r\n\r\n",
			[]ami.Field{{"Response", "Success"}, {"ActionID", "1"}, {"Message", ""}}},
		{"a value keeps its colons", "Event: X\r\nChannel: PJSIP/sip:101@host\r\n\r\n",
			[]ami.Field{{"Event", "X"}, {"Channel", "PJSIP/sip:101@host"}}},
		{"Asterisk 22 Command output", "Response: Success\r\nMessage: Command output follows\r\nOutput: a: b\r\nOutput: c\r\n\r\n",
			[]ami.Field{{"Response", "Success"}, {"Message", "Command output follows"}, {"Output", "a: b"}, {"Output", "c"}}},
		{"Asterisk 13 Command output", "Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\nline one\nkey: value\n--END COMMAND--\r\n\r\n",
			[]ami.Field{{"Response", "Follows"}, {"Privilege", "Command"}, {"ActionID", "7"}, {"Output", "line one"}, {"Output", "key: value"}}},
		{"LF-only line ends", "Event: Y\nA: 1\n\n", []ami.Field{{"Event", "Y"}, {"A", "1"}}},
		{"blank lines before a message", "\r\n\r\nPing: Pong\r\n\r\n", []ami.Field{{"Ping", "Pong"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ami.ReadMessage(bufio.NewReader(strings.NewReader(tc.wire)))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(m.Fields) != fmt.Sprint(tc.want) {
				t.Errorf("got %q\nwant %q", m.Fields, tc.want)
			}
		})
	}
	t.Run("a message cut short is an error, not a message", func(t *testing.T) {
		if _, err := ami.ReadMessage(bufio.NewReader(strings.NewReader("Response: Success\r\nActionID: 1\r\n"))); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("an endless line is refused", func(t *testing.T) {
		if _, err := ami.ReadMessage(bufio.NewReader(strings.NewReader("A: " + strings.Repeat("x", 100<<10) + "\r\n\r\n"))); !errors.Is(err, ami.ErrMalformed) {
			t.Errorf("got %v", err)
		}
	})
}

func TestLoginPingCommandLogoff(t *testing.T) {
	s, addr := manager(t)
	c, err := connect(t, addr, "odoo", "secret")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	out, err := c.Command(ctx, "core show version")
	if err != nil || len(out) == 0 || !strings.HasPrefix(out[0], "Asterisk 22") {
		t.Errorf("Command: %q, %v", out, err)
	}
	if !c.State().Connected || s.Logins() != 1 {
		t.Errorf("state %+v, logins %d", c.State(), s.Logins())
	}
	c.Close()
	if c.State().Connected {
		t.Error("still connected after Close")
	}
	if err := c.Ping(ctx); !errors.Is(err, ami.ErrNotConnected) {
		t.Errorf("Ping after Close: %v", err)
	}
}

func TestFailuresSayWhatWentWrong(t *testing.T) {
	s, addr := manager(t)
	s.AddUser("dialer", amitest.User{Secret: "pw"}) // no originate permission
	t.Run("a wrong secret is Authentication failed", func(t *testing.T) {
		_, err := connect(t, addr, "odoo", "wrong")
		if !errors.Is(err, ami.ErrAuth) || !strings.Contains(err.Error(), `login as "odoo"`) || strings.Contains(err.Error(), "wrong") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no originate right is Permission denied", func(t *testing.T) {
		c, err := connect(t, addr, "dialer", "pw")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = c.Originate(ctx, ami.Originate{Channel: "Local/ring@odoo-originate", Context: "from-internal", Exten: "100", Timeout: time.Second})
		if !errors.Is(err, ami.ErrPermission) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("nothing listening is a clear connect error", func(t *testing.T) {
		_, err := connect(t, "127.0.0.1:1", "odoo", "secret")
		if err == nil || !strings.Contains(err.Error(), "cannot connect to Asterisk at 127.0.0.1:1") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no OriginateResponse within ctx is a timeout", func(t *testing.T) {
		s.Decide(func(amitest.Originated) amitest.Outcome { return amitest.Outcome{Delay: time.Second} })
		defer s.Decide(nil)
		c, err := connect(t, addr, "odoo", "secret")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err = c.Originate(ctx, ami.Originate{Channel: "Local/ring@odoo-originate", Context: "c", Exten: "1", Timeout: time.Second})
		if !errors.Is(err, ami.ErrTimeout) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a value with CR or LF is refused before anything is sent", func(t *testing.T) {
		c, err := connect(t, addr, "odoo", "secret")
		if err != nil {
			t.Fatal(err)
		}
		a := ami.NewAction("Command")
		a.Add("Command", "core show version\r\n\r\nAction: Command\r\nCommand: core stop now")
		if _, err := c.Action(context.Background(), a); err == nil {
			t.Error("an action carrying CRLF was sent")
		}
	})
}

func TestOriginateSendsExactHeadersAndVariablesArriveIntact(t *testing.T) {
	s, addr := manager(t)
	c, err := connect(t, addr, "odoo", "secret")
	if err != nil {
		t.Fatal(err)
	}
	tricky := `ACME, "Zoë" \ (Müller) [HQ]`
	o := ami.Originate{Channel: "Local/ring@odoo-originate", Context: "from-internal", Exten: "0475123456", Priority: 1,
		Timeout: 30 * time.Second, CallerID: `"John Seller" <101>`,
		Variables: []ami.Var{{"ODOO_PARTNER_NAME", tricky}, {"_ODOO_AAV_PJSIP101", "<sip:127.0.0.1>;answer-after=0"}, {"X", "a=b"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, err := c.Originate(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success || res.Reason != ami.ReasonAnswered {
		t.Errorf("result %+v", res)
	}
	got := s.Originates()[0]
	var keys []string
	for _, f := range got.Fields {
		if f.Key != "ActionID" {
			keys = append(keys, f.Key+"="+f.Value)
		}
	}
	want := []string{"Action=Originate", "Channel=Local/ring@odoo-originate", "Context=from-internal", "Exten=0475123456",
		"Priority=1", "Timeout=30000", `CallerID="John Seller" <101>`,
		`Variable=ODOO_PARTNER_NAME=ACME\, \"Zoë\" \\ \(Müller\) \[HQ\]`,
		"Variable=_ODOO_AAV_PJSIP101=<sip:127.0.0.1>;answer-after=0", "Variable=X=a=b", "Async=true"}
	if strings.Join(keys, "\n") != strings.Join(want, "\n") {
		t.Errorf("headers:\n%s\nwant:\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}
	for name, v := range map[string]string{"ODOO_PARTNER_NAME": tricky, "_ODOO_AAV_PJSIP101": "<sip:127.0.0.1>;answer-after=0", "X": "a=b"} {
		if got.Var(name) != v {
			t.Errorf("Asterisk read %s = %q, want %q", name, got.Var(name), v)
		}
	}
	if len(got.Vars) != 3 {
		t.Errorf("Asterisk read %d variables, want 3: %q", len(got.Vars), got.Vars)
	}
}

func TestHundredConcurrentOriginatesEachGetTheirOwnOutcome(t *testing.T) {
	s, addr := manager(t)
	s.Decide(func(o amitest.Originated) amitest.Outcome {
		var n int
		fmt.Sscan(o.Header("Exten"), &n)
		// Later calls finish first, so answers arrive out of order.
		return amitest.Outcome{Success: n%3 == 0, Reason: []int{ami.ReasonAnswered, ami.ReasonBusy, ami.ReasonRinging}[n%3],
			Delay: time.Duration(100-n) * time.Millisecond}
	})
	c, err := connect(t, addr, "odoo", "secret")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r, err := c.Originate(ctx, ami.Originate{Channel: "Local/ring@odoo-originate", Context: "from-internal", Exten: fmt.Sprint(n), Timeout: time.Second})
			want := []int{ami.ReasonAnswered, ami.ReasonBusy, ami.ReasonRinging}[n%3]
			if err != nil || r.Reason != want || r.Success != (n%3 == 0) {
				errs <- fmt.Errorf("call %d: %+v, %v; want reason %d", n, r, err, want)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRunReconnectsAfterAsteriskRestarts(t *testing.T) {
	s, addr := manager(t)
	c := &ami.Client{Addr: addr, Username: "odoo", Secret: "secret", Logger: quiet, DialTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	waitFor(t, "first login", func() bool { return c.State().Connected })

	s.Stop()
	waitFor(t, "the client to notice", func() bool { return !c.State().Connected })
	if err := c.Ping(context.Background()); !errors.Is(err, ami.ErrNotConnected) {
		t.Errorf("Ping while down: %v", err)
	}
	if _, err := s.StartOn(addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reconnect", func() bool { return c.State().Connected })
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("Ping after reconnect: %v", err)
	}
	if s.Logins() != 2 {
		t.Errorf("logins = %d, want 2", s.Logins())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	wait.For(t, what, 5*time.Second, cond)
}

func TestSubscribersGetTheCallEventsAsAsteriskSendsThem(t *testing.T) {
	s, addr := manager(t)
	c, err := connect(t, addr, "odoo", "secret")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := c.Subscribe(ctx, "DialBegin", "DialEnd", "Hangup")
	trunk := amitest.Chan{Name: "PJSIP/trunk-00000000", State: 4, CallerIDNum: "+32475123456", CallerIDName: "Carrier",
		Context: "from-trunk", Exten: "0475123456", Priority: 4, Uniqueid: "1795836198.0", Linkedid: "1795836198.0"}
	phone := amitest.Chan{Name: "PJSIP/101-00000001", CallerIDNum: "101", CallerIDName: "Alice", Context: "from-internal",
		Uniqueid: "1795836198.1", Linkedid: "1795836198.0"}
	s.EmitNewchannel(trunk) // not asked for
	s.EmitDialBegin(trunk, phone, "101")
	s.EmitDialEnd(trunk, phone, "ANSWER")
	s.EmitHangup(trunk, 16, "Normal Clearing")
	var got []string
	for range 3 {
		select {
		case m := <-events:
			got = append(got, m.Get("Event")+" "+m.Get("Uniqueid")+" "+m.Get("DestChannel")+m.Get("DialStatus")+m.Get("Cause-txt"))
		case <-time.After(2 * time.Second):
			t.Fatalf("got %q, then nothing", got)
		}
	}
	want := []string{"DialBegin 1795836198.0 PJSIP/101-00000001", "DialEnd 1795836198.0 PJSIP/101-00000001ANSWER", "Hangup 1795836198.0 Normal Clearing"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestWithoutReadCallNoEventArrivesNotEvenOriginateResponse(t *testing.T) {
	s, addr := manager(t)
	s.AddUser("deaf", amitest.User{Secret: "pw", Originate: true})
	c, err := connect(t, addr, "deaf", "pw")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.Originate(ctx, ami.Originate{Channel: "Local/ring@odoo-originate/n", Context: "c", Exten: "1", Timeout: time.Second}); err == nil || !strings.Contains(err.Error(), "OriginateResponse") {
		t.Errorf("Originate = %v; without read = call its outcome never arrives", err)
	}
}
