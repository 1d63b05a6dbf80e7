package dialplan

import (
	"strings"
	"testing"

	"github.com/odoo-agi/odoo-agi/lookup"
)

// nameReference is Name as first written, with a strings.Replacer and
// strings.Fields on every call. Name must answer as it does.
func nameReference(f NameFormat, p lookup.Partner) string {
	t := f.Template
	if t == "" {
		t = "{display_name}"
	}
	s := strings.NewReplacer("{display_name}", p.DisplayName, "{name}", p.Name, "{company}", p.Company, "{odoo_company}", p.CompanyName).Replace(t)
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Trim(s, " ,-")
	return f.finish(s)
}

func FuzzNameMatchesReference(f *testing.F) {
	f.Add("", "ACME Straße, Zoë Müller", "Zoë  Müller", "ACME", uint8(0))
	f.Add("{name} ({company})", " a\tb ", "{company}", "{name}", uint8(12))
	f.Add("{display_name}{", "x\u00a0y", "", "", uint8(3))
	f.Add("{{name}}{nam}{company", "", " - ", ",", uint8(1))
	f.Add("{name} ({odoo_company})", "", "Jean", "ACME France", uint8(0))
	f.Fuzz(func(t *testing.T, template, display, name, company string, max uint8) {
		nf := NameFormat{Template: template, MaxLength: int(max % 40)}
		p := lookup.Partner{DisplayName: display, Name: name, Company: company, CompanyName: "Odoo " + company}
		if got, want := nf.Name(p), nameReference(nf, p); got != want {
			t.Fatalf("Name = %q, the reference gives %q", got, want)
		}
	})
}

// BenchmarkName formats the default caller name, and the same with the
// first implementation, in the same run.
func BenchmarkName(b *testing.B) {
	p := lookup.Partner{DisplayName: "ACME SA, Zoë Müller", Name: "Zoë Müller", Company: "ACME SA"}
	b.Run("now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			NameFormat{}.Name(p)
		}
	})
	b.Run("replacer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			nameReference(NameFormat{}, p)
		}
	})
}
