package lookup_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// TestAnAccountSeesOnlyItsCompaniesPartners: as on a real Odoo, a
// company-2 partner is invisible to an account in company 1 alone, and
// visible, with no context, once the account is in both.
func TestAnAccountSeesOnlyItsCompaniesPartners(t *testing.T) {
	o, url := emulator(t)
	branch := o.AddCompany("ACME France")
	o.Upsert(odootest.Partner{Name: "Shared Ltd", Phone: "025551000"})
	o.Upsert(odootest.Partner{Name: "Head Office Client", Phone: "025551001", CompanyID: 1})
	o.Upsert(odootest.Partner{Name: "Client Français", Phone: "025551002", CompanyID: branch})
	ctx := context.Background()

	d := directory(t, url, nil)
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := lookupName(t, d, "025551002"); s != lookup.NotFound {
		t.Errorf("an account in company 1 only: the company-2 partner is %v, want not found (invisible)", s)
	}
	if got := d.Companies(); !slices.Equal(got, []lookup.CompanyCount{{ID: 1, Name: "My Company", Partners: 1}, {ID: 0, Partners: 1}}) {
		t.Errorf("companies seen by an account in company 1: %+v", got)
	}

	o.SetCompanies("asterisk1", 1, branch)
	d = directory(t, url, nil)
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	r := d.Lookup(ctx, "025551002")
	if r.Status != lookup.Found || r.Partner.CompanyID != branch || r.Partner.CompanyName != "ACME France" {
		t.Errorf("an account in both companies: %v %+v, want the company-2 partner with its company", r.Status, r.Partner)
	}
	want := []lookup.CompanyCount{{ID: 1, Name: "My Company", Partners: 1}, {ID: branch, Name: "ACME France", Partners: 1}, {ID: 0, Partners: 1}}
	if got := d.Companies(); !slices.Equal(got, want) {
		t.Errorf("companies: %+v, want %+v", got, want)
	}

	// The snapshot keeps each partner's company and the companies' names.
	snap := filepath.Join(t.TempDir(), "snap")
	if err := d.SaveSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	o.SetDown(true)
	d2 := directory(t, url, nil)
	if _, err := d2.LoadSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if r := d2.Lookup(ctx, "025551002"); r.Partner.CompanyName != "ACME France" || !slices.Equal(d2.Companies(), want) {
		t.Errorf("from the snapshot: %+v, %+v", r.Partner, d2.Companies())
	}
}

// TestAContextNamingAnotherCompanyIsRefused: allowed_company_ids with a
// company the account lacks is refused, over either API, in Odoo's words.
func TestAContextNamingAnotherCompanyIsRefused(t *testing.T) {
	o, url := emulator(t)
	branch := o.AddCompany("ACME France")
	c := client(url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kw := func(ids ...any) map[string]any {
		return map[string]any{"fields": []any{"name"}, "context": map[string]any{"allowed_company_ids": ids}}
	}
	_, err := c.Execute(ctx, "res.partner", "search_read", []any{[]any{}}, kw(1, branch))
	var oe *odoo.Error
	if !errors.As(err, &oe) || oe.Kind != odoo.ErrAccess || !strings.Contains(err.Error(), "Access to unauthorized or invalid companies.") {
		t.Errorf("context naming company %d the account lacks: %v, want Odoo's access error", branch, err)
	}
	if _, err := c.Execute(ctx, "res.partner", "search_read", []any{[]any{}}, kw(1)); err != nil {
		t.Errorf("context naming the account's own company: %v", err)
	}
	// Created with the context of company 2, a partner stays shared: the
	// company must be in the values.
	o.SetCompanies("asterisk1", 1, branch)
	res, err := c.Execute(ctx, "res.partner", "create", []any{[]any{map[string]any{"name": "New", "company_id": branch}}},
		map[string]any{"context": map[string]any{"allowed_company_ids": []any{branch}}})
	if err != nil {
		t.Fatal(err)
	}
	ids := odoo.IDs(res)
	if p, _ := o.Partner(ids[0]); p.CompanyID != branch {
		t.Errorf("created with company_id %d: company %d", branch, p.CompanyID)
	}
}

// TestASharedNumberPrefersTheCalledLinesCompany: two companies' partners
// share a number; the line's company picks its own, then the shared one.
func TestASharedNumberPrefersTheCalledLinesCompany(t *testing.T) {
	o, url := emulator(t)
	branch := o.AddCompany("ACME France")
	third := o.AddCompany("ACME Lux")
	o.SetCompanies("asterisk1", 1, branch, third)
	o.Upsert(odootest.Partner{Name: "Dupont (Belgium)", Phone: "025552000", CompanyID: 1})
	o.Upsert(odootest.Partner{Name: "Dupont (France)", Phone: "025552000", CompanyID: branch})
	shared := o.Upsert(odootest.Partner{Name: "Dupont Group", Phone: "025552000"})
	d := directory(t, url, nil)
	ctx := context.Background()
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fr := lookup.Normalizer{Country: "FR"}
	for _, c := range []struct {
		line lookup.Line
		raw  string
		want string
	}{
		{lookup.Line{Company: 1}, "025552000", "Dupont (Belgium)"},
		{lookup.Line{Company: branch}, "025552000", "Dupont (France)"},
		{lookup.Line{Company: third}, "025552000", "Dupont Group"},                             // none of its own: the shared one
		{lookup.Line{Company: branch, Normalizer: &fr}, "0032 2 555 20 00", "Dupont (France)"}, // a French PBX dials 00 for abroad
	} {
		if r := d.LookupLine(ctx, c.raw, c.line); r.Partner.Name != c.want || r.Matches != 3 {
			t.Errorf("line %+v: %q (%d matches), want %q", c.line, r.Partner.Name, r.Matches, c.want)
		}
	}
	// With no company, the old rules: unrelated partners give the latest written.
	o.Update(shared, func(p *odootest.Partner) {})
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if r := d.Lookup(ctx, "025552000"); r.Partner.Name != "Dupont Group" {
		t.Errorf("no company: %q, want the latest written", r.Partner.Name)
	}
	if r := d.LookupLine(ctx, "025552000", lookup.Line{Company: branch}); r.Partner.Name != "Dupont (France)" {
		t.Errorf("company 2 after the shared one was written: %q", r.Partner.Name)
	}
}
