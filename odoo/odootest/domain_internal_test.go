package odootest

import "testing"

// TestOnlyARequiredResIDNarrowsTheMailRows: the emulator renders one
// record's notes only when the domain cannot match any other record's.
func TestOnlyARequiredResIDNarrowsTheMailRows(t *testing.T) {
	term := func(f, op string, v any) []any { return []any{f, op, v} }
	for _, c := range []struct {
		name   string
		domain []any
		want   int
		narrow bool
	}{
		{"terms joined implicitly", []any{term("model", "=", "res.partner"), term("res_id", "=", 7), term("body", "ilike", "x")}, 7, true},
		{"terms joined by &", []any{"&", term("res_id", "=", 7), term("model", "=", "res.partner")}, 7, true},
		{"a JSON-2 number", []any{term("res_id", "=", 7.0)}, 7, true},
		{"an or", []any{"|", term("res_id", "=", 7), term("res_id", "=", 8)}, 0, false},
		{"a not", []any{"!", term("res_id", "=", 7)}, 0, false},
		{"another operator", []any{term("res_id", "in", []any{7})}, 0, false},
		{"a fraction", []any{term("res_id", "=", 7.5)}, 0, false},
		{"no domain", nil, 0, false},
		{"a short term", []any{[]any{"res_id", "="}}, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := requiredInt(c.domain, "res_id")
			if ok != c.narrow || ok && got != c.want {
				t.Errorf("requiredInt(%v) = %d, %v; want %d, %v", c.domain, got, ok, c.want, c.narrow)
			}
		})
	}
}

// TestANarrowedSearchAnswersAsAFullOne: notes on two partners, found by
// marker with and without a res_id that narrows the rows.
func TestANarrowedSearchAnswersAsAFullOne(t *testing.T) {
	s := New()
	s.messages = []Message{{ID: 1, Model: "res.partner", ResID: 7, Body: "<p>a [m1]</p>"}, {ID: 2, Model: "res.partner", ResID: 8, Body: "<p>b [m1]</p>"}}
	count := func(d []any) int {
		n, err := s.execute(2, "mail.message", "search_count", []any{d}, map[string]any{})
		if err != nil {
			t.Fatal(err)
		}
		return n.(int)
	}
	marker := []any{"body", "ilike", "[m1]"}
	if n := count([]any{[]any{"res_id", "=", 7}, marker}); n != 1 {
		t.Errorf("res_id 7: %d", n)
	}
	if n := count([]any{"|", []any{"res_id", "=", 7}, []any{"res_id", "=", 8}}); n != 2 {
		t.Errorf("res_id 7 or 8: %d", n)
	}
	if n := count([]any{marker}); n != 2 {
		t.Errorf("every record: %d", n)
	}
}
