package dialplan_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/wait"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type world struct {
	odoo  *odootest.Server
	dir   *lookup.Directory
	flows *dialplan.Flows
	addr  string
	ids   map[string]int
}

// newWorld: an Odoo emulator with a few contacts, a synced directory and
// a FastAGI server on loopback serving the flows.
func newWorld(t testing.TB, st dialplan.Settings) *world {
	t.Helper()
	o, url := odootest.StartT(t)
	be := o.CountryID("BE")
	vip, gold := o.AddCategory("VIP"), o.AddCategory("Gold")
	john := o.AddUser("john", "John Seller")
	w := &world{odoo: o, ids: map[string]int{}}
	w.ids["acme"] = o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 00 00", CountryID: be, UserID: john, CategoryIDs: []int{vip, gold}})
	w.ids["zoe"] = o.Upsert(odootest.Partner{Name: "Zoë Müller", ParentID: w.ids["acme"], Phone: "0032 2/555.12.34", UserID: john, CategoryIDs: []int{vip}})
	w.ids["evil"] = o.Upsert(odootest.Partner{Name: "Evil \"Corp\"\nEXEC System x", IsCompany: true, Phone: "02 555 06 66"})
	w.ids["gone"] = o.Upsert(odootest.Partner{Name: "Archived NV", IsCompany: true, Phone: "02 555 77 77"})
	o.Update(w.ids["gone"], func(p *odootest.Partner) { p.Active = false })

	cfg := o.Config(url)
	cfg.Logger = quiet
	client := odoo.New(cfg)
	w.dir = lookup.NewDirectory(lookup.Config{Normalizer: lookup.Normalizer{Country: "BE"}, Logger: quiet, UserLogins: []string{"john"}}, client)
	if err := w.dir.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.Users == nil {
		st.Users = dialplan.Users{{Login: "john", Exten: "101", Channels: []dialplan.Channel{{Name: "PJSIP/101"}, {Name: "PJSIP/101b"}}}}
	}
	w.flows = dialplan.NewFlows(w.dir, st, quiet)
	w.addr = serveFlows(t, w.flows)
	return w
}

// serveFlows serves flows on a FastAGI server on loopback, and returns its
// address.
func serveFlows(t testing.TB, flows *dialplan.Flows) string {
	t.Helper()
	mux := agi.NewServeMux()
	flows.Register(mux)
	srv := &agi.Server{Handler: mux, Logger: quiet}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return ln.Addr().String()
}

// call places one incoming call with the trunk's number and name.
func (w *world) call(t *testing.T, number, trunkName string) *agitest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := agitest.Call{
		Script: "incoming",
		Args:   []string{},
		Env:    map[string]string{"callerid": number, "calleridname": trunkName},
		Vars:   map[string]string{"CALLERID(name)": trunkName},
	}.Run(ctx, w.addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pipelined) > 0 {
		t.Fatalf("pipelined: %q", res.Pipelined)
	}
	return res
}

func TestIncomingSetsEveryContractVariable(t *testing.T) {
	w := newWorld(t, dialplan.Settings{})
	cases := []struct {
		name, number, trunk string
		want                map[string]string
	}{
		{"a contact found from a messy stored number", "+3225551234", "TRUNK", map[string]string{
			"ODOO_LOOKUP": "FOUND", "ODOO_CALLER_E164": "+3225551234", "CALLERID(name)": "ACME SA, Zoë Müller",
			"ODOO_PARTNER_ID": strconv.Itoa(w.ids["zoe"]), "ODOO_PARTNER_NAME": "ACME SA, Zoë Müller", "ODOO_PARTNER_TAGS": "VIP",
			"ODOO_SALESPERSON_EXTEN": "101", "ODOO_SALESPERSON_DIAL": "PJSIP/101&PJSIP/101b"}},
		{"a company, national form", "025550000", "TRUNK", map[string]string{
			"ODOO_LOOKUP": "FOUND", "ODOO_CALLER_E164": "+3225550000", "CALLERID(name)": "ACME SA",
			"ODOO_PARTNER_ID": strconv.Itoa(w.ids["acme"]), "ODOO_PARTNER_TAGS": "Gold,VIP", "ODOO_SALESPERSON_EXTEN": "101"}},
		{"an unknown caller keeps the trunk name", "+3225559999", "Some Trunk Name", map[string]string{
			"ODOO_LOOKUP": "NOTFOUND", "ODOO_CALLER_E164": "+3225559999", "CALLERID(name)": "Some Trunk Name",
			"ODOO_PARTNER_ID": "", "ODOO_PARTNER_NAME": "", "ODOO_PARTNER_TAGS": "", "ODOO_SALESPERSON_EXTEN": "", "ODOO_SALESPERSON_DIAL": ""}},
		{"an archived partner is not shown", "025557777", "TRUNK", map[string]string{
			"ODOO_LOOKUP": "NOTFOUND", "CALLERID(name)": "TRUNK", "ODOO_PARTNER_ID": ""}},
		{"an anonymous caller is skipped", "anonymous", "", map[string]string{
			"ODOO_LOOKUP": "SKIPPED", "ODOO_CALLER_E164": "", "CALLERID(name)": ""}},
		{"an internal extension is skipped", "101", "Reception", map[string]string{
			"ODOO_LOOKUP": "SKIPPED", "CALLERID(name)": "Reception"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := w.call(t, tc.number, tc.trunk)
			if len(res.Lines) != 1 {
				t.Errorf("%d AGI round trips, want 1: %q", len(res.Lines), res.Lines)
			}
			for k, v := range tc.want {
				if got, ok := res.Vars[k]; !ok || got != v {
					t.Errorf("%s = %q (set: %v), want %q", k, got, ok, v)
				}
			}
		})
	}
}

