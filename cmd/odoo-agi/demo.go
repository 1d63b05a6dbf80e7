package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/daemon"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
	"github.com/odoo-agi/odoo-agi/sipws/sipwstest"
)

// demoCall is one sample call: what the trunk sends.
type demoCall struct {
	callerID, trunkName, note string
}

var demoCalls = []demoCall{
	{"+3225551234", "ACME TRUNK", "a contact, stored as \"02 555 12 34\""},
	{"0475 12 34 56", "", "a mobile, national form"},
	{"3222345678", "GLOBEX", "digits without the +; several contacts of one company"},
	{"0033 1 23 45 67 89", "PARIS OFFICE", "unknown caller: the trunk name is kept"},
	{"+390612345678", "", "Italian number, leading 0 kept"},
	{"+3225550666", "", "a partner named with a quote and a newline"},
	{"anonymous", "", "withheld number: skipped"},
	{"101", "Reception", "internal extension: skipped"},
}

// seedDemo fills the emulator with a few contacts.
func seedDemo(o *odootest.Server) int {
	be, fr, it := o.CountryID("BE"), o.CountryID("FR"), o.CountryID("IT")
	vip := o.AddCategory("VIP")
	john := o.AddUser("john", "John Seller")
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "+32 2 555 00 00", CountryID: be, UserID: john, CategoryIDs: []int{vip}})
	o.Upsert(odootest.Partner{Name: "Zoë Müller", ParentID: acme, Phone: "02 555 12 34", CountryID: be, UserID: john, CategoryIDs: []int{vip}})
	o.Upsert(odootest.Partner{Name: "Jean Dupont", Phone: "0475/12.34.56", CountryID: be}) // Odoo 19 has no mobile field
	globex := o.Upsert(odootest.Partner{Name: "Globex", IsCompany: true, Phone: "02 234 56 78", CountryID: be})
	o.Upsert(odootest.Partner{Name: "Ann", ParentID: globex, Phone: "0032 2 234 56 78"})
	o.Upsert(odootest.Partner{Name: "Bob", ParentID: globex, Phone: "02/234.56.78"})
	o.Upsert(odootest.Partner{Name: "Roma Srl", IsCompany: true, Phone: "06 1234 5678", CountryID: it})
	o.Upsert(odootest.Partner{Name: "Evil \"Corp\"\nEXEC System reboot", IsCompany: true, Phone: "02 555 06 66", CountryID: be})
	o.Upsert(odootest.Partner{Name: "Société Générale Paris", IsCompany: true, Phone: "01 40 00 00 00", CountryID: fr})
	return 9
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	listen := fs.String("listen", "127.0.0.1:4573", "FastAGI address to serve on")
	httpAddr := fs.String("http", "127.0.0.1:48008", "address of the phone page")
	debug := fs.Bool("debug", false, "log every AGI exchange and Odoo call")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	return runDemo(ctx, demoOptions{listen: *listen, http: *httpAddr, debug: *debug, every: 20 * time.Second}, stdout, stderr)
}

// runDemo serves until ctx ends, after printing the sample calls. It runs
// the daemon as serve does, with an Odoo and an Asterisk manager emulator
// in place of the real ones.
// demoOptions are the demo's flags.
type demoOptions struct {
	listen, http string
	debug        bool
	every        time.Duration // between simulated incoming calls
}

