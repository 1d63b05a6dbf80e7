package odoo

import (
	"encoding/json"
	"strconv"
	"testing"
)

// A search_read page as Odoo 19 writes it, escapes and all.
const jsonPage = `[{"id": 7, "name": "O'Brien & \"Sons\"\tLtd\n<b>", "phone": false, "parent_id": [3, "ACME SA"],
 "category_id": [], "score": -1.5e3, "none": null, "ctx": {}, "e\u0301t\u00e9": "Zo\u00eb \ud83d\ude00 \ud800 x\/y",
 "utf8": "Zoë Müller", "big": 12345678901234567890}]`

func TestJSONValueReadsAsEncodingJSON(t *testing.T) {
	for _, doc := range []string{jsonPage, `42`, ` "16.0" `, `[]`, `{}`, `true`, `[null, false, -0, 0.5e-3]`} {
		got, ok := jsonValue([]byte(doc))
		if !ok {
			t.Fatalf("jsonValue refused %s", doc)
		}
		var want any
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		if !same(got, want) {
			t.Errorf("jsonValue = %#v\nencoding/json gives %#v", got, want)
		}
	}
	for _, doc := range []string{``, `[1,]`, `{"a" 1}`, `01`, `1e999`, `"a` + "\x01" + `"`, `"\x"`, `[1] x`, `"\u12"`, `tru`} {
		if v, ok := jsonValue([]byte(doc)); ok {
			t.Errorf("jsonValue read %q as %#v; encoding/json refuses it", doc, v)
		}
	}
}

func FuzzJSONMatchesEncodingJSON(f *testing.F) {
	f.Add([]byte(jsonPage))
	f.Add([]byte(`{"a": [1, 2.5, "\ud83d\ude00\udc00", "\xff", {"b": null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := jsonValue(data)
		var want any
		err := json.Unmarshal(data, &want)
		switch {
		case ok && err != nil:
			t.Fatalf("jsonValue read %#v where encoding/json fails: %v", got, err)
		case ok && !same(got, want):
			t.Fatalf("jsonValue = %#v\nencoding/json gives %#v", got, want)
		}
	})
}

// BenchmarkReadJSONPage reads a 2,000-record search_read page with the
// fast reader and with encoding/json, in the same run.
func BenchmarkReadJSONPage(b *testing.B) {
	var page []any
	for i := range 2000 {
		page = append(page, map[string]any{"id": i + 1, "name": "Contact " + strconv.Itoa(i), "display_name": "Contact " + strconv.Itoa(i),
			"is_company": false, "parent_id": false, "commercial_partner_id": []any{i + 1, "Contact"}, "commercial_company_name": false,
			"phone": "02 555 12 34", "country_id": []any{20, "Belgium"}, "user_id": false, "category_id": []any{}, "active": true,
			"write_date": "2026-11-28 06:00:00"})
	}
	data, _ := json.Marshal(page)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := jsonValue(data); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