func TestAnEvilPartnerNameIsOneCommandAndStoredHarmlessly(t *testing.T) {
	w := newWorld(t, dialplan.Settings{})
	res := w.call(t, "025550666", "")
	if len(res.Lines) != 1 || len(res.Execs) != 1 || !strings.HasPrefix(res.Execs[0], "MSet(") {
		t.Fatalf("want exactly one EXEC MSet, got %q", res.Lines)
	}
	if got := res.Vars["CALLERID(name)"]; got != `Evil "Corp" EXEC System x` {
		t.Errorf("CALLERID(name) = %q", got)
	}
	for k := range res.Vars {
		if strings.Contains(k, "System") || strings.Contains(k, "\n") {
			t.Errorf("a stray variable appeared: %q", k)
		}
	}
}

func TestOdooDownAfterWarmUpStillAnswersFromTheIndex(t *testing.T) {
	w := newWorld(t, dialplan.Settings{})
	w.odoo.SetDown(true)
	t0 := time.Now()
	res := w.call(t, "+3225551234", "")
	if el := time.Since(t0); el > 100*time.Millisecond {
		t.Errorf("the call took %v with Odoo down", el)
	}
	if res.Vars["CALLERID(name)"] != "ACME SA, Zoë Müller" {
		t.Errorf("got %q", res.Vars["CALLERID(name)"])
	}
}

func TestASlowOdooAnswersWithinTheLookupTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	w := newWorld(t, dialplan.Settings{LookupTimeout: timeout})
	w.odoo.SetLatency(3 * time.Second)
	// Slack for a loaded machine under -race; Odoo would take 3 s.
	const most = timeout + 150*time.Millisecond
	for _, n := range []string{"+3225551234", "+3225554321"} {
		t0 := time.Now()
		res := w.call(t, n, "TRUNK")
		if el := time.Since(t0); el > most {
			t.Errorf("call from %s took %v, want at most %v", n, el, most)
		}
		if res.Vars["ODOO_LOOKUP"] == "" {
			t.Errorf("no ODOO_LOOKUP for %s", n)
		}
	}
}

func TestARenameInOdooShowsAfterOneRefresh(t *testing.T) {
	w := newWorld(t, dialplan.Settings{})
	w.odoo.Update(w.ids["zoe"], func(p *odootest.Partner) { p.Name = "Zoë Renamed" })
	if err := w.dir.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.call(t, "+3225551234", "").Vars["CALLERID(name)"]; got != "ACME SA, Zoë Renamed" {
		t.Errorf("after one refresh: %q", got)
	}
}