func runDemo(ctx context.Context, opt demoOptions, stdout, stderr io.Writer) error {
	o := odootest.New()
	odooURL, err := o.Start()
	if err != nil {
		return fmt.Errorf("demo: start the Odoo emulator: %w", err)
	}
	defer o.Close()
	n := seedDemo(o)
	// The demo shows the way forward: Odoo 19 over JSON-2 with an API key.
	o.SetVersion(19)
	apiKey := o.AddAPIKey("asterisk1")
	o.SetPassword("asterisk1", "demo-password")
	o.SetPassword("john", "demo")
	pbx := amitest.New()
	pbx.AddUser("odoo", amitest.User{Secret: "demo-secret", Originate: true, ReadCall: true})
	amiAddr, err := pbx.Start()
	if err != nil {
		return fmt.Errorf("demo: start the AMI emulator: %w", err)
	}
	defer pbx.Stop()

	// An Asterisk with WebRTC for john's softphone: it answers any number
	// with a tone.
	ast, err := sipwstest.Start(map[string]string{"webrtc_101": demoSoftphoneSecret})
	if err != nil {
		return fmt.Errorf("demo: start the WebRTC emulator: %w", err)
	}
	defer ast.Close()

	c := daemon.DefaultConfig()
	c.Path = "(demo)"
	c.Debug = opt.debug
	c.Odoo.URL, c.Odoo.Password, c.Odoo.APIKey = odooURL, "", apiKey
	c.Odoo.CacheFile = filepath.Join(os.TempDir(), fmt.Sprintf("odoo-agi-demo-%d.snapshot", os.Getpid()))
	defer os.Remove(c.Odoo.CacheFile)
	c.AMI.Address, c.AMI.Secret = amiAddr, "demo-secret"
	c.API.Listen = ""
	c.WebRTC.AsteriskWS = ast.URL()
	c.Users = []daemon.UserConfig{{Login: "john", Exten: "101", Admin: true, WebRTC: "webrtc_101", WebRTCSecret: demoSoftphoneSecret, Channels: []daemon.ChannelConfig{
		{Name: "PJSIP/101", Originate: true, AutoAnswer: "yealink"},
		{Name: "PJSIP/101b", Originate: true, AutoAnswer: "Call-Info: <sip:127.0.0.1>;answer-after=0"},
	}}}
	c.CallerID.GeolocateUnknown = true
	if err := c.Validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opt.listen)
	if err != nil {
		return fmt.Errorf("demo: listen on %s: %w (another odoo-agi running? try -listen 127.0.0.1:0)", opt.listen, err)
	}
	web, err := net.Listen("tcp", opt.http)
	if err != nil {
		ln.Close()
		return fmt.Errorf("demo: listen for the phone page on %s: %w (another odoo-agi running? try -http 127.0.0.1:0)", opt.http, err)
	}
	d, err := daemon.New(c, daemon.Options{Logs: stderr, AGIListener: ln, APIListener: web, Version: versionString()})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	if err := demoReady(ctx, d, done); err != nil {
		return err
	}
	addr := d.AGIAddr()

	fmt.Fprintf(stdout, "odoo-agi demo: Odoo 19 emulator at %s with %d contacts (JSON-2 API), FastAGI on %s\n\n", odooURL, n, addr)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CALLER ID IN\tE.164\tODOO_LOOKUP\tCALLERID(name) OUT\tSALESPERSON\tTAGS\tAGI ROUND TRIPS\t")
	for _, call := range demoCalls {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := agitest.Call{
			Script: "incoming",
			Args:   []string{},
			Env:    map[string]string{"callerid": call.callerID, "calleridname": call.trunkName, "channel": "PJSIP/trunk-00000001"},
			Vars:   map[string]string{"CALLERID(name)": call.trunkName},
		}.Run(cctx, addr)
		ccancel()
		if err != nil {
			return fmt.Errorf("demo: sample call %s: %w", call.callerID, err)
		}
		v := res.Vars
		fmt.Fprintf(tw, "%s\t%s\t%s\t%q\t%s\t%s\t%d\t\n", call.callerID, dash(v["ODOO_CALLER_E164"]), v["ODOO_LOOKUP"],
			v["CALLERID(name)"], dash(v["ODOO_SALESPERSON_DIAL"]), dash(v["ODOO_PARTNER_TAGS"]), len(res.Lines))
	}
	tw.Flush()
	res, err := d.Originator.Call(ctx, dialplan.CallRequest{User: "john", Number: "0475 12 34 56"})
	if err != nil {
		return fmt.Errorf("demo: click-to-dial: %w", err)
	}
	fmt.Fprintf(stdout, "\nClick-to-dial: john calls 0475 12 34 56 → %s (%s). One AMI Originate:\n", res.Status, res.Detail)
	for _, o := range pbx.Originates() {
		for _, f := range o.Fields {
			if f.Key != "ActionID" {
				fmt.Fprintf(stdout, "  %s: %s\n", f.Key, f.Value)
			}
		}
	}
	fmt.Fprintf(stdout, "\nServing FastAGI on %s until Ctrl-C. Point Asterisk at it:\n  same => n,AGI(agi://%s/incoming)\n", addr, addr)
	fmt.Fprintf(stdout, "\nPhone page: http://%s/  (sign in as john, password demo)\nAn incoming call rings john every %v: watch its card there.\n", d.APIAddr(), opt.every)
	fmt.Fprintf(stdout, "The page is a softphone too: call any number from it and the emulated Asterisk answers with a tone;\nevery other incoming call rings it, so you can answer in the browser.\n")
	go simulateCalls(ctx, d, pbx, ast, opt.every)
	if err := <-done; err != nil {
		return err
	}
	fmt.Fprintln(stdout, "odoo-agi demo: stopped")
	return nil
}

