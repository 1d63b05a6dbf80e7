package lookup

import (
	"errors"
	"strings"
	"testing"
)

func TestCallerIDsNormalizeToE164(t *testing.T) {
	cases := []struct {
		country, raw, want string
	}{
		{"BE", "025551234", "+3225551234"},
		{"BE", "+3225551234", "+3225551234"},
		{"BE", "003225551234", "+3225551234"},
		{"BE", "3225551234", "+3225551234"}, // digits without the +
		{"BE", "0475123456", "+32475123456"},
		{"FR", "0123456789", "+33123456789"},
		{"FR", "0033123456789", "+33123456789"},
		{"DE", "030901820", "+4930901820"},
		{"DE", "004930901820", "+4930901820"},
		{"US", "8709310505", "+18709310505"},
		{"US", "18709310505", "+18709310505"},
		{"US", "01132 2 555 1234", "+3225551234"}, // 011 is the US exit code
		{"GB", "02079460958", "+442079460958"},
		{"GB", "442079460958", "+442079460958"},
		{"IT", "0612345678", "+390612345678"}, // the leading 0 stays
		{"IT", "+390612345678", "+390612345678"},
		{"IT", "390612345678", "+390612345678"},
		{"NL", "0201234567", "+31201234567"},
		{"CH", "0446681800", "+41446681800"},
		{"CH", "0041446681800", "+41446681800"},
		// Possible but not valid in phonenumbers' metadata: still looked up.
		{"BE", "+32 3 123 45 67", "+3231234567"},
		{"BE", "031234567", "+3231234567"},
	}
	for _, tc := range cases {
		t.Run(tc.country+" "+tc.raw, func(t *testing.T) {
			got, err := Normalizer{Country: tc.country}.Caller(tc.raw)
			if err != nil || got != tc.want {
				t.Errorf("Caller(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
			}
		})
	}
}

func TestCallerIDsThatAreNotLookedUp(t *testing.T) {
	cases := []struct {
		raw  string
		want error
	}{
		{"", ErrAnonymous}, {"anonymous", ErrAnonymous}, {"Unknown", ErrAnonymous},
		{"restricted", ErrAnonymous}, {"private", ErrAnonymous}, {"withheld", ErrAnonymous}, {"unavailable", ErrAnonymous},
		{"101", ErrInternal}, {"123456", ErrInternal},
		{"sip:foo@bar", ErrNotNumber}, {"John", ErrNotNumber}, {"12345678901234567890", ErrNotNumber},
		{"'; DROP TABLE", ErrNotNumber}, {"0000000", ErrNotNumber},
	}
	for _, tc := range cases {
		t.Run(tc.raw, func(t *testing.T) {
			_, err := Normalizer{Country: "BE"}.Caller(tc.raw)
			if !errors.Is(err, tc.want) {
				t.Errorf("Caller(%q) err = %v, want %v", tc.raw, err, tc.want)
			}
		})
	}
}

func TestStoredNumbersMatchAsPeopleTypeThem(t *testing.T) {
	cases := []struct {
		raw     string
		regions []string
		want    string
	}{
		{"(870)-931-0505", []string{"US"}, "+18709310505"},
		{"0032 2/555.12.34", nil, "+3225551234"},
		{"02 555 12 34", nil, "+3225551234"},
		{"+32 (0)2 555 12 34", nil, "+3225551234"},
		{"01 23 45 67 89", []string{"FR"}, "+33123456789"},
		{"06 1234 5678", []string{"IT"}, "+390612345678"},
		{"020 7946 0958", []string{"GB"}, "+442079460958"},
		{"030 901820", []string{"", "DE"}, "+4930901820"}, // the company's country
		{"044 668 18 00", []string{"CH"}, "+41446681800"},
		{"020 123 4567", []string{"NL"}, "+31201234567"},
	}
	for _, tc := range cases {
		t.Run(tc.raw, func(t *testing.T) {
			got, ok := Normalizer{Country: "BE"}.Stored(tc.raw, tc.regions...)
			if !ok || got != tc.want {
				t.Errorf("Stored(%q, %v) = %q, %v; want %q", tc.raw, tc.regions, got, ok, tc.want)
			}
		})
	}
	if _, ok := (Normalizer{Country: "BE"}).Stored("call me maybe"); ok {
		t.Error("text parsed as a number")
	}
}

func TestDialableFollowsDialFormatAndOutPrefix(t *testing.T) {
	cases := []struct {
		n    Normalizer
		e164 string
		want string
	}{
		{Normalizer{Country: "BE"}, "+3225551234", "025551234"},
		{Normalizer{Country: "BE"}, "+33123456789", "0033123456789"},
		{Normalizer{Country: "US"}, "+3225551234", "0113225551234"},
		{Normalizer{Country: "IT"}, "+390612345678", "0612345678"},
		{Normalizer{Country: "BE", OutPrefix: "9"}, "+32475123456", "90475123456"},
		{Normalizer{Country: "BE", DialFormat: "e164"}, "+33123456789", "+33123456789"},
	}
	for _, tc := range cases {
		got, err := tc.n.Dialable(tc.e164)
		if err != nil || got != tc.want {
			t.Errorf("%+v Dialable(%q) = %q, %v; want %q", tc.n, tc.e164, got, err, tc.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+3225551234", "025551234", "anonymous", "101", "(870)-931-0505", "+", "00", "\x00"} {
		f.Add(s)
	}
	n := Normalizer{Country: "BE"}
	f.Fuzz(func(t *testing.T, raw string) {
		e, err := n.Caller(raw)
		if err != nil {
			return
		}
		if again, err := n.Caller(e); err != nil || again != e {
			t.Fatalf("Caller(%q) = %q, but Caller(%q) = %q, %v", raw, e, e, again, err)
		}
	})
}

// storedReference is Stored as first written: every region in turn, valid
// then possible, parsing afresh each time. Stored must answer as it does.
func storedReference(n Normalizer, raw string, regions ...string) (string, bool) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", false
	}
	all := append(append([]string(nil), regions...), n.Country)
	for _, parse := range []func(string, string) (string, bool){parseValid, parsePossible} {
		tried := map[string]bool{}
		for _, r := range all {
			if r == "" || tried[r] {
				continue
			}
			tried[r] = true
			if e, ok := parse(s, r); ok {
				return e, true
			}
		}
	}
	return "", false
}

func FuzzStoredMatchesReference(f *testing.F) {
	for _, s := range []string{"+3225551234", "025551234", "03 123 45 67", "+32 3 123 45 67", "0033123456789", "+1 202 555 0123", "0000000000", "+"} {
		f.Add(s, uint8(2), uint8(0))
		f.Add(s, uint8(0), uint8(3))
	}
	regions := []string{"", "BE", "FR", "US", "DE", "IT", "GB"}
	f.Fuzz(func(t *testing.T, raw string, i, j uint8) {
		own, company := regions[int(i)%len(regions)], regions[int(j)%len(regions)]
		n := Normalizer{Country: "BE"}
		// raw, and raw spelled with only what compact drops and digits.
		const numberChars = "0123456789 .-()+0123456789"
		spelled := []byte(raw)
		for k, c := range spelled {
			spelled[k] = numberChars[int(c)%len(numberChars)]
		}
		for _, raw := range []string{raw, string(spelled)} {
			e, ok := n.Stored(raw, own, company)
			we, wok := storedReference(n, raw, own, company)
			if e != we || ok != wok {
				t.Fatalf("Stored(%q, %q, %q) = %q, %v; the reference gives %q, %v", raw, own, company, e, ok, we, wok)
			}
		}
	})
}
