// Package astarg is the one codec for Asterisk application arguments: the
// escaping that makes a value arrive byte for byte through app.c
// __ast_app_separate_args (AST_STANDARD_APP_ARGS with remove_chars set), and
// a Go port of that function for emulators and tests.
//
// FastAGI's EXEC MSet and AMI's Originate Variable headers are both split by
// it: ',' separates arguments outside (), [] and "…", a '"' is removed, and a
// '\' makes the next byte literal. Escaping each of \ " , ( ) [ ] with a
// backslash therefore survives the split unchanged.
package astarg

import (
	"math"
	"strings"
	"unicode/utf8"
)

// MaxMSetPairs is how many name=value pairs one MSet takes: app.c declares
// AST_APP_ARG(pair)[99], and the raw rest of the data goes into the 99th.
const MaxMSetPairs = 99

// IsControl reports the runes no argument may carry: C0, DEL and C1.
func IsControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f)
}

// AppendEscaped appends v escaped for one argument: each of \ " , ( ) [ ]
// gets a backslash, control characters become spaces and invalid UTF-8
// becomes U+FFFD. It appends at most max bytes, cutting v on a rune
// boundary, never between a backslash and what it escapes.
func AppendEscaped(dst []byte, v string, max int) []byte {
	dst, _ = Append(dst, v, `\",()[]`, max)
	return dst
}

// Append appends v with a backslash before each byte of special (ASCII),
// control characters as spaces and invalid UTF-8 as U+FFFD, in at most max
// bytes, cut on a rune boundary. It reports whether v was cut.
func Append(dst []byte, v, special string, max int) ([]byte, bool) {
	room := max
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRuneInString(v[i:])
		var enc [utf8.UTFMax + 1]byte
		e := enc[:0]
		switch {
		case r == utf8.RuneError && n <= 1:
			e = utf8.AppendRune(e, utf8.RuneError)
		case IsControl(r):
			e = append(e, ' ')
		case r < utf8.RuneSelf && strings.IndexByte(special, byte(r)) >= 0:
			e = append(e, '\\', byte(r))
		default:
			e = append(e, v[i:i+n]...)
		}
		if len(e) > room {
			return dst, true
		}
		dst = append(dst, e...)
		room -= len(e)
		i += n
	}
	return dst, false
}

// Escape returns v escaped for one argument, whole.
func Escape(v string) string {
	return string(AppendEscaped(make([]byte, 0, len(v)+8), v, math.MaxInt))
}

// Clean returns what Separate gives back for Escape(v): v with control
// characters as spaces and invalid UTF-8 as U+FFFD.
func Clean(v string) string {
	return string(unescape(AppendEscaped(nil, v, math.MaxInt)))
}

func unescape(b []byte) []byte {
	out := b[:0]
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
		}
		out = append(out, b[i])
	}
	return out
}

// Separate splits buf as __ast_app_separate_args does with remove_chars
// set: delim separates outside (), [] and "…"; '"' is removed; a backslash
// is removed and the next byte kept. With limit > 0, the last argument holds
// the rest of buf, unparsed.
func Separate(buf string, delim byte, limit int) []string {
	b := []byte(buf)
	var out []string
	scan := 0
	paren, bracket, quote := 0, 0, false
	wasDelim := -1
	for len(b) > scan && (limit <= 0 || len(out) < limit-1) {
		start := scan
		for scan < len(b) {
			c := b[scan]
			switch {
			case c == '(':
				paren++
			case c == ')':
				if paren > 0 {
					paren--
				}
			case c == '[':
				bracket++
			case c == ']':
				if bracket > 0 {
					bracket--
				}
			case c == '"' && delim != '"':
				quote = !quote
				b = append(b[:scan], b[scan+1:]...)
				scan--
			case c == '\\':
				b = append(b[:scan], b[scan+1:]...)
			case c == delim && paren == 0 && !quote && bracket == 0:
				out = append(out, string(b[start:scan]))
				wasDelim = scan
				scan++
				goto next
			}
			scan++
		}
		out = append(out, string(b[start:min(scan, len(b))]))
		return out
	next:
	}
	if scan < len(b) || (scan > 0 && scan-1 == wasDelim) {
		out = append(out, string(b[scan:]))
	}
	return out
}
