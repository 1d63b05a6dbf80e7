package daemon

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// TestCreateContactFromAnUnknownCallersCard: an unknown number rings john,
// he names it on the card and clicks Create contact; Odoo holds the
// partner with the E.164 number and john as salesperson, the card links to
// it, and the next call from the number is FOUND.
func TestCreateContactFromAnUnknownCallersCard(t *testing.T) {
	w := newPhoneWorld(t)
	ctx := browse(t)
	signIn(t, ctx, w)
	trunk, phone := w.incomingFrom(t, "1795836200.0", "0475 12 34 56")
	w.pbx.EmitDialBegin(trunk, phone, "101")
	card := `article[data-call="1795836200.0"]`
	do(t, ctx, "name the caller and create the contact",
		chromedp.WaitVisible(chromedp.CSS(card+" form.create input")),
		chromedp.SendKeys(chromedp.CSS(card+" form.create input"), "Jan Peeters"),
		chromedp.Click(chromedp.CSS(card+" form.create button")),
		chromedp.WaitVisible(chromedp.CSS(card+` a[href*="model=res.partner"]`)))
	href := get(t, ctx, "read the link", chromedp.AttributeValue(chromedp.CSS(card+` a[href*="model=res.partner"]`), "href")).Value
	m := regexp.MustCompile(`^https://odoo\.example\.com/web#id=(\d+)&model=res\.partner&view_type=form$`).FindStringSubmatch(href)
	if m == nil {
		t.Fatalf("the card links to %q", href)
	}
	id, _ := strconv.Atoi(m[1])
	p, ok := w.odoo.Partner(id)
	if !ok || p.Name != "Jan Peeters" || p.Phone != "+32475123456" || p.UserID == 0 {
		t.Fatalf("Odoo holds %+v (found %v)", p, ok)
	}
	if name := get(t, ctx, "read the card", chromedp.Text(chromedp.CSS(card+" .name"))); name != "Jan Peeters" {
		t.Errorf("the card says %q", name)
	}
	msgs := w.odoo.Messages()
	if len(msgs) == 0 || msgs[len(msgs)-1].ResID != id || !strings.Contains(msgs[len(msgs)-1].Body, "John Seller (john)") {
		t.Errorf("no chatter line naming john: %+v", msgs)
	}
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": "0475123456"}}.Run(cctx, w.d.AGIAddr())
	if err != nil || res.Vars["ODOO_LOOKUP"] != "FOUND" || res.Vars["CALLERID(name)"] != "Jan Peeters" {
		t.Errorf("the next call: %v %v", res.Vars, err)
	}

	t.Run("add the number to an existing contact found by name", func(t *testing.T) {
		trunk, phone := w.incomingFrom(t, "1795836202.0", "0476 55 44 33")
		w.pbx.EmitDialBegin(trunk, phone, "101")
		card := `article[data-call="1795836202.0"]`
		do(t, ctx, "find ACME and pick it",
			chromedp.WaitVisible(chromedp.CSS(card+" input.add-to")),
			chromedp.SendKeys(chromedp.CSS(card+" input.add-to"), "acme"),
			chromedp.WaitVisible(chromedp.CSS(card+" .suggest li")),
			chromedp.Click(chromedp.CSS(card+" .suggest li")),
			chromedp.WaitVisible(chromedp.CSS(card+` a[href*="model=res.partner"]`)))
		p, _ := w.odoo.Partner(w.acme)
		if p.Phone != "02 555 12 34" {
			t.Errorf("ACME's stored phone became %q", p.Phone)
		}
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": "0476554433"}}.Run(cctx, w.d.AGIAddr())
		if err != nil || res.Vars["ODOO_LOOKUP"] != "FOUND" || !strings.HasPrefix(res.Vars["CALLERID(name)"], "ACME SA") {
			t.Errorf("the next call: %v %v", res.Vars, err)
		}
	})

	t.Run("without Contact Creation, the card says which right is missing", func(t *testing.T) {
		w.odoo.DenyPartnerWrite(true)
		trunk, phone := w.incomingFrom(t, "1795836201.0", "0476 00 00 01")
		w.pbx.EmitDialBegin(trunk, phone, "101")
		card := `article[data-call="1795836201.0"]`
		do(t, ctx, "try to create", chromedp.WaitVisible(chromedp.CSS(card+" form.create input")),
			chromedp.Click(chromedp.CSS(card+" form.create button")),
			chromedp.WaitVisible(chromedp.CSS(card+" .error")))
		if msg := get(t, ctx, "read the error", chromedp.Text(chromedp.CSS(card+" .error"))); !strings.Contains(msg, "Contact Creation") {
			t.Errorf("the card says %q", msg)
		}
	})
}

