package agi

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

// FuzzReply: no reply line, however malformed, panics the parser, and a
// parsed 200 reply's value always lies between parentheses of the line.
func FuzzReply(f *testing.F) {
	for _, s := range []string{"200 result=1", "200 result=1 (A (B) C))", "200 result=-1 endpos=1234",
		"200 result=0", "200 result=", "200 result=1 (", "510 Invalid or unknown command", "HANGUP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if !strings.HasPrefix(line, "200 ") {
			return
		}
		r, err := parse200(line[4:])
		if err == nil && r.Value != "" && !strings.Contains(line, "("+r.Value+")") {
			t.Fatalf("value %q is not between parentheses in %q", r.Value, line)
		}
	})
}

// FuzzEnv: any byte stream either parses to a map or fails with an error,
// within the limits, and never reads past the blank line.
func FuzzEnv(f *testing.F) {
	f.Add("agi_network: yes\nagi_callerid: +3225551234\n\nHANGUP\n")
	f.Add("agi_network: yes\r\nagi_accountcode: \r\n\r\n")
	f.Add("\x00\xff\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		br := bufio.NewReaderSize(strings.NewReader(in), maxEnvLineSize)
		env, err := readEnv(br)
		if err != nil {
			return
		}
		if len(env) > maxEnvLines {
			t.Fatalf("%d variables", len(env))
		}
		consumed := -1
		for off := 0; off < len(in); {
			n := strings.IndexByte(in[off:], '\n')
			if n < 0 {
				break
			}
			if line := in[off : off+n]; line == "" || line == "\r" {
				consumed = off + n + 1
				break
			}
			off += n + 1
		}
		if consumed < 0 {
			t.Fatalf("parsed a block with no blank line: %q", in)
		}
		if rest, _ := io.ReadAll(br); string(rest) != in[consumed:] {
			t.Fatalf("read past the blank line; left %q of %q", rest, in)
		}
	})
}