func TestCallerNameFormatting(t *testing.T) {
	p := lookup.Partner{Name: "Zoë Müller", DisplayName: "ACME Straße, Zoë Müller", Company: "ACME Straße"}
	cases := []struct {
		f    dialplan.NameFormat
		want string
	}{
		{dialplan.NameFormat{}, "ACME Straße, Zoë Müller"},
		{dialplan.NameFormat{Template: "{name} ({company})"}, "Zoë Müller (ACME Straße)"},
		{dialplan.NameFormat{ASCII: true}, "ACME Strasse, Zoe Muller"},
		{dialplan.NameFormat{MaxLength: 12}, "ACME Straße"},
		{dialplan.NameFormat{Template: "{name}", MaxLength: 3}, "Zoë"},
	}
	for _, tc := range cases {
		if got := tc.f.Name(p); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.f, got, tc.want)
		}
	}
	if got := (dialplan.NameFormat{ASCII: true}).Name(lookup.Partner{DisplayName: "Жуков, Øresund Ἀθῆναι"}); got != "Zhukov, Oresund Athenai" {
		t.Errorf("transliteration: %q", got)
	}
	if got := (dialplan.NameFormat{}).Place("+3225551234"); got != "Brussels, Belgium" {
		t.Errorf("Place = %q", got)
	}
}

func TestGeolocateUnknownOnlyWithoutATrunkName(t *testing.T) {
	w := newWorld(t, dialplan.Settings{Geolocate: true})
	if got := w.call(t, "+3225559999", "").Vars["CALLERID(name)"]; got != "Brussels, Belgium" {
		t.Errorf("no trunk name: %q", got)
	}
	if got := w.call(t, "+3225559999", "Real Name").Vars["CALLERID(name)"]; got != "Real Name" {
		t.Errorf("with a trunk name: %q", got)
	}
}

func TestOutgoingNamesTheCalledParty(t *testing.T) {
	w := newWorld(t, dialplan.Settings{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := agitest.Call{Script: "outgoing", Args: []string{}, Env: map[string]string{"extension": "025551234"}}.Run(ctx, w.addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Vars["CONNECTEDLINE(name,i)"]; got != "ACME SA, Zoë Müller" || res.Vars["ODOO_CONNECTED_NAME"] != got || len(res.Lines) != 1 {
		t.Errorf("CONNECTEDLINE(name,i) = %q, ODOO_CONNECTED_NAME = %q in %d commands", got, res.Vars["ODOO_CONNECTED_NAME"], len(res.Lines))
	}
	res, err = agitest.Call{Script: "outgoing", Args: []string{"+3225559999"}}.Run(ctx, w.addr)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := res.Vars["ODOO_CONNECTED_NAME"]; !ok || v != "" || res.Vars["CONNECTEDLINE(name,i)"] != "" {
		t.Errorf("an unknown number: ODOO_CONNECTED_NAME %q (set %v), CONNECTEDLINE %q", v, ok, res.Vars["CONNECTEDLINE(name,i)"])
	}
}

func TestTheSalespersonRouteRingsTheSoftphoneToo(t *testing.T) {
	w := newWorld(t, dialplan.Settings{Users: dialplan.Users{{Login: "john", Exten: "101", WebRTC: "webrtc_101", WebRTCSecret: "john-webrtc-secret",
		Channels: []dialplan.Channel{{Name: "PJSIP/101"}}}}})
	if got := w.call(t, "+3225551234", "TRUNK").Vars["ODOO_SALESPERSON_DIAL"]; got != "PJSIP/101&PJSIP/webrtc_101" {
		t.Errorf("ODOO_SALESPERSON_DIAL = %q", got)
	}
}

// TestACompanyArgumentThatIsNoIDIsLoggedAndTheCallGoesOn: a dialplan that
// names its line's company with a word gets the caller's name all the
// same, and one clear line for its admin, however many calls it sends.
func TestACompanyArgumentThatIsNoIDIsLoggedAndTheCallGoesOn(t *testing.T) {
	w := newWorld(t, dialplan.Settings{})
	var logs wait.Buffer
	addr := serveFlows(t, dialplan.NewFlows(w.dir, dialplan.Settings{}, slog.New(slog.NewTextHandler(&logs, nil))))
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := agitest.Call{Script: "incoming", Args: []string{"", "acme"}, Env: map[string]string{"callerid": "025550000"}}.Run(ctx, addr)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Vars["CALLERID(name)"]; got != "ACME SA" {
			t.Errorf("CALLERID(name) = %q, want ACME SA", got)
		}
	}
	if n := strings.Count(logs.String(), "the dialplan's company is not an Odoo company id"); n != 1 {
		t.Errorf("%d warnings for three calls, want 1: %s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "company=acme") {
		t.Errorf("the warning does not name the argument: %s", logs.String())
	}
}
