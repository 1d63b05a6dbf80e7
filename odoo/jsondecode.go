// A fast reader for JSON-2 answers. encoding/json reads a page twice (once
// to check it, once to decode it) and grows its values through reflection;
// at a million partners that is most of a JSON-2 sync's decoding. This one
// reads once, into the same values (float64 numbers, map[string]any,
// []any), and gives up on anything it is not sure to read the same, which
// then goes to encoding/json: FuzzJSONMatchesEncodingJSON holds it to that.

package odoo

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonValue reads one JSON document as json.Unmarshal into an any would.
// ok is false when it cannot tell: the caller then asks encoding/json.
func jsonValue(data []byte) (v any, ok bool) {
	r := jsonReader{b: data}
	v = r.value(0)
	r.space()
	if r.bad || r.i != len(r.b) {
		return nil, false
	}
	return v, true
}

type jsonReader struct {
	b    []byte
	i    int
	bad  bool
	keys map[string]string // object keys read so far: a page repeats them
	// Arrays are gathered on stack and copied out at their size; objects
	// are made as large as the last one: a page's records are alike.
	stack   []any
	lastLen int
}

// maxDepth bounds nesting, far below encoding/json's own limit.
const maxDepth = 1000

func (r *jsonReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jsonReader) value(depth int) any {
	r.space()
	if r.bad || r.i >= len(r.b) || depth > maxDepth {
		r.bad = true
		return nil
	}
	switch c := r.b[r.i]; {
	case c == '{':
		r.i++
		m := make(map[string]any, r.lastLen)
		r.space()
		if r.i < len(r.b) && r.b[r.i] == '}' {
			r.i++
			return m
		}
		for !r.bad {
			r.space()
			if r.i >= len(r.b) || r.b[r.i] != '"' {
				r.bad = true
				return nil
			}
			k := r.key()
			r.space()
			if r.i >= len(r.b) || r.b[r.i] != ':' {
				r.bad = true
				return nil
			}
			r.i++
			m[k] = r.value(depth + 1)
			r.space()
			if r.i < len(r.b) && r.b[r.i] == ',' {
				r.i++
				continue
			}
			if r.i < len(r.b) && r.b[r.i] == '}' {
				r.i++
				r.lastLen = len(m)
				return m
			}
			r.bad = true
		}
		return nil
	case c == '[':
		r.i++
		r.space()
		if r.i < len(r.b) && r.b[r.i] == ']' {
			r.i++
			return []any{}
		}
		start := len(r.stack)
		defer func() { clear(r.stack[start:]); r.stack = r.stack[:start] }()
		for !r.bad {
			v := r.value(depth + 1)
			r.stack = append(r.stack, v)
			r.space()
			if r.i < len(r.b) && r.b[r.i] == ',' {
				r.i++
				continue
			}
			if r.i < len(r.b) && r.b[r.i] == ']' {
				r.i++
				return append([]any(nil), r.stack[start:]...)
			}
			r.bad = true
		}
		return nil
	case c == '"':
		return r.str()
	case c == 't':
		return r.word("true", true)
	case c == 'f':
		return r.word("false", false)
	case c == 'n':
		return r.word("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		return r.num()
	}
	r.bad = true
	return nil
}

func (r *jsonReader) word(w string, v any) any {
	if len(r.b)-r.i < len(w) || string(r.b[r.i:r.i+len(w)]) != w {
		r.bad = true
		return nil
	}
	r.i += len(w)
	return v
}

// num reads a number by JSON's grammar, as float64.
func (r *jsonReader) num() any {
	start := r.i
	if r.b[r.i] == '-' {
		r.i++
	}
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	switch {
	case r.i < len(r.b) && r.b[r.i] == '0':
		r.i++
	case digits() == 0:
		r.bad = true
		return nil
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if digits() == 0 {
			r.bad = true
			return nil
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			r.bad = true
			return nil
		}
	}
	f, err := strconv.ParseFloat(string(r.b[start:r.i]), 64)
	if err != nil {
		r.bad = true // out of range: encoding/json says so
		return nil
	}
	return f
}

// key reads an object key as str does, once per distinct key.
func (r *jsonReader) key() string {
	end := r.i + 1
	for end < len(r.b) && r.b[end] != '"' && r.b[end] != '\\' && r.b[end] >= 0x20 && r.b[end] < utf8.RuneSelf {
		end++
	}
	if end < len(r.b) && r.b[end] == '"' {
		if k, ok := r.keys[string(r.b[r.i+1:end])]; ok {
			r.i = end + 1
			return k
		}
	}
	k := r.str()
	if r.keys == nil {
		r.keys = map[string]string{}
	}
	if len(r.keys) < 1000 {
		r.keys[k] = k
	}
	return k
}

// str reads a string, r.b[r.i] being its opening quote. Invalid UTF-8
// and lone surrogates become U+FFFD, as in encoding/json.
func (r *jsonReader) str() string {
	r.i++
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			s := string(r.b[start:r.i])
			r.i++
			return s
		case c == '\\' || c >= utf8.RuneSelf:
			return r.slowStr(start)
		case c < 0x20:
			r.bad = true
			return ""
		}
		r.i++
	}
	r.bad = true
	return ""
}

func (r *jsonReader) slowStr(start int) string {
	out := append([]byte(nil), r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return string(out)
		case c < 0x20:
			r.bad = true
			return ""
		case c == '\\':
			if r.i+1 >= len(r.b) {
				r.bad = true
				return ""
			}
			e := r.b[r.i+1]
			r.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				ru, ok := r.hex4()
				if !ok {
					return ""
				}
				if utf16.IsSurrogate(ru) {
					ru2 := rune(utf8.RuneError)
					if r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
						save := r.i
						r.i += 2
						if lo, ok := r.hex4(); ok {
							if dec := utf16.DecodeRune(ru, lo); dec != utf8.RuneError {
								ru2 = dec
							} else {
								r.i = save // not a pair: the second is read on its own
							}
						} else {
							return ""
						}
					}
					ru = ru2
				}
				out = utf8.AppendRune(out, ru)
			default:
				r.bad = true
				return ""
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			r.i++
		default:
			ru, n := utf8.DecodeRune(r.b[r.i:])
			if ru == utf8.RuneError && n == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, r.b[r.i:r.i+n]...)
			}
			r.i += n
		}
	}
	r.bad = true
	return ""
}

// hex4 reads the four hex digits of a \u escape.
func (r *jsonReader) hex4() (rune, bool) {
	if len(r.b)-r.i < 4 {
		r.bad = true
		return 0, false
	}
	n, err := strconv.ParseUint(string(r.b[r.i:r.i+4]), 16, 32)
	if err != nil {
		r.bad = true
		return 0, false
	}
	r.i += 4
	return rune(n), true
}
