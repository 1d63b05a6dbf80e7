// Odoo's generic values: an empty field is False, never "", and a many2one
// is [id, "name"] or False. Decode into any and read with these.

package odoo

func Int(v any) (int, bool) {
	switch x := v.(type) {
	case int64:
		return int(x), true
	case int:
		return x, true
	case float64:
		return int(x), true
	}
	return 0, false
}

// String reads a char field; False (empty) gives "".
func String(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// Bool reads a boolean field.
func Bool(v any) bool {
	b, _ := v.(bool)
	return b
}

// Many2one returns the id and name of [id, "name"], or 0, "" for False.
func Many2one(v any) (int, string) {
	pair, ok := v.([]any)
	if !ok || len(pair) < 1 {
		return 0, ""
	}
	id, _ := Int(pair[0])
	name := ""
	if len(pair) > 1 {
		name = String(pair[1])
	}
	return id, name
}

// IDs returns a many2many id list.
func IDs(v any) []int {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]int, 0, len(list))
	for _, e := range list {
		if id, ok := Int(e); ok {
			out = append(out, id)
		}
	}
	return out
}

// Records reads a search_read result; entries that are not records are left out.
func Records(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// List makes a []any of strings, as Odoo's fields and "in" domains take.
func List(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
