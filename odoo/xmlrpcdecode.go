// A fast reader for the XML-RPC responses Odoo writes. kolo/xmlrpc reads
// them through encoding/xml's tokenizer and reflection: half of a full
// sync's time at a million partners. This reader takes the one shape that
// Python's xmlrpc.client marshaller writes, byte by byte, and gives up on
// anything else (a fault, a comment, a character reference, an attribute),
// which then goes to kolo/xmlrpc. Where it answers, it answers as kolo
// does, empty values and all: FuzzResponseMatchesKolo holds it to that.

package odoo

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// errNotPlain says a response is outside the shape responseValue reads.
var errNotPlain = errors.New("odoo: not a plain XML-RPC response")

// responseValue reads a methodResponse with one param and returns its
// value as kolo/xmlrpc would into an any, or errNotPlain.
func responseValue(data []byte) (any, error) {
	r := xmlReader{b: data}
	r.declaration()
	for _, tag := range []string{"<methodResponse>", "<params>", "<param>", "<value>"} {
		r.open(tag)
	}
	v := r.value()
	for _, tag := range []string{"</param>", "</params>", "</methodResponse>"} {
		r.open(tag)
	}
	r.space()
	if r.err != nil || r.i != len(r.b) {
		return nil, errNotPlain
	}
	return v, nil
}

// xmlReader walks a response; the first thing it does not expect sets err,
// after which every step does nothing.
type xmlReader struct {
	b     []byte
	i     int
	err   error
	keys  map[string]string // member names read so far: a page repeats them
	depth int               // values open; past maxDepth, kolo/xmlrpc decides
	// Arrays are gathered on stack and copied out at their size; structs
	// are made as large as the last one: a page's records are alike.
	stack   []any
	lastLen int
}

func (r *xmlReader) fail() { r.err = errNotPlain }

func (r *xmlReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n':
			r.i++
		default:
			return
		}
	}
}

// declaration skips <?xml version='1.0'?>, as Python writes it.
func (r *xmlReader) declaration() {
	for _, d := range []string{"<?xml version='1.0'?>", `<?xml version="1.0"?>`} {
		if bytes.HasPrefix(r.b, []byte(d)) {
			r.i = len(d)
			return
		}
	}
}

// has reports whether tag comes next, exactly.
func (r *xmlReader) has(tag string) bool {
	return len(r.b)-r.i >= len(tag) && string(r.b[r.i:r.i+len(tag)]) == tag
}

// open consumes whitespace and then tag, exactly.
func (r *xmlReader) open(tag string) {
	if r.err != nil {
		return
	}
	r.space()
	if !r.has(tag) {
		r.fail()
		return
	}
	r.i += len(tag)
}

// at reports whether tag comes next, after whitespace, without consuming it.
func (r *xmlReader) at(tag string) bool {
	j := r.i
	for j < len(r.b) && (r.b[j] == ' ' || r.b[j] == '\t' || r.b[j] == '\n') {
		j++
	}
	return len(r.b)-j >= len(tag) && string(r.b[j:j+len(tag)]) == tag
}

// value reads what follows <value>, up to and including </value>.
func (r *xmlReader) value() any {
	if r.depth++; r.err != nil || r.depth > maxDepth {
		r.fail()
		return nil
	}
	defer func() { r.depth-- }()
	// An untyped value is a string in XML-RPC, but kolo/xmlrpc refuses it
	// where an any is asked for; Python never writes one.
	r.space()
	var v any
	switch {
	case r.at("<struct>"):
		v = r.structValue()
	case r.at("<array>"):
		v = r.arrayValue()
	case r.at("<nil/>"):
		r.open("<nil/>")
	default:
		v = r.scalar()
	}
	r.open("</value>")
	return v
}

// scalarTypes are the scalar types, with their tags written once.
var scalarTypes = func() (out [][3]string) {
	for _, t := range []string{"string", "int", "i4", "i8", "boolean", "double", "dateTime.iso8601", "base64"} {
		out = append(out, [3]string{t, "<" + t + ">", "</" + t + ">"})
	}
	return out
}()

// scalar reads <type>text</type>. As in kolo/xmlrpc, an empty one is nil.
func (r *xmlReader) scalar() any {
	var typ, closing string
	for _, t := range scalarTypes {
		if r.has(t[1]) {
			typ, closing = t[0], t[2]
			break
		}
	}
	if typ == "" {
		r.fail()
		return nil
	}
	r.i += len(typ) + 2
	s, ok := r.text()
	if !ok {
		r.fail()
		return nil
	}
	r.open(closing)
	if r.err != nil || s == "" {
		return nil
	}
	var v any
	var err error
	switch typ {
	case "string", "base64":
		v = s
	case "int", "i4", "i8":
		v, err = strconv.ParseInt(s, 10, 64)
	case "boolean":
		v, err = strconv.ParseBool(s)
	case "double":
		v, err = strconv.ParseFloat(s, 64)
	case "dateTime.iso8601":
		v, err = parseTime(s)
	}
	if err != nil {
		r.fail()
		return nil
	}
	return v
}