// simulateCalls plays an incoming call to john every so often, as
// Asterisk would: the FastAGI lookup, then the manager's DialBegin to his
// phone, then DialEnd and Hangup a few seconds later, answered or missed.
func simulateCalls(ctx context.Context, d *daemon.Daemon, pbx *amitest.Server, ast *sipwstest.Server, every time.Duration) {
	callers := []string{"+3225551234", "0475 12 34 56", "3222345678", "0033 1 23 45 67 89"}
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		uid := fmt.Sprintf("%d.%d", time.Now().Unix(), n)
		num := callers[n%len(callers)]
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": num, "uniqueid": uid,
			"channel": "PJSIP/trunk-00000001"}}.Run(cctx, d.AGIAddr())
		cancel()
		trunk := amitest.Chan{Name: "PJSIP/trunk-00000001", State: 4, CallerIDNum: num, CallerIDName: "TRUNK", Context: "from-trunk",
			Exten: "3220000000", Priority: 4, Uniqueid: uid, Linkedid: uid}
		phone := amitest.Chan{Name: "PJSIP/101-0000000" + fmt.Sprint(n%10), CallerIDNum: "101", CallerIDName: "John",
			Context: "from-internal", Uniqueid: uid + "1", Linkedid: uid}
		pbx.EmitDialBegin(trunk, phone, "101")
		var soft *sipwstest.Call
		if n%2 == 0 && ast.Registered("webrtc_101") {
			name := d.Directory.Lookup(ctx, num).Partner.DisplayName
			soft, _ = ast.Call(ctx, "webrtc_101", num, name)
		}
		status := []string{"ANSWER", "NOANSWER"}[n%2]
		for _, step := range []func(){
			func() { pbx.EmitDialEnd(trunk, phone, status) },
			func() {
				pbx.EmitHangup(trunk, 16, "Normal Clearing")
				if soft != nil && soft.Snapshot().State == "up" {
					soft.Hangup(ctx)
				}
			},
		} {
			select {
			case <-ctx.Done():
				return
			case <-time.After(every / 4):
			}
			step()
		}
	}
}

// demoSoftphoneSecret is john's endpoint password in the demo.
const demoSoftphoneSecret = "demo-softphone-secret"

// demoReady waits for the first sync and the manager login.
func demoReady(ctx context.Context, d *daemon.Daemon, done <-chan error) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case <-d.Directory.Synced():
	case err := <-done:
		return fmt.Errorf("demo: %w", err)
	case <-wctx.Done():
		return fmt.Errorf("demo: first sync: %s", cmp.Or(d.Directory.State().LastError, "no answer"))
	}
	for !d.AMI.State().Connected {
		select {
		case <-wctx.Done():
			return fmt.Errorf("demo: the AMI emulator: %s", cmp.Or(d.AMI.State().LastError, "no login"))
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
