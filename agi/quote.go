package agi

import (
	"math"
	"unicode/utf8"

	"github.com/odoo-agi/odoo-agi/internal/astarg"
)

// MaxLineBytes is the longest command line written, newline included.
// res_agi run_agi reads into char buf[AGI_BUF_LEN] (2048) with fgets; the
// rest of a longer line is read, and executed, as the next command.
const MaxLineBytes = 2047

// Sanitize returns v with every control character (C0, DEL, C1) replaced by
// a space and invalid UTF-8 replaced by U+FFFD. A sanitized value can never
// end a command line (LF), truncate it (NUL) or smuggle a CR into a name.
func Sanitize(v string) string {
	clean := true
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRuneInString(v[i:])
		if isControl(r) || (r == utf8.RuneError && n <= 1) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return v
	}
	b, _ := astarg.Append(make([]byte, 0, len(v)+8), v, "", math.MaxInt)
	return string(b)
}

func isControl(r rune) bool { return astarg.IsControl(r) }

// appendQuoted appends v as one parse_args argument: sanitized, wrapped in
// double quotes, with '\' and '"' escaped. It writes at most max bytes and
// cuts v on a rune boundary (never between a backslash and what it escapes)
// to stay within them. It reports whether v was cut.
func appendQuoted(dst []byte, v string, max int) ([]byte, bool) {
	if max < 2 {
		return dst, true
	}
	// res_agi parse_args: a backslash makes the next byte literal.
	dst, cut := astarg.Append(append(dst, '"'), v, `"\`, max-2)
	return append(dst, '"'), cut
}

// appendEscapedSanitized appends b, already sanitized (valid UTF-8, no
// controls), with '"' and '\' escaped, if the result stays within max
// bytes. A multi-byte UTF-8 sequence never holds either byte, so this
// works byte by byte.
func appendEscapedSanitized(dst, b []byte, max int) ([]byte, bool) {
	need := len(dst) + len(b)
	for _, c := range b {
		if c == '"' || c == '\\' {
			need++
		}
	}
	if need > max {
		return dst, false
	}
	for _, c := range b {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return dst, true
}

// Quote returns v as one quoted, escaped and sanitized AGI argument.
func Quote(v string) string {
	b, _ := appendQuoted(nil, v, len(v)*2+2+8)
	return string(b)
}
