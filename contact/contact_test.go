package contact_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/odoo-agi/odoo-agi/contact"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type world struct {
	odoo  *odootest.Server
	dir   *lookup.Directory
	maker *contact.Maker
	john  int
	acme  int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	o, url := odootest.StartT(t)
	john := o.AddUser("john", "John Seller")
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 12 34", CountryID: o.CountryID("BE")})
	client := odoo.New(o.Config(url))
	dir := lookup.NewDirectory(lookup.Config{Normalizer: lookup.Normalizer{Country: "BE"}, Logger: quiet, UserLogins: []string{"john"}}, client)
	if err := dir.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &world{odoo: o, dir: dir, maker: &contact.Maker{Odoo: client, Index: dir, Logger: quiet}, john: john, acme: acme}
}

func TestCreateContactFromAnUnknownCaller(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if r := w.dir.Lookup(ctx, "+32475123456"); r.Status != lookup.NotFound {
		t.Fatalf("before: %v", r.Status)
	}
	creates, reads := w.odoo.Calls("res.partner.create"), w.odoo.Calls("res.partner.search_read")
	res, err := w.maker.Create(ctx, contact.Request{E164: "+32475123456", Name: "Jan Peeters", Login: "john", UserName: "John Seller"})
	if err != nil {
		t.Fatal(err)
	}
	// One round trip makes the contact; the chatter line is the second.
	if w.odoo.Calls("res.partner.create") != creates+1 || w.odoo.Calls("res.partner.search_read") != reads {
		t.Errorf("one create and no read wanted: %d creates, %d reads", w.odoo.Calls("res.partner.create")-creates, w.odoo.Calls("res.partner.search_read")-reads)
	}
	p, ok := w.odoo.Partner(res.ID)
	if !ok || p.Name != "Jan Peeters" || p.Phone != "+32475123456" || p.UserID != w.john {
		t.Errorf("Odoo holds %+v (found %v), want Jan Peeters, +32475123456, salesperson john (%d)", p, ok, w.john)
	}
	if r := w.dir.Lookup(ctx, "0475 12 34 56"); r.Status != lookup.Found || r.Partner.ID != res.ID || r.Partner.SalespersonID != w.john {
		t.Errorf("the next call: %v %+v", r.Status, r.Partner)
	}
	msgs := w.odoo.Messages()
	if len(msgs) != 1 || msgs[0].ResID != res.ID || !strings.Contains(msgs[0].Body, "by John Seller (john)") {
		t.Errorf("chatter: %+v", msgs)
	}
	// A refresh reads the record as Odoo stored it and keeps it found.
	if err := w.dir.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if r := w.dir.Lookup(ctx, "+32475123456"); r.Status != lookup.Found || r.Partner.ID != res.ID {
		t.Errorf("after a refresh: %v", r.Status)
	}
	// A second click finds it and creates nothing.
	again, err := w.maker.Create(ctx, contact.Request{E164: "+32475123456", Name: "Jan", Login: "john"})
	if err != nil || !again.Existing || again.ID != res.ID || w.odoo.Calls("res.partner.create") != creates+1 {
		t.Errorf("the second click: %+v %v", again, err)
	}
}

func TestCreateContactWithoutTheRightSaysWhich(t *testing.T) {
	w := newWorld(t)
	w.odoo.DenyPartnerWrite(true)
	_, err := w.maker.Create(context.Background(), contact.Request{E164: "+32475123456", Login: "john"})
	if !errors.Is(err, odoo.ErrAccess) || !strings.Contains(contact.Hint(err), "Contact Creation") {
		t.Errorf("err %v, hint %q", err, contact.Hint(err))
	}
	if r := w.dir.Lookup(context.Background(), "+32475123456"); r.Status == lookup.Found {
		t.Error("a refused contact was indexed")
	}
}

