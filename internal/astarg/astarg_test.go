package astarg

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSeparateFollowsMSetRules(t *testing.T) {
	got := Separate(`A=1,CALLERID(name)=x\,y,B=\(p\(,C="q,r"`, ',', MaxMSetPairs)
	want := []string{"A=1", "CALLERID(name)=x,y", "B=(p(", "C=q,r"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAnUnescapedParenthesisSwallowsTheNextComma(t *testing.T) {
	// Why values must escape ( ) [ ]: __ast_app_separate_args nests them.
	if got := Separate(`B=(p,C=q`, ',', MaxMSetPairs); len(got) != 1 {
		t.Errorf("got %q, want one argument", got)
	}
}

func TestTheLastArgumentPastTheLimitKeepsTheRawRest(t *testing.T) {
	got := Separate(`a,b,c\,d,e`, ',', 3)
	want := []string{"a", "b", `c\,d,e`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestATrailingDelimiterGivesAnEmptyArgument(t *testing.T) {
	if got := Separate("a,", ',', 0); !reflect.DeepEqual(got, []string{"a", ""}) {
		t.Errorf("got %q", got)
	}
	if got := Separate("", ',', 0); len(got) != 0 {
		t.Errorf("empty data gave %q, want no argument", got)
	}
}

func TestEscapeCutsOnARuneBoundary(t *testing.T) {
	for max := 0; max < 12; max++ {
		b := AppendEscaped(nil, `é\ü,x`, max)
		if len(b) > max || !utf8.Valid(b) || strings.HasSuffix(string(b), `\`) && !strings.HasSuffix(string(b), `\\`) {
			t.Errorf("max %d: %q", max, b)
		}
	}
}

// FuzzRoundTrip: whatever two values hold, escaping them and joining with
// a comma gives them back, cleaned, through Separate.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range [][2]string{{"ACME SA, Zoë", `Evil "Corp" (Ltd) \ [x]`}, {"", ""}, {"a\nb", "\xff("}, {"x", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got := Separate(Escape(a)+","+Escape(b), ',', 0)
		want := []string{Clean(a), Clean(b)}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q, %q: got %q, want %q", a, b, got, want)
		}
		if one := Separate(Escape(a), ',', 0); a != "" && !reflect.DeepEqual(one, []string{Clean(a)}) {
			t.Fatalf("%q alone: got %q", a, one)
		}
	})
}
