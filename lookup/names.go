// Suggestions for the dial box: partners by the start of any word of their
// display name (company and person), folded to lower-case ASCII, or by the
// start of a number as typed. Built from one published index, off the
// lookup path, and rebuilt when the index changed.

package lookup

import (
	"context"
	"encoding/binary"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gosimple/unidecode"
	"github.com/nyaruka/phonenumbers/v2"
)

// Suggestion is one callable choice: a partner and one of its numbers.
type Suggestion struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`   // display_name
	E164   string `json:"e164"`   // the number to call
	Pretty string `json:"pretty"` // as people read it
}

// names is the search over one index. Each word of each partner's folded
// display name is a key of its first 8 bytes; the keys are sorted with the
// partner they belong to, so a word prefix is one binary search. Numbers
// are sorted as integers: a prefix of k digits is one range per length.
type names struct {
	from  *index
	keys  []uint64   // a folded word's first 8 bytes, big-endian, zero-padded
	owner []int32    // the partner of each key, into ps
	nums  []number   // every indexed number, ascending
	numOf []int32    // the partner of each number, into ps
	ps    []*partner // the partners, in id order
}

// fold is what a suggestion matches on: lower case, ASCII (Zoë → zoe).
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		s = unidecode.Unidecode(s)
	}
	return strings.ToLower(s)
}

// foldInto appends fold(s) to buf, without allocating when s is ASCII.
func foldInto(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return append(buf, fold(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// eachWord calls f with each run of ASCII letters and digits in folded
// text (fold leaves no other letters), as words does.
func eachWord(b []byte, f func([]byte)) {
	start := -1
	for i := 0; i <= len(b); i++ {
		alnum := i < len(b) && (b[i] >= 'a' && b[i] <= 'z' || b[i] >= '0' && b[i] <= '9')
		switch {
		case alnum && start < 0:
			start = i
		case !alnum && start >= 0:
			f(b[start:i])
			start = -1
		}
	}
}

// words splits folded text at anything that is not a letter or a digit.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func keyOf(w string) uint64 {
	var b [8]byte
	copy(b[:], w)
	return binary.BigEndian.Uint64(b[:])
}

func buildNames(ix *index) *names {
	n := &names{from: ix, ps: make([]*partner, 0, len(ix.partners))}
	for _, p := range ix.partners {
		if p.hasNumbers() {
			n.ps = append(n.ps, p)
		}
	}
	slices.SortFunc(n.ps, func(a, b *partner) int { return int(a.id - b.id) })
	type entry struct {
		key   uint64
		owner int32
	}
	ws := make([]entry, 0, 3*len(n.ps))
	ns := make([]entry, 0, 2*len(n.ps))
	var buf []byte
	for i, p := range n.ps {
		buf = foldInto(buf[:0], p.display)
		eachWord(buf, func(w []byte) {
			if len(w) >= minWord {
				var k [8]byte
				copy(k[:], w)
				ws = append(ws, entry{binary.BigEndian.Uint64(k[:]), int32(i)})
			}
		})
		for _, num := range p.numberList() {
			ns = append(ns, entry{uint64(num), int32(i)})
		}
	}
	byKey := func(a, b entry) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		return int(a.owner - b.owner)
	}
	slices.SortFunc(ws, byKey)
	slices.SortFunc(ns, byKey)
	n.keys, n.owner = make([]uint64, len(ws)), make([]int32, len(ws))
	for i, e := range ws {
		n.keys[i], n.owner[i] = e.key, e.owner
	}
	n.nums, n.numOf = make([]number, len(ns)), make([]int32, len(ns))
	for i, e := range ns {
		n.nums[i], n.numOf[i] = number(e.key), e.owner
	}
	return n
}

// minWord is the shortest word indexed and searched for ("SA", "NV" and
// "de" are too common to narrow anything).
const minWord = 3

// suggest returns up to limit suggestions for q: a number prefix when q is
// digits (national, 00 or + form), else partners having a word that starts
// with each word of q.
func (n *names) suggest(q, country string, limit int) []Suggestion {
	var out []Suggestion
	seen := map[int32]bool{}
	add := func(i int32, num number) bool {
		p := n.ps[i]
		if seen[i] && num == 0 {
			return len(out) < limit
		}
		seen[i] = true
		nums := p.numberList()
		if num != 0 {
			nums = []number{num}
		}
		for _, m := range nums {
			if len(out) == limit {
				return false
			}
			e := m.String()
			out = append(out, Suggestion{ID: int(p.id), Name: p.display, E164: e, Pretty: Pretty(e)})
		}
		return len(out) < limit
	}
	if prefix, ok := numberPrefix(q, country); ok {
		n.byNumberPrefix(prefix, func(i int32, num number) bool { return add(i, num) })
		return out
	}
	all := words(fold(q))
	var qw []string
	for _, w := range all {
		if len(w) >= minWord {
			qw = append(qw, w)
		}
	}
	if len(qw) == 0 {
		return nil
	}
	short := len(qw) < len(all) // words too short for the keys, checked on the text
	// Each query word's range of keys; the narrowest one is walked, and a
	// partner in it must be in every other word's range too.
	type span struct{ from, to int }
	spans := make([]span, len(qw))
	for i, w := range qw {
		lo, hi := keyRange(w[:min(len(w), 8)])
		spans[i].from = sort.Search(len(n.keys), func(j int) bool { return n.keys[j] >= lo })
		spans[i].to = sort.Search(len(n.keys), func(j int) bool { return n.keys[j] > hi })
	}
	base := 0
	for i, sp := range spans {
		if sp.to-sp.from < spans[base].to-spans[base].from {
			base = i
		}
	}
	var others []map[int32]bool
	long := short
	for i, sp := range spans {
		long = long || len(qw[i]) > 8
		if i == base {
			continue
		}
		if sp.to-sp.from > maxSpan {
			long = true // too wide to collect: checked on the text instead
			continue
		}
		set := make(map[int32]bool, sp.to-sp.from)
		for j := sp.from; j < sp.to; j++ {
			set[n.owner[j]] = true
		}
		others = append(others, set)
	}
	checked := 0
walk:
	for i := spans[base].from; i < spans[base].to; i++ {
		o := n.owner[i]
		if seen[o] {
			continue
		}
		for _, set := range others {
			if !set[o] {
				continue walk
			}
		}
		if long {
			// A key holds 8 bytes of one word: check the whole query.
			if checked++; checked > maxSpan {
				break
			}
			if !matchesAll(words(fold(n.ps[o].display)), all) {
				continue
			}
		}
		if !add(o, 0) {
			break
		}
	}
	return out
}

// maxSpan bounds the keys one query word may collect, and the texts a
// query checks.
const maxSpan = 50_000

// keyRange is the range of keys whose word starts with w (at most 8 bytes).
func keyRange(w string) (lo, hi uint64) {
	lo = keyOf(w)
	if len(w) == 8 {
		return lo, lo
	}
	return lo, lo | (1<<(8*(8-len(w))) - 1)
}

// matchesAll reports whether every query word starts some word of have.
func matchesAll(have, want []string) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.HasPrefix(h, w) }) {
			return false
		}
	}
	return true
}

// numberPrefix reads digits as typed into the start of an E.164 number:
// "0475 12" (with the country's trunk 0), "0032475", "+32 475". At least 3
// digits; anything but digits, spaces, dots, dashes, slashes and a leading
// + is a name.
func numberPrefix(q, country string) (string, bool) {
	q = strings.TrimSpace(q)
	plus := strings.HasPrefix(q, "+")
	digits := make([]byte, 0, len(q))
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')' || c == '+' && i == 0:
		default:
			return "", false
		}
	}
	d := string(digits)
	switch {
	case len(d) < 3:
		return "", false
	case plus:
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case strings.HasPrefix(d, "0"):
		cc := phonenumbers.GetCountryCodeForRegion(country)
		if cc == 0 {
			return "", false
		}
		d = strconv.Itoa(cc) + d[1:]
	default:
		return "", false // no trunk prefix and no +: an extension, or a name
	}
	return d, d != "" && d[0] != '0'
}

// byNumberPrefix visits the numbers whose digits start with prefix, in
// ascending order per length, until visit returns false.
func (n *names) byNumberPrefix(prefix string, visit func(int32, number) bool) {
	var p number
	for i := 0; i < len(prefix); i++ {
		p = p*10 + number(prefix[i]-'0')
	}
	scale := number(1)
	for l := len(prefix); l <= 15; l++ {
		lo, hi := p*scale, (p+1)*scale
		i := sort.Search(len(n.nums), func(i int) bool { return n.nums[i] >= lo })
		for ; i < len(n.nums) && n.nums[i] < hi; i++ {
			if !visit(n.numOf[i], n.nums[i]) {
				return
			}
		}
		scale *= 10
	}
}

// nameSearch keeps the built search and rebuilds it, off the caller's
// path, when the index it came from is no longer the published one.
type nameSearch struct {
	mu       sync.Mutex
	cur      *names
	building bool
	last     time.Time
}

func (d *Directory) suggestEvery() time.Duration {
	switch e := d.cfg.SuggestEvery; {
	case e < 0:
		return 0
	case e == 0:
		return 30 * time.Second
	default:
		return e
	}
}

// Suggest returns up to limit partners and numbers for what the user
// typed. The first call builds the search; later ones use the last one
// built and start a rebuild in the background when the index has changed,
// at most every SuggestEvery.
func (d *Directory) Suggest(ctx context.Context, q string, limit int) []Suggestion {
	ix := d.idx.Load()
	if ix == nil {
		return nil
	}
	ns := &d.names
	ns.mu.Lock()
	cur := ns.cur
	if cur == nil {
		ns.mu.Unlock()
		cur = buildNames(ix)
		ns.mu.Lock()
		if ns.cur == nil {
			ns.cur, ns.last = cur, time.Now()
		}
	} else if cur.from != ix && !ns.building && time.Since(ns.last) >= d.suggestEvery() {
		ns.building = true
		go func() {
			built := buildNames(d.idx.Load())
			ns.mu.Lock()
			ns.cur, ns.last, ns.building = built, time.Now(), false
			ns.mu.Unlock()
		}()
	}
	ns.mu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	return cur.suggest(q, d.cfg.Normalizer.Country, limit)
}
