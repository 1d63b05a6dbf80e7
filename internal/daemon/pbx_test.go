package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/wait"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// threePBXs is one odoo-agi serving three Asterisks, a, b and c: each
// with its manager (emulated), its FastAGI peer address (127.0.0.1, .2
// and .3: Linux routes all of 127/8 to loopback), one user whose phone is
// PJSIP/101 on it, and, for b and c, an Odoo company of its own.
type threePBXs struct {
	d      *Daemon
	odoo   *odootest.Server
	pbx    map[string]*amitest.Server
	url    string
	branch int            // company 2, b's and c's
	cfg    string         // the config file
	uid    map[string]int // each user's Odoo id
}

func newThreePBXs(t *testing.T) *threePBXs {
	t.Helper()
	o, odooURL := odootest.StartT(t)
	branch := o.AddCompany("ACME France")
	o.SetCompanies("asterisk1", 1, branch)
	w := &threePBXs{odoo: o, pbx: map[string]*amitest.Server{}, branch: branch, uid: map[string]int{}}
	for _, l := range []string{"ann", "bob", "carl"} {
		w.uid[l] = o.AddUser(l, strings.ToUpper(l[:1])+l[1:])
	}
	var pbxs, users strings.Builder
	for i, name := range []string{"a", "b", "c"} {
		srv, addr := amitest.StartT(t)
		w.pbx[name] = srv
		company := 1
		if name != "a" {
			company = branch
		}
		fmt.Fprintf(&pbxs, "[[pbx]]\nname = %q\ncompany = %d\nagi_allow = [\"127.0.0.%d\"]\nami_address = %q\nami_secret = \"secret\"\n",
			name, company, i+1, addr)
		fmt.Fprintf(&users, "[[users]]\nlogin = %q\nexten = \"101\"\npbx = %q\n  [[users.channels]]\n  name = \"PJSIP/101\"\n  originate = true\n",
			[]string{"ann", "bob", "carl"}[i], name)
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := writeConfig(t, fmt.Sprintf(`[agi]
listen = "127.0.0.1:0"
[odoo]
url = %q
cache_file = ""
[originate]
timeout = "5s"
[calllog]
enabled = true
spool_dir = %q
%s
%s`, odooURL, t.TempDir(), pbxs.String(), users.String()))
	w.cfg = p
	w.d, _ = serveConfigT(t, p, apiLn)
	w.url = "http://" + apiLn.Addr().String()
	wait.For(t, "the three manager logins", 10*time.Second, func() bool {
		for _, m := range w.d.Managers {
			if !m.Client.State().Connected {
				return false
			}
		}
		return len(w.d.Managers) == 3
	})
	return w
}

// session runs a FastAGI session from PBX n's address (1, 2 or 3).
func (w *threePBXs) session(t *testing.T, n int, c agitest.Call) *agitest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.From = fmt.Sprintf("127.0.0.%d", n)
	res, err := c.Run(ctx, w.d.AGIAddr())
	if err != nil {
		t.Fatalf("FastAGI session from %s: %v", c.From, err)
	}
	return res
}

