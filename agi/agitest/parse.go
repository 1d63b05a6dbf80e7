// Package agitest plays Asterisk's side of FastAGI sessions for tests: it
// sends a real agi_* block, parses each command the way res_agi does, and
// answers the way Asterisk 22 answers (see docs/asterisk-wire.md).
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
