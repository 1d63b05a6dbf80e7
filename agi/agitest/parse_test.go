package agitest

import (
	"reflect"
	"testing"
)

// The quoting table of docs/asterisk-wire.md: what res_agi stored.
func TestParseArgsMatchesWhatAsteriskStored(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{`SET VARIABLE CALLERID(name) "John Smith"`, []string{"SET", "VARIABLE", "CALLERID(name)", "John Smith"}},
		{`SET VARIABLE X "Jo\"hn"`, []string{"SET", "VARIABLE", "X", `Jo"hn`}},
		{`SET VARIABLE X "back\\slash"`, []string{"SET", "VARIABLE", "X", `back\slash`}},
		{`SET VARIABLE X "single\back"`, []string{"SET", "VARIABLE", "X", "singleback"}},
		{`SET VARIABLE X "trail\\"`, []string{"SET", "VARIABLE", "X", `trail\`}},
		{`SET VARIABLE X ""`, []string{"SET", "VARIABLE", "X", ""}},
		{`SET VARIABLE CALLERID(name) John Smith`, []string{"SET", "VARIABLE", "CALLERID(name)", "John", "Smith"}},
	}
	for _, tc := range cases {
		if got := ParseArgs(tc.line); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseArgs(%s) = %q, want %q", tc.line, got, tc.want)
		}
	}
}