func (w *threePBXs) health(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get(w.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	return doc
}

func TestThreePBXsEachServeTheirOwnUsersAndCalls(t *testing.T) {
	w := newThreePBXs(t)
	o := w.odoo
	o.Upsert(odootest.Partner{Name: "Dupont Bruxelles", Phone: "025551234", CompanyID: 1})
	o.Upsert(odootest.Partner{Name: "Dupont Paris", Phone: "025551234", CompanyID: w.branch})
	if err := w.d.Directory.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}

	t.Run("a user on PBX b is called through b's manager only", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := w.d.Originator.Call(ctx, dialplan.CallRequest{User: "bob", Number: "025559999"})
		if err != nil || res.Status != dialplan.Answered {
			t.Fatalf("bob's click-to-dial: %+v, %v", res, err)
		}
		if a, b, c := len(w.pbx["a"].Originates()), len(w.pbx["b"].Originates()), len(w.pbx["c"].Originates()); a != 0 || b != 1 || c != 0 {
			t.Errorf("Originates on a, b, c: %d, %d, %d; want 0, 1, 0", a, b, c)
		}
		if v := w.pbx["b"].Originates()[0].Var("ODOO_USER"); v != "bob" {
			t.Errorf("b's Originate is for %q", v)
		}
	})

	t.Run("a session is its peer's PBX: its company and users", func(t *testing.T) {
		res := w.session(t, 1, agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": "025551234"}})
		if got := res.Vars["CALLERID(name)"]; got != "Dupont Bruxelles" {
			t.Errorf("a call on a (company 1): %q", got)
		}
		res = w.session(t, 2, agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": "025551234"}})
		if got := res.Vars["CALLERID(name)"]; got != "Dupont Paris" {
			t.Errorf("a call on b (company %d): %q", w.branch, got)
		}
		// The dialplan's argument 2 names the line's company.
		res = w.session(t, 2, agitest.Call{Script: "incoming", Args: []string{"", "1"}, Env: map[string]string{"callerid": "025551234"}})
		if got := res.Vars["CALLERID(name)"]; got != "Dupont Bruxelles" {
			t.Errorf("a call on b for company 1: %q", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if res, err := (agitest.Call{Script: "incoming", From: "127.0.0.4"}).Run(ctx, w.d.AGIAddr()); err == nil && len(res.Lines) > 0 {
			t.Errorf("a peer of no PBX got commands: %v", res.Lines)
		}
	})

	t.Run("a salesperson is rung only on their own PBX, where exten 101 is theirs", func(t *testing.T) {
		o.Upsert(odootest.Partner{Name: "Bob's Customer", Phone: "025551999", UserID: w.uid["bob"], CompanyID: w.branch})
		if err := w.d.Directory.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		call := agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": "025551999"}}
		if res := w.session(t, 2, call); res.Vars["ODOO_SALESPERSON_EXTEN"] != "101" || res.Vars["ODOO_SALESPERSON_DIAL"] != "PJSIP/101" {
			t.Errorf("a call on b, bob's PBX: exten %q, dial %q", res.Vars["ODOO_SALESPERSON_EXTEN"], res.Vars["ODOO_SALESPERSON_DIAL"])
		}
		// On a, PJSIP/101 is ann's phone: the call must not ring it for bob.
		if res := w.session(t, 1, call); res.Vars["ODOO_SALESPERSON_EXTEN"] != "" || res.Vars["ODOO_SALESPERSON_DIAL"] != "" || res.Vars["CALLERID(name)"] != "Bob's Customer" {
			t.Errorf("a call on a: exten %q, dial %q, name %q; want no salesperson and the name", res.Vars["ODOO_SALESPERSON_EXTEN"], res.Vars["ODOO_SALESPERSON_DIAL"], res.Vars["CALLERID(name)"])
		}
	})

	t.Run("a card shows for a call ringing on c, joined with c's lookup only", func(t *testing.T) {
		_, carl, stopC := w.d.Live.Subscribe("carl", 0)
		defer stopC()
		_, ann, stopA := w.d.Live.Subscribe("ann", 0)
		defer stopA()
		uid := "1733300000.7" // the same uniqueid on a and c: two Asterisks may number alike
		w.session(t, 3, agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": "025551234", "uniqueid": uid}})
		trunk := amitest.Chan{Name: "PJSIP/trunk-00000000", State: 4, CallerIDNum: "025551234", CallerIDName: "Carrier", Uniqueid: uid, Linkedid: uid}
		phone := amitest.Chan{Name: "PJSIP/101-00000001", CallerIDNum: "101", Uniqueid: uid + "1", Linkedid: uid}
		w.pbx["c"].EmitDialBegin(trunk, phone, "PJSIP/101")
		ev := next(t, carl)
		if ev.State != dialplan.Ringing || ev.Name != "Dupont Paris" || ev.PBX != "c" || ev.CompanyID != w.branch || ev.Line != "ACME France" {
			t.Errorf("carl's card: %+v", ev)
		}
		w.pbx["a"].EmitDialBegin(trunk, phone, "PJSIP/101")
		if ev := next(t, ann); ev.PBX != "a" || ev.Name != "Carrier" || ev.PartnerID != 0 || ev.Line != "My Company" {
			t.Errorf("ann's card for a's call, which made no lookup: %+v", ev)
		}
		select {
		case ev := <-carl:
			t.Errorf("a's call reached carl, on c: %+v", ev)
		default:
		}
	})

	t.Run("the call log names the PBX, and one uniqueid on two PBXs is two calls", func(t *testing.T) {
		args := func() []string {
			return []string{"in", "025551234", "", "1733300000", "1733300100.3", "1733300100.3", "NOANSWER", "", "", "PJSIP/101", "025551234"}
		}
		w.session(t, 2, agitest.Call{Script: "hangup", Args: args()})
		w.session(t, 3, agitest.Call{Script: "hangup", Args: args()})
		wait.For(t, "two notes", 10*time.Second, func() bool { return len(notesWith(o, "1733300100.3")) == 2 })
		notes := notesWith(o, "1733300100.3")
		for i, pbx := range []string{"b", "c"} {
			found := false
			for _, m := range notes {
				found = found || strings.Contains(m.Body, "(PBX "+pbx+")") && strings.Contains(m.Body, "[odoo-agi call "+pbx+":1733300100.3]")
			}
			if !found {
				t.Errorf("no note %d names PBX %s: %v", i, pbx, notes)
			}
		}
	})

	t.Run("ping and /healthz name the companies the account sees, with their contacts", func(t *testing.T) {
		other := o.AddCompany("Not Ours")
		o.Upsert(odootest.Partner{Name: "Elsewhere SA", Phone: "025550001", CompanyID: other})
		o.Upsert(odootest.Partner{Name: "Shared NV", Phone: "025550002"})
		if err := w.d.Directory.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(w.cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var detail string
		for _, ch := range Ping(ctx, c) {
			if ch.Name == "odoo companies" {
				detail = ch.Detail
				if !ch.OK {
					t.Errorf("ping's companies check failed: %s", ch.Detail)
				}
			}
		}
		for _, want := range []string{"My Company: 1", "ACME France: 2", "shared: 1"} {
			if !strings.Contains(detail, want) {
				t.Errorf("ping: %q lacks %q", detail, want)
			}
		}
		if strings.Contains(detail, "Not Ours") {
			t.Errorf("ping names a company the account is not in: %q", detail)
		}
		got := map[string]float64{}
		for _, v := range w.health(t)["companies"].([]any) {
			m := v.(map[string]any)
			got[m["name"].(string)] = m["partners"].(float64)
		}
		if want := map[string]float64{"My Company": 1, "ACME France": 2, "": 1}; !maps.Equal(got, want) {
			t.Errorf("/healthz companies: %v, want %v", got, want)
		}
	})

	t.Run("a manager down on a leaves b and c serving, and /healthz says which", func(t *testing.T) {
		w.pbx["a"].Stop()
		wait.For(t, "a's manager to be seen down", 10*time.Second, func() bool { return !w.d.Managers[0].Client.State().Connected })
		doc := w.health(t)
		pbxs, _ := doc["pbxs"].([]any)
		if doc["status"] != "degraded" || len(pbxs) != 3 {
			t.Fatalf("/healthz: %v", doc)
		}
		for i, want := range []bool{false, true, true} {
			p := pbxs[i].(map[string]any)
			if got := p["ami"].(map[string]any)["connected"]; got != want {
				t.Errorf("/healthz pbx %v connected = %v, want %v", p["name"], got, want)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := w.d.Originator.Call(ctx, dialplan.CallRequest{User: "ann", Number: "025559999"}); err == nil {
			t.Error("ann's click-to-dial with a's manager down: no error")
		}
		if res, err := w.d.Originator.Call(ctx, dialplan.CallRequest{User: "carl", Number: "025559999"}); err != nil || res.Status != dialplan.Answered {
			t.Errorf("carl's click-to-dial with a down: %+v, %v", res, err)
		}
		_, bob, stop := w.d.Live.Subscribe("bob", 0)
		defer stop()
		uid := "1733300200.1"
		w.session(t, 2, agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": "025551234", "uniqueid": uid}})
		w.pbx["b"].EmitDialBegin(amitest.Chan{Name: "PJSIP/trunk-00000003", CallerIDNum: "025551234", Uniqueid: uid, Linkedid: uid},
			amitest.Chan{Name: "PJSIP/101-00000004", Uniqueid: uid + "1", Linkedid: uid}, "PJSIP/101")
		if ev := next(t, bob); ev.Name != "Dupont Paris" {
			t.Errorf("bob's card with a down: %+v", ev)
		}
	})
}

func next(t *testing.T, ch <-chan dialplan.CallEvent) dialplan.CallEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no call event")
	}
	return dialplan.CallEvent{}
}

func notesWith(o *odootest.Server, s string) []odootest.Message {
	var out []odootest.Message
	for _, m := range o.Messages() {
		if strings.Contains(m.Body, s) {
			out = append(out, m)
		}
	}
	return out
}

func TestAConfigOfSeveralPBXsIsChecked(t *testing.T) {
	two := func(extra string) string {
		return `[[pbx]]
name = "a"
agi_allow = ["10.0.1.5"]
[[pbx]]
name = "b"
agi_allow = ["10.0.2.0/24"]
` + extra
	}
	for _, c := range []struct{ body, want string }{
		{two("[ami]\nsecret = \"x\"\n"), "[ami] and [[pbx]] both give a manager"},
		{"[agi]\nallow = [\"10.0.0.1\"]\n" + two(""), "[agi] allow and [[pbx]] both list FastAGI peers"},
		{two("[[pbx]]\nname = \"c\"\nagi_allow = [\"10.0.2.7\"]\n"), "overlaps pbx[1] (b)'s 10.0.2.0/24"},
		{two("[[pbx]]\nname = \"a\"\nagi_allow = [\"10.0.3.7\"]\n"), `the name "a" is pbx[0]'s too`},
		{two("[[pbx]]\nagi_allow = [\"10.0.3.7\"]\n"), "each of several PBXs needs a name"},
		{two("[[pbx]]\nname = \"c\"\n"), "pbx[2] (c) agi_allow is empty"},
		{two("[[users]]\nlogin = \"ann\"\n"), "users[0] (ann): pbx is empty"},
		{two("[[users]]\nlogin = \"ann\"\npbx = \"z\"\n"), `pbx = "z" is no [[pbx]] name; want one of a, b`},
		{two("[[pbx]]\nname = \"c\"\nagi_allow = [\"10.0.3.7\"]\nami_secret = \"x\"\nami_adress = \"10.0.3.7:5038\"\n"), ":11: unknown key `pbx.ami_adress`"},
		{two("[[pbx]]\nname = \"c\"\nagi_allow = [\"10.0.3.7\"]\ncompany = \"2\"\n"), ":10: `pbx[2].company` must be a number"},
		{"[pbx]\nami_secret = \"x\"\n", "[pbx] agi_allow and ami_* belong to [[pbx]] entries"},
		{"[pbx]\ncountry = \"XX\"\n", `[pbx] country = "XX"`},
		{two("[[pbx]]\nname = \"c\"\nagi_allow = [\"10.0.3.7\"]\ncountry = \"XX\"\n"), `pbx[2] (c) country = "XX"`},
	} {
		_, err := LoadConfig(writeConfig(t, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\ngave %v\nwant %q", c.body, err, c.want)
		}
	}
	// One [[pbx]] is the old single PBX under a name: users need not name it.
	c, err := LoadConfig(writeConfig(t, "[[pbx]]\nname = \"main\"\ncountry = \"fr\"\nami_secret = \"x\"\n[[users]]\nlogin = \"ann\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Settings(); len(st.PBXs) != 1 || st.PBXs[0].Normalizer.Country != "FR" || st.Users[0].PBX != "main" || len(st.PBXs[0].Allow) != 2 {
		t.Errorf("one [[pbx]]: %+v, users %+v", st.PBXs, st.Users)
	}
	if ms := c.ManagerClients(nil); len(ms) != 1 || ms[0].Client.Addr != "127.0.0.1:5038" {
		t.Errorf("one [[pbx]]'s manager: %+v", ms)
	}
}
