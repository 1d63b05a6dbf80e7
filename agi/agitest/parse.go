// Package agitest plays Asterisk's side of FastAGI sessions for tests: it
// sends a real agi_* block, parses each command the way res_agi does, and
// answers the way Asterisk 22 answers (see shared/ASTERISK-WIRE.md).
package agitest

// ParseArgs splits a command line into arguments exactly as res_agi's
// parse_args does: space and tab separate, '"' toggles quoting, and a
// backslash makes the next byte literal (a lone one disappears).
func ParseArgs(line string) []string {
	var (
		argv       []string
		cur        []byte
		open       bool // an argument has been started
		quoted     bool
		escaped    bool
		whitespace = true
	)
	finish := func() {
		if open {
			argv = append(argv, string(cur))
			cur = cur[:0]
			open = false
		}
	}
	normal := func(c byte) {
		if whitespace {
			finish()
			open = true
			whitespace = false
		}
		cur = append(cur, c)
		escaped = false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch c {
		case '"':
			if escaped {
				normal(c)
				continue
			}
			quoted = !quoted
			if quoted && whitespace {
				finish()
				open = true
				whitespace = false
			}
			escaped = false
		case ' ', '\t':
			if !quoted && !escaped {
				whitespace = true
			} else {
				normal(c)
			}
		case '\\':
			if escaped {
				normal(c)
			} else {
				escaped = true
			}
		default:
			normal(c)
		}
	}
	finish()
	return argv
}

// SeparateArgs splits application data as app.c __ast_app_separate_args
// does with remove_chars set: delim separates outside (), [] and "…"; '"'
// is removed; a backslash is removed and the next byte kept literally.
// With limit > 0, the last argument holds the rest of buf, unparsed.
func SeparateArgs(buf string, delim byte, limit int) []string {
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