func TestAddToAnExistingContactNeverOverwritesANumber(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	be := w.odoo.CountryID("BE")
	acme := w.acme
	bare := w.odoo.Upsert(odootest.Partner{Name: "Piet Bare", ParentID: acme, CountryID: be})
	phoned := w.odoo.Upsert(odootest.Partner{Name: "Zoë Phoned", ParentID: acme, Phone: "0475 00 00 01", CountryID: be})
	full := w.odoo.Upsert(odootest.Partner{Name: "Full Numbers", ParentID: acme, Phone: "0475 00 00 02", Mobile: "0476 00 00 02", CountryID: be})
	if err := w.dir.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	req := func(n string) contact.Request {
		return contact.Request{E164: n, Name: "New Person", Login: "john", UserName: "John Seller"}
	}

	// No phone: the number becomes the phone.
	if res, err := w.maker.AddTo(ctx, bare, req("+32475111111")); err != nil || res.ID != bare || res.Beside != 0 {
		t.Fatalf("bare: %+v %v", res, err)
	}
	if p, _ := w.odoo.Partner(bare); p.Phone != "+32475111111" {
		t.Errorf("bare's phone %q", p.Phone)
	}
	if r := w.dir.Lookup(ctx, "0475 11 11 11"); r.Status != lookup.Found || r.Partner.ID != bare {
		t.Errorf("the next call: %v %+v", r.Status, r.Partner)
	}

	// A phone already: the mobile on 16; on 19 (no mobile) a new contact
	// under ACME.
	res, err := w.maker.AddTo(ctx, phoned, req("+32475222222"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := w.odoo.Partner(phoned)
	if p.Phone != "0475 00 00 01" {
		t.Errorf("phoned's stored phone was changed to %q", p.Phone)
	}
	if w.dir.HasField("mobile") {
		if res.ID != phoned || p.Mobile != "+32475222222" {
			t.Errorf("16: want the mobile set: %+v, partner %+v", res, p)
		}
	} else if res.Beside != phoned {
		t.Errorf("19: want a new contact beside: %+v", res)
	}

	// Both taken: a new contact under ACME, and the numbers untouched.
	res, err = w.maker.AddTo(ctx, full, req("+32475333333"))
	if err != nil || res.Beside != full || res.ID == full {
		t.Fatalf("full: %+v %v", res, err)
	}
	if p, _ := w.odoo.Partner(full); p.Phone != "0475 00 00 02" || p.Mobile != "0476 00 00 02" {
		t.Errorf("full's numbers changed: %+v", p)
	}
	if n, _ := w.odoo.Partner(res.ID); n.ParentID != acme || n.Phone != "+32475333333" || n.Name != "New Person" {
		t.Errorf("the new contact: %+v, want under ACME (%d)", n, acme)
	}
}

func TestCreateLeadFollowsTheSystemAccountsSalesRights(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	req := contact.Request{E164: "+32475123456", Name: "Jan Peeters", Login: "john", UserName: "John Seller"}
	if ok, hint := w.maker.Leads(ctx); ok || !strings.Contains(hint, "no CRM") {
		t.Errorf("without CRM: %v %q", ok, hint)
	}
	w.odoo.SetCRM(true)
	if ok, hint := w.maker.Leads(ctx); ok || !strings.Contains(hint, "Sales / User: Own Documents Only") {
		t.Errorf("without a Sales group: %v %q", ok, hint)
	}
	if _, err := w.maker.Lead(ctx, req); !errors.Is(err, odoo.ErrAccess) {
		t.Errorf("a lead without a Sales group: %v", err)
	}

	w.odoo.SetSales("asterisk1", odootest.SalesOwn)
	if ok, _ := w.maker.Leads(ctx); !ok {
		t.Fatal("Own Documents Only: no leads")
	}
	res, err := w.maker.Lead(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	leads := w.odoo.Leads()
	if len(leads) != 1 || leads[0].ID != res.ID || leads[0].UserID != 0 || leads[0].Phone != "+32475123456" ||
		leads[0].ContactName != "Jan Peeters" || leads[0].Name != "Call from Jan Peeters" {
		t.Errorf("Own Documents Only: %+v; want no salesperson rather than the system account", leads)
	}

	w.odoo.SetSales("asterisk1", odootest.SalesAll)
	if _, err := w.maker.Lead(ctx, req); err != nil {
		t.Fatal(err)
	}
	if leads := w.odoo.Leads(); len(leads) != 2 || leads[1].UserID != w.john {
		t.Errorf("All Documents: %+v; want john as salesperson", leads)
	}
	var notes int
	for _, m := range w.odoo.Messages() {
		if m.Model == "crm.lead" && strings.Contains(m.Body, "John Seller (john)") {
			notes++
		}
	}
	if notes != 2 {
		t.Errorf("%d lead notes naming john, want 2", notes)
	}
}

// TestAContactAndALeadTakeTheCalledLinesCompany: Odoo gives a new partner
// no company from the context; the called line's company is in the values,
// and a company the account lacks is refused.
func TestAContactAndALeadTakeTheCalledLinesCompany(t *testing.T) {
	w := newWorld(t)
	branch := w.odoo.AddCompany("ACME France")
	w.odoo.SetCompanies("asterisk1", 1, branch)
	w.odoo.SetCRM(true)
	w.odoo.SetSales("asterisk1", odootest.SalesAll)
	ctx := context.Background()
	req := contact.Request{E164: "+33145678901", Name: "Jean Dupont", Login: "john", UserName: "John Seller", CompanyID: branch}
	res, err := w.maker.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := w.odoo.Partner(res.ID); p.CompanyID != branch {
		t.Errorf("the contact's company: %d, want %d", p.CompanyID, branch)
	}
	if r := w.dir.Lookup(ctx, "+33145678901"); r.Status != lookup.Found {
		t.Errorf("the company-2 contact is not found at once: %v", r.Status)
	}
	req.E164 = "+33145678902"
	if _, err := w.maker.Lead(ctx, req); err != nil {
		t.Fatal(err)
	}
	if ls := w.odoo.Leads(); len(ls) != 1 || ls[0].CompanyID != branch {
		t.Errorf("the lead: %+v, want company %d", ls, branch)
	}
	req.E164, req.CompanyID = "+33145678903", branch+1
	if _, err := w.maker.Create(ctx, req); !errors.Is(err, odoo.ErrAccess) {
		t.Errorf("a company the account lacks: %v, want Odoo's access error", err)
	}
}