func parseTime(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{"20060102T15:04:05", "20060102T15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04:05Z07:00"} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// structValue reads <struct> members </struct>. An empty struct is a nil
// map, as kolo/xmlrpc gives.
func (r *xmlReader) structValue() any {
	r.open("<struct>")
	var m map[string]any
	for r.err == nil && !r.at("</struct>") {
		r.open("<member>")
		r.open("<name>")
		name, ok := r.name()
		if !ok || name == "" {
			r.fail()
			return nil
		}
		r.open("</name>")
		r.open("<value>")
		v := r.value()
		r.open("</member>")
		if m == nil {
			m = make(map[string]any, r.lastLen)
		}
		m[name] = v
	}
	r.open("</struct>")
	r.lastLen = len(m)
	return m
}

// name reads a member name as text does, once per distinct name.
func (r *xmlReader) name() (string, bool) {
	end := r.i
	for end < len(r.b) && r.b[end] != '<' && r.b[end] != '&' && r.b[end] >= 0x20 && r.b[end] < utf8.RuneSelf {
		end++
	}
	if end < len(r.b) && r.b[end] == '<' {
		if k, ok := r.keys[string(r.b[r.i:end])]; ok {
			r.i = end
			return k, true
		}
	}
	k, ok := r.text()
	if ok && len(r.keys) < 1000 {
		if r.keys == nil {
			r.keys = map[string]string{}
		}
		r.keys[k] = k
	}
	return k, ok
}

// arrayValue reads <array><data> values </data></array>.
func (r *xmlReader) arrayValue() any {
	r.open("<array>")
	r.open("<data>")
	start := len(r.stack)
	for r.err == nil && !r.at("</data>") {
		r.open("<value>")
		v := r.value()
		r.stack = append(r.stack, v)
	}
	list := append(make([]any, 0, len(r.stack)-start), r.stack[start:]...)
	clear(r.stack[start:])
	r.stack = r.stack[:start]
	r.open("</data>")
	r.open("</array>")
	return list
}

// text reads character data up to the next '<', decoding the five named
// entities and character references. ok is false for what encoding/xml
// would read otherwise or refuse: carriage returns (which it rewrites),
// "]]>", invalid UTF-8 and characters XML forbids.
func (r *xmlReader) text() (string, bool) {
	start := r.i
	amp := false
	for r.i < len(r.b) && r.b[r.i] != '<' {
		c := r.b[r.i]
		switch {
		case c == '&':
			amp = true
			r.i++
		case c == '\r', c == ']' && bytes.HasPrefix(r.b[r.i:], []byte("]]>")):
			return "", false
		case c < utf8.RuneSelf:
			if c < 0x20 && c != '\t' && c != '\n' {
				return "", false
			}
			r.i++
		default:
			ru, n := utf8.DecodeRune(r.b[r.i:])
			if ru == utf8.RuneError && n == 1 || !xmlChar(ru) {
				return "", false
			}
			r.i += n
		}
	}
	if r.i == len(r.b) {
		return "", false
	}
	raw := r.b[start:r.i]
	if !amp {
		return string(raw), true
	}
	var sb strings.Builder
	sb.Grow(len(raw))
	for len(raw) > 0 {
		j := bytes.IndexByte(raw, '&')
		if j < 0 {
			sb.Write(raw)
			break
		}
		sb.Write(raw[:j])
		raw = raw[j:]
		k := bytes.IndexByte(raw, ';')
		if k < 0 {
			return "", false
		}
		switch name := string(raw[1:k]); name {
		case "amp":
			sb.WriteByte('&')
		case "lt":
			sb.WriteByte('<')
		case "gt":
			sb.WriteByte('>')
		case "quot":
			sb.WriteByte('"')
		case "apos":
			sb.WriteByte('\'')
		default:
			// A character reference, read as encoding/xml does: a code
			// point past Unicode is refused, a surrogate becomes U+FFFD.
			ru, ok := charRef(name)
			if !ok {
				return "", false
			}
			sb.WriteString(string(ru))
		}
		raw = raw[k+1:]
	}
	return sb.String(), true
}

// charRef reads "#65" or "#x41" and returns the character, if XML allows it.
func charRef(ref string) (rune, bool) {
	base := 10
	switch {
	case strings.HasPrefix(ref, "#x"):
		ref, base = ref[2:], 16
	case strings.HasPrefix(ref, "#"):
		ref = ref[1:]
	default:
		return 0, false
	}
	for _, c := range ref {
		if !(c >= '0' && c <= '9' || base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(ref, base, 64)
	if err != nil || n > unicode.MaxRune {
		return 0, false
	}
	ru, _ := utf8.DecodeRuneInString(string(rune(n)))
	return ru, xmlChar(ru)
}

// xmlChar reports whether XML allows ru in a document.
func xmlChar(ru rune) bool {
	return ru == '\t' || ru == '\n' || ru == '\r' || ru >= 0x20 && ru <= 0xD7FF || ru >= 0xE000 && ru <= 0xFFFD || ru >= 0x10000 && ru <= unicode.MaxRune
}
