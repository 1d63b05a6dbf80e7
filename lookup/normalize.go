package lookup

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers/v2"
)

// Why a caller ID was skipped.
var (
	ErrAnonymous = errors.New("anonymous caller")
	ErrInternal  = errors.New("internal extension")
	ErrNotNumber = errors.New("not a phone number")
)

// anonymousWords are caller IDs that carriers and Asterisk use for withheld numbers.
var anonymousWords = map[string]bool{
	"": true, "anonymous": true, "unknown": true, "restricted": true, "private": true,
	"withheld": true, "unavailable": true, "unavailable caller": true, "anonymous caller": true,
	"blocked": true, "no caller id": true, "<unknown>": true,
}

// Normalizer turns numbers into E.164 for one PBX.
type Normalizer struct {
	Country           string // ISO 3166-1 alpha-2: how local numbers are read
	InternalMaxDigits int    // caller IDs of at most this many digits are extensions
	DialFormat        string // "national" (default) or "e164"
	OutPrefix         string // dialed before every outside number, e.g. "9"
}

// Caller reads an incoming caller ID. It accepts national forms, 00/011/+
// international forms and bare international digits (3225551234) that some
// trunks send. Skips return ErrAnonymous, ErrInternal or ErrNotNumber.
func (n Normalizer) Caller(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if anonymousWords[strings.ToLower(s)] {
		return "", ErrAnonymous
	}
	digits, plus, other := countDigits(s)
	if digits == 0 || other {
		return "", ErrNotNumber
	}
	if !plus && digits == len(s) && digits <= n.maxInternal() {
		return "", ErrInternal
	}
	if e, ok := parseValid(s, n.Country); ok {
		return e, nil
	}
	// Digits that lack the "+": some trunks send 3225551234 for +32 2 555 12 34.
	if !plus && digits == len(s) {
		if e, ok := parseValid("+"+s, n.Country); ok {
			return e, nil
		}
	}
	// A number the metadata does not call valid but that has the length and
	// shape of one: a new range, or one phonenumbers does not know yet
	// (+32 3 123 45 67). Carriers send those, and partners store them.
	if e, ok := parsePossible(s, n.Country); ok {
		return e, nil
	}
	return "", ErrNotNumber
}

// Stored reads a number as a person typed it into Odoo, with each region
// in turn (partner's country, company's, the PBX's): a valid number first,
// else a possible one (the length and shape of a number), as Caller reads
// caller IDs. ok is false when no region gives either.
func (n Normalizer) Stored(raw string, regions ...string) (string, bool) {
	s := compact(strings.TrimSpace(raw))
	if s == "" {
		return "", false
	}
	// Each region once, in order. "+" and a country code read the same in
	// all; "+00…" does not: some regions read 00 as their exit code.
	international := len(s) > 1 && s[0] == '+' && s[1] >= '1' && s[1] <= '9'
	var all [4]string
	k := 0
	for _, r := range append(regions[:len(regions):len(regions)], n.Country) {
		if r != "" && !slices.Contains(all[:k], r) && k < len(all) && (k == 0 || !international) {
			all[k] = r
			k++
		}
	}
	var nums [len(all)]*phonenumbers.PhoneNumber
	for i, r := range all[:k] {
		num, err := phonenumbers.Parse(s, r)
		if err != nil {
			continue
		}
		if phonenumbers.IsValidNumber(num) {
			return phonenumbers.Format(num, phonenumbers.E164), true
		}
		nums[i] = num
	}
	for i, r := range all[:k] {
		if nums[i] == nil {
			continue
		}
		if e, ok := possible(nums[i], r); ok {
			return e, true
		}
	}
	return "", false
}

// Dialable returns the digits the PBX dials for an E.164 number:
// national digits within the PBX's country and the country's exit code
// abroad ("national"), or the number with "+" ("e164"); OutPrefix first.
func (n Normalizer) Dialable(e164 string) (string, error) {
	num, err := phonenumbers.Parse(e164, n.Country)
	if err != nil {
		return "", fmt.Errorf("%q is not a phone number: %w", e164, err)
	}
	var out string
	switch {
	case n.DialFormat == "e164":
		out = phonenumbers.Format(num, phonenumbers.E164)
	case phonenumbers.GetRegionCodeForNumber(num) == n.Country:
		out = digitsOnly(phonenumbers.Format(num, phonenumbers.NATIONAL))
	default:
		out = digitsOnly(phonenumbers.FormatOutOfCountryCallingNumber(num, n.Country))
	}
	return n.OutPrefix + out, nil
}

func (n Normalizer) maxInternal() int {
	if n.InternalMaxDigits > 0 {
		return n.InternalMaxDigits
	}
	return 6
}

func parseValid(s, region string) (string, bool) {
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}

// parsePossible accepts a number that phonenumbers finds possible for its
// region: its length and shape fit, though the range is not known valid.
// Its E.164 form must read back as itself: leading zeros after a trunk
// prefix ("0000000000") otherwise give a form that reads as another number.
func parsePossible(s, region string) (string, bool) {
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", false
	}
	return possible(num, region)
}

func possible(num *phonenumbers.PhoneNumber, region string) (string, bool) {
	if !phonenumbers.IsPossibleNumber(num) {
		return "", false
	}
	e := phonenumbers.Format(num, phonenumbers.E164)
	again, err := phonenumbers.Parse(e, region)
	if err != nil || !phonenumbers.IsPossibleNumber(again) || phonenumbers.Format(again, phonenumbers.E164) != e {
		return "", false
	}
	return e, true
}

// compact drops the spaces, dots, dashes and parentheses of a number
// written with nothing else ("+32 (0)2 555.12.34"): phonenumbers reads it
// the same, and a shorter string parses a third faster (most of a parse is
// its extension pattern, run over every character). Anything else is
// returned as it is. FuzzStoredMatchesReference holds it to that.
func compact(s string) string {
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits++
		} else if !(c == '+' && i == 0 || c == ' ' || c == '.' || c == '-' || c == '(' || c == ')') {
			return s
		}
	}
	if digits < 3 || len(s) > 250 {
		return s // "0 1" is not a number to phonenumbers, "01" is; nor are 251 characters
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c == '+' {
			b = append(b, c)
		}
	}
	return string(b)
}

// countDigits counts digits, notes a leading '+', and reports letters or
// other characters that no phone number format uses.
func countDigits(s string) (digits int, plus, other bool) {
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
			plus = true
		case strings.ContainsRune(" -./()", r):
		default:
			other = true
		}
	}
	return
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ValidCountry reports whether phonenumbers knows the region code.
func ValidCountry(code string) bool {
	return phonenumbers.GetSupportedRegions()[code]
}

// Pretty formats an E.164 number for people: "+32 2 555 12 34". Anything
// else comes back as it is.
func Pretty(e164 string) string {
	if !strings.HasPrefix(e164, "+") {
		return e164
	}
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
}
