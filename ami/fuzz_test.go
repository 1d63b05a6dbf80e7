package ami

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzReadMessage: the parser never panics, and what it returns can be
// written back and read again to the same fields.
func FuzzReadMessage(f *testing.F) {
	for _, s := range []string{
		"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n",
		"Event: OriginateResponse\r\nActionID: x\r\nResponse: Failure\r\nReason: 5\r\n\r\n",
		"Response: Follows\r\nPrivilege: Command\r\nline\n--END COMMAND--\r\n\r\n",
		"Output: a\r\nOutput: b\r\n\r\n",
		"no colon\r\n\r\n",
		":\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadMessage(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if strings.EqualFold(m.Get("Response"), "Follows") {
			return // the pre-14 format is read, never written
		}
		b, err := m.encode()
		if err != nil {
			t.Fatalf("read %q but cannot write it back: %v", m.Fields, err)
		}
		m2, err := ReadMessage(bufio.NewReader(bytes.NewReader(b)))
		if err != nil || len(m2.Fields) != len(m.Fields) {
			t.Fatalf("round trip: %q → %q (%v)", m.Fields, m2.Fields, err)
		}
		for i := range m.Fields {
			if m.Fields[i] != m2.Fields[i] {
				t.Fatalf("round trip changed field %d: %q → %q", i, m.Fields[i], m2.Fields[i])
			}
		}
	})
}

// FuzzEncode: no value can add a header or end the action early.
func FuzzEncode(f *testing.F) {
	f.Add("Command", "core show version")
	f.Add("Variable", "X=a\r\nAction: Command")
	f.Fuzz(func(t *testing.T, key, value string) {
		m := NewAction("Test")
		m.Add(key, value)
		b, err := m.encode()
		if err != nil {
			return
		}
		got, err := ReadMessage(bufio.NewReader(bytes.NewReader(b)))
		if err != nil || len(got.Fields) != 2 || got.Fields[1].Key != key || got.Fields[1].Value != strings.TrimPrefix(" "+value, " ") {
			t.Fatalf("%q: %q → %q (%v)", key, value, got.Fields, err)
		}
	})
}
