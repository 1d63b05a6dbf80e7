package odoo_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/kolo/xmlrpc"

	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// searchReadBytes asks the emulator for a search_read page and returns the
// response as it came.
func searchReadBytes(t testing.TB, url string, limit int) []byte {
	t.Helper()
	fields := []any{"id", "name", "display_name", "is_company", "parent_id", "commercial_partner_id",
		"commercial_company_name", "phone", "mobile", "country_id", "user_id", "category_id", "active", "write_date"}
	body, err := xmlrpc.EncodeMethodCall("execute_kw", "odoo", 2, "asterisk1", "res.partner", "search_read",
		[]any{[]any{}}, map[string]any{"fields": fields, "limit": limit, "order": "id"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url+"/xmlrpc/2/object", "text/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The pages a sync reads, as Odoo writes them, take the fast reader, and
// it reads them as kolo/xmlrpc does.
func TestSearchReadPagesTakeTheFastReader(t *testing.T) {
	if odootest.TestAPI() == odoo.JSON2 {
		t.Skip("XML-RPC only")
	}
	o, url := emulator(t)
	vip := o.AddCategory("VIP & Co <1>")
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 12 34", CountryID: o.CountryID("BE"), CategoryIDs: []int{vip}})
	o.Upsert(odootest.Partner{Name: "O'Brien & \"Sons\" <Ltd>", ParentID: acme, Phone: "+32 2 555 12 35"})
	o.Upsert(odootest.Partner{Name: "Two\nLines\tand été", Mobile: "0475 12 34 56"})
	data := searchReadBytes(t, url, 100)
	got, err := odoo.ResponseValue(data)
	if err != nil {
		t.Fatalf("the fast reader refused the page: %v\n%s", err, data)
	}
	var want any
	if err := xmlrpc.Response(data).Unmarshal(&want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fast reader: %#v\nkolo/xmlrpc: %#v", got, want)
	}
	if s := fmt.Sprint(got); !bytes.Contains([]byte(s), []byte(`O'Brien & "Sons" <Ltd>`)) || !bytes.Contains([]byte(s), []byte("Two\nLines\tand été")) {
		t.Errorf("names not read back: %s", s)
	}
}

// BenchmarkReadSearchReadPage reads one 2,000-record page with the fast
// reader and with kolo/xmlrpc, in the same run.
func BenchmarkReadSearchReadPage(b *testing.B) {
	o, url := emulator(b)
	for i := range 2000 {
		o.Upsert(odootest.Partner{Name: fmt.Sprintf("Contact %d", i), Phone: fmt.Sprintf("02 555 %02d %02d", i/100, i%100), CountryID: o.CountryID("BE")})
	}
	data := searchReadBytes(b, url, 2000)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := odoo.ResponseValue(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kolo", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := xmlrpc.Response(data).Unmarshal(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
