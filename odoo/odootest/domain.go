// Odoo's domains, as the ORM reads them: normalize_domain's implicit '&',
// the operators the emulator knows, ORDER BY and LIKE patterns.

package odootest

import (
	"fmt"
	"sort"
	"strings"
)

func domainMentions(d []any, field string) bool {
	for _, t := range d {
		if term, ok := t.([]any); ok && len(term) == 3 && term[0] == field {
			return true
		}
	}
	return false
}

// requiredInt reports the integer that field must equal for a row to match
// d: d is terms joined by '&' alone, one of them (field, "=", N).
func requiredInt(d []any, field string) (int, bool) {
	n, found := 0, false
	for _, t := range d {
		switch t := t.(type) {
		case string:
			if t != "&" {
				return 0, false // '|' or '!': the term may not be required
			}
		case []any:
			if len(t) != 3 || t[0] != field || t[1] != "=" {
				continue
			}
			switch v := t[2].(type) {
			case int:
				n, found = v, true
			case float64: // JSON-2
				n, found = int(v), v == float64(int(v))
			}
		}
	}
	return n, found
}

// normalizeDomain adds the implicit '&' between consecutive terms.
func normalizeDomain(d []any) []any {
	if len(d) == 0 {
		return d
	}
	var out []any
	expected := 1
	for _, t := range d {
		if expected == 0 {
			out = append([]any{"&"}, out...)
			expected = 1
		}
		switch t {
		case "!":
		case "&", "|":
			expected++
		default:
			expected--
		}
		out = append(out, t)
	}
	return out
}

// evalDomain evaluates a normalized Polish-notation domain.
func evalDomain(d []any, r record, has map[string]bool) (bool, error) {
	if len(d) == 0 {
		return true, nil
	}
	d = normalizeDomain(d)
	pos := 0
	var eval func() (bool, error)
	eval = func() (bool, error) {
		if pos >= len(d) {
			return false, fmt.Errorf("ValueError: Invalid domain")
		}
		t := d[pos]
		pos++
		switch x := t.(type) {
		case string:
			switch x {
			case "!":
				v, err := eval()
				return !v, err
			case "&", "|":
				a, err := eval()
				if err != nil {
					return false, err
				}
				b, err := eval()
				if err != nil {
					return false, err
				}
				if x == "&" {
					return a && b, nil
				}
				return a || b, nil
			}
			return false, fmt.Errorf("ValueError: Invalid domain operator %q", x)
		case []any:
			if len(x) != 3 {
				return false, fmt.Errorf("ValueError: Invalid leaf %v", x)
			}
			field, _ := x[0].(string)
			op, _ := x[1].(string)
			if !has[field] && field != "active" {
				return false, fmt.Errorf("ValueError: Invalid field %s in leaf %v", field, x)
			}
			return compare(r[field], op, x[2])
		}
		return false, fmt.Errorf("ValueError: Invalid domain element %v", t)
	}
	v, err := eval()
	if err == nil && pos != len(d) {
		return false, fmt.Errorf("ValueError: Invalid domain: unbalanced")
	}
	return v, err
}

func scalar(v any) any {
	if pair, ok := v.([]any); ok && len(pair) == 2 {
		return pair[0] // many2one compares by id
	}
	return v
}

func compare(have any, op string, want any) (bool, error) {
	have = scalar(have)
	switch op {
	case "=", "!=":
		eq := fmt.Sprint(have) == fmt.Sprint(want) || (want == false && (have == false || have == nil))
		if ids, ok := have.([]any); ok {
			eq = false
			for _, id := range ids {
				if fmt.Sprint(id) == fmt.Sprint(want) {
					eq = true
				}
			}
		}
		return eq == (op == "="), nil
	case "in", "not in":
		list, _ := want.([]any)
		in := false
		for _, w := range list {
			if fmt.Sprint(have) == fmt.Sprint(w) {
				in = true
			}
		}
		return in == (op == "in"), nil
	case "ilike", "not ilike", "like":
		hs, ok := have.(string)
		if !ok {
			return op == "not ilike", nil
		}
		ws := fmt.Sprint(want)
		if op != "like" {
			hs, ws = strings.ToLower(hs), strings.ToLower(ws)
		}
		if !strings.Contains(ws, "%") {
			ws = "%" + ws + "%" // Odoo wraps a plain ilike value in %
		}
		return like(hs, ws) == (op != "not ilike"), nil
	case ">", ">=", "<", "<=":
		hs, ws := fmt.Sprint(have), fmt.Sprint(want)
		hi, hok := have.(int)
		wi, wok := want.(int)
		c := strings.Compare(hs, ws)
		if hok && wok {
			c = hi - wi
		}
		switch op {
		case ">":
			return c > 0, nil
		case ">=":
			return c >= 0, nil
		case "<":
			return c < 0, nil
		}
		return c <= 0, nil
	}
	return false, fmt.Errorf("ValueError: Invalid leaf operator %q", op)
}

func sortRecords(rs []record, order string, has map[string]bool) error {
	if order == "" {
		order = "id"
	}
	type key struct {
		field string
		desc  bool
	}
	var keys []key
	for _, part := range strings.Split(order, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		if !has[f[0]] {
			return fmt.Errorf("ValueError: Invalid field %q in order", f[0])
		}
		keys = append(keys, key{f[0], len(f) > 1 && strings.EqualFold(f[1], "desc")})
	}
	sort.SliceStable(rs, func(i, j int) bool {
		for _, k := range keys {
			a, b := rs[i][k.field], rs[j][k.field]
			var c int
			if ai, ok := a.(int); ok {
				bi, _ := b.(int)
				c = ai - bi
			} else {
				c = strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
			}
			if c != 0 {
				return (c < 0) != k.desc
			}
		}
		return false
	})
	return nil
}

// like matches SQL LIKE with % wildcards (no _), as PostgreSQL does.
func like(s, pattern string) bool {
	parts := strings.Split(pattern, "%")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	if len(parts) == 1 {
		return s == ""
	}
	return strings.HasSuffix(s, last)
}
