package dialplan

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gosimple/unidecode"
	"github.com/nyaruka/phonenumbers/v2"
	"github.com/nyaruka/phonenumbers/v2/geocoding"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/odoo-agi/odoo-agi/lookup"
)

// NameFormat turns a partner into the caller name phones show.
type NameFormat struct {
	Template  string // {display_name}, {name}, {company}, {odoo_company}; default "{display_name}"
	MaxLength int    // in characters; 0 is no limit
	ASCII     bool   // transliterate for phones that cannot show UTF-8
}

// Name formats p.
func (f NameFormat) Name(p lookup.Partner) string {
	t := f.Template
	if t == "" {
		t = "{display_name}"
	}
	s := expand(t, p)
	if !singleSpaced(s) {
		s = strings.Join(strings.Fields(s), " ")
	}
	s = strings.Trim(s, " ,-")
	return f.finish(s)
}

// expand fills {display_name}, {name}, {company} (the contact's commercial
// company) and {odoo_company} (the Odoo company it belongs to) in a
// template, once
// per call and on every call: it builds no replacer.
func expand(t string, p lookup.Partner) string {
	if t == "{display_name}" {
		return p.DisplayName
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(t)
			return b.String()
		}
		b.WriteString(t[:i])
		t = t[i:]
		switch {
		case strings.HasPrefix(t, "{display_name}"):
			b.WriteString(p.DisplayName)
			t = t[len("{display_name}"):]
		case strings.HasPrefix(t, "{name}"):
			b.WriteString(p.Name)
			t = t[len("{name}"):]
		case strings.HasPrefix(t, "{company}"):
			b.WriteString(p.Company)
			t = t[len("{company}"):]
		case strings.HasPrefix(t, "{odoo_company}"):
			b.WriteString(p.CompanyName)
			t = t[len("{odoo_company}"):]
		default:
			b.WriteByte('{')
			t = t[1:]
		}
	}
}

// singleSpaced reports whether strings.Fields and a join with " " would
// give s back: no space but single ASCII ones between words.
func singleSpaced(s string) bool {
	prev := ' ' // a leading space is not single
	for _, r := range s {
		if unicode.IsSpace(r) && (r != ' ' || prev == ' ') {
			return false
		}
		prev = r
	}
	return prev != ' ' || s == ""
}

// finish applies ASCII and the length limit.
func (f NameFormat) finish(s string) string {
	if f.ASCII {
		// unidecode maps é→e, ß→ss, Ø→O, Ж→Zh, Ω→O; x/text's NFD only strips
		// combining marks and leaves ß, Ø and non-Latin scripts untouched.
		s = strings.TrimSpace(unidecode.Unidecode(s))
	}
	if f.MaxLength > 0 && utf8.RuneCountInString(s) > f.MaxLength {
		n := 0
		for i := range s {
			if n == f.MaxLength {
				s = strings.TrimRight(s[:i], " ,")
				break
			}
			n++
		}
	}
	return s
}

// Place describes where an E.164 number is, e.g. "Brussels, Belgium".
func (f NameFormat) Place(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	desc, _ := geocoding.GetDescriptionForNumber(num, "en")
	country := ""
	if r, err := language.ParseRegion(phonenumbers.GetRegionCodeForNumber(num)); err == nil {
		country = display.English.Regions().Name(r)
	}
	switch {
	case desc == "" || desc == country:
		desc = country
	case country != "":
		desc += ", " + country
	}
	return f.finish(desc)
}