// TestTypingANameSuggestsContactsAndEnterCallsOne: "acme" in the dial box
// lists ACME's people from the index; arrow down and Enter call the chosen
// number.
func TestTypingANameSuggestsContactsAndEnterCallsOne(t *testing.T) {
	w := newPhoneWorld(t)
	w.odoo.Upsert(odootest.Partner{Name: "Zoë Müller", ParentID: w.acme, Phone: "0475 12 34 56", CountryID: w.odoo.CountryID("BE")})
	if err := w.d.Directory.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := browse(t)
	signIn(t, ctx, w)
	do(t, ctx, "type acme", chromedp.SendKeys(chromedp.ID("number"), "acme"),
		chromedp.WaitVisible(chromedp.CSS(`#suggest li:nth-child(2)`)))
	got := get(t, ctx, "read the list", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#suggest li")].map(li => li.textContent)`))
	want := []string{"ACME SA+32 2 555 12 34", "ACME SA, Zoë Müller+32 475 12 34 56"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("suggested %q, want %q", got, want)
	}
	do(t, ctx, "choose Zoë and press Enter", chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#progress[data-status="answered"]`)))
	if o := w.pbx.Originates(); len(o) != 1 || o[0].Var("ODOO_DIAL_NUMBER") != "0475123456" {
		t.Errorf("Originates: %+v", o)
	}
}

// TestCreateLeadOnlyWhereOdooHasCRM: the card offers Create lead when Odoo
// has CRM and the system account a Sales group, and not otherwise.
func TestCreateLeadOnlyWhereOdooHasCRM(t *testing.T) {
	t.Run("with CRM and All Documents: a lead with john as salesperson", func(t *testing.T) {
		w := newPhoneWorld(t)
		w.odoo.SetCRM(true)
		w.odoo.SetSales("asterisk1", odootest.SalesAll)
		ctx := browse(t)
		signIn(t, ctx, w)
		trunk, phone := w.incomingFrom(t, "1795836400.0", "0476 10 20 30")
		w.pbx.EmitDialBegin(trunk, phone, "101")
		card := `article[data-call="1795836400.0"]`
		do(t, ctx, "create the lead", chromedp.WaitVisible(chromedp.CSS(card+" button.lead")),
			chromedp.SendKeys(chromedp.CSS(card+" form.create input"), "Jan Peeters"),
			chromedp.Click(chromedp.CSS(card+" button.lead")),
			chromedp.WaitVisible(chromedp.CSS(card+` a[href*="model=crm.lead"]`)))
		leads := w.odoo.Leads()
		if len(leads) != 1 || leads[0].Phone != "+32476102030" || leads[0].ContactName != "Jan Peeters" || leads[0].UserID == 0 {
			t.Errorf("leads %+v", leads)
		}
	})
	t.Run("without CRM: no button", func(t *testing.T) {
		w := newPhoneWorld(t)
		ctx := browse(t)
		signIn(t, ctx, w)
		trunk, phone := w.incomingFrom(t, "1795836401.0", "0476 10 20 31")
		w.pbx.EmitDialBegin(trunk, phone, "101")
		card := `article[data-call="1795836401.0"]`
		do(t, ctx, "the card", chromedp.WaitVisible(chromedp.CSS(card+" form.create")))
		if n := get(t, ctx, "count lead buttons", chromedp.Evaluate[int](`document.querySelectorAll("button.lead").length`)); n != 0 {
			t.Errorf("%d Create lead buttons without CRM", n)
		}
	})
}
