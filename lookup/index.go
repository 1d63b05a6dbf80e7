// The index: E.164 numbers to partners, and how a search_read record
// becomes an indexed partner. A published index is never changed: writers
// change a clone and swap it in, so a lookup reads it without a lock.

package lookup

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/odoo-agi/odoo-agi/odoo"
)

// partnerFields are read when they exist (fields_get tells).
var partnerFields = []string{"id", "name", "display_name", "is_company", "parent_id", "commercial_partner_id",
	"commercial_company_name", "phone", "mobile", "country_id", "user_id", "category_id", "company_id", "active", "write_date"}

// partner is the in-memory record, kept small: the index holds up to a
// million numbers. Ids are int32 because Odoo's are PostgreSQL serials.
type partner struct {
	id, commercialID, userID, countryID int32
	companyID                           int32 // res.company (company_id); 0: shared by all
	numberedWith                        int32 // the company's country its numbers were read with; 0: none
	isCompany                           bool
	writeDate                           int64  // Unix seconds (Odoo stores UTC)
	sig                                 uint64 // fingerprint of the record as read
	name, display, company              string // display and company share name's bytes when equal
	tags                                *tagSet
	numbers                             [2]number // phone and mobile; 0 when unused
}

// number is an E.164 number as an integer: its digits after the "+". E.164
// allows 15 digits and a country code never starts with 0, so the integer
// gives the number back. A map keyed by it holds no string per number.
type number uint64

// numberOf reads "+3225551234"; ok is false for anything else.
func numberOf(e164 string) (number, bool) {
	if len(e164) < 2 || len(e164) > 16 || e164[0] != '+' || e164[1] == '0' {
		return 0, false
	}
	var n number
	for i := 1; i < len(e164); i++ {
		c := e164[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + number(c-'0')
	}
	return n, true
}

func (n number) String() string { return "+" + strconv.FormatUint(uint64(n), 10) }

// tagSet is one combination of tags, shared by every partner that has it.
type tagSet struct {
	ids   []int32
	names atomic.Pointer[[]string] // swapped, never mutated, when a tag is renamed
}

func (p *partner) hasNumbers() bool { return p.numbers[0] != 0 || p.numbers[1] != 0 }

func (p *partner) addNumber(n number) {
	if p.numbers[0] == 0 {
		p.numbers[0] = n
	} else {
		p.numbers[1] = n
	}
}

func (p *partner) numberList() []number {
	switch {
	case p.numbers[1] != 0:
		return p.numbers[:]
	case p.numbers[0] != 0:
		return p.numbers[:1]
	}
	return nil
}

func (p *partner) tagNames() []string {
	if p.tags == nil {
		return nil
	}
	return *p.tags.names.Load()
}

// signature fingerprints a record: two reads with the same write_date (one
// second of resolution) may still differ.
func signature(r map[string]any) uint64 {
	h := fnv.New64a()
	var buf []byte
	for _, f := range partnerFields {
		buf = appendValue(buf[:0], r[f])
		buf = append(buf, 0)
		h.Write(buf)
	}
	return h.Sum64()
}

// appendValue writes an Odoo value for signature: the types search_read
// returns, in a form that tells them apart.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		return strconv.AppendBool(b, v)
	case string:
		return append(append(b, 's'), v...)
	case int:
		return strconv.AppendInt(append(b, 'i'), int64(v), 10)
	case int64:
		return strconv.AppendInt(append(b, 'i'), v, 10)
	case float64:
		return strconv.AppendFloat(append(b, 'f'), v, 'g', -1, 64)
	case []any:
		b = append(b, '[')
		for _, e := range v {
			b = append(appendValue(b, e), ',')
		}
		return append(b, ']')
	}
	return fmt.Append(b, v)
}

// index maps E.164 numbers to partners. Once published it is read-only,
// partners included: a change is made on a clone, which is then swapped in.
// Most numbers belong to one partner; the few that several share are also
// in shared, with all of them, so that numbers holds one pointer a number.
type index struct {
	numbers   map[number]*partner   // a number's partner; for a shared one, any of them
	shared    map[number][]*partner // numbers that two or more partners have
	partners  map[int32]*partner
	tagSets   map[string]*tagSet // interned by their ids
	limit     int                // numbers held at most ([odoo] index_size)
	complete  bool               // a full sync finished and every number fit
	truncated bool               // numbers were left out at the limit
	country   string             // the [pbx] country numbers were read with
}

func newIndex(limit int, country string) *index {
	return &index{numbers: map[number]*partner{}, shared: map[number][]*partner{}, partners: map[int32]*partner{},
		tagSets: map[string]*tagSet{}, limit: limit, country: country}
}

// clone copies the maps, not the partners: those are never changed.
func (ix *index) clone() *index {
	c := *ix
	c.numbers, c.shared, c.partners, c.tagSets = maps.Clone(ix.numbers), maps.Clone(ix.shared), maps.Clone(ix.partners), maps.Clone(ix.tagSets)
	return &c
}

// get returns the partners that have n.
func (ix *index) get(n number) []*partner {
	p, ok := ix.numbers[n]
	if !ok {
		return nil
	}
	if ps, ok := ix.shared[n]; ok {
		return ps
	}
	return []*partner{p}
}

// add indexes p under n, in an unpublished clone. A slice in shared is
// replaced, never changed: a published index may hold it.
func (ix *index) add(n number, p *partner) {
	q, ok := ix.numbers[n]
	if !ok || q.id == p.id {
		if ps, sh := ix.shared[n]; sh {
			ix.shared[n] = append(removePartner(ps, p.id), p)
		}
		ix.numbers[n] = p
		return
	}
	ps, sh := ix.shared[n]
	if !sh {
		ps = []*partner{q}
	}
	ix.shared[n] = append(removePartner(ps, p.id), p)
}

// drop takes the partner with id out of n's partners, in an unpublished clone.
func (ix *index) drop(n number, id int32) {
	if ps, sh := ix.shared[n]; sh {
		ps = removePartner(ps, id)
		if len(ps) == 1 {
			delete(ix.shared, n)
		} else {
			ix.shared[n] = ps
		}
		ix.numbers[n] = ps[0]
		return
	}
	if q, ok := ix.numbers[n]; ok && q.id == id {
		delete(ix.numbers, n)
	}
}

// prefer keeps, of several partners sharing a number, those of company,
// else the shared ones (no company), else all: the called line's company
// decides before the other rules.
func prefer(ps []*partner, company int32) []*partner {
	if company == 0 || len(ps) < 2 {
		return ps
	}
	for _, want := range []int32{company, 0} {
		var kept []*partner
		for _, p := range ps {
			if p.companyID == want {
				kept = append(kept, p)
			}
		}
		if len(kept) > 0 {
			return kept
		}
	}
	return ps
}

// choose picks one of several partners sharing a number, deterministically:
// a company and its own contact give the contact; several contacts of one
// company give the company; unrelated partners give the latest written.
func choose(ix *index, ps []*partner) *partner {
	if len(ps) == 1 {
		return ps[0]
	}
	commercial := ps[0].commercialID
	same := commercial != 0
	var contacts []*partner
	for _, p := range ps {
		if p.commercialID != commercial {
			same = false
		}
		if p.id != p.commercialID {
			contacts = append(contacts, p)
		}
	}
	if same {
		if len(contacts) == 1 {
			return contacts[0]
		}
		if c, ok := ix.partners[commercial]; ok {
			return c
		}
		for _, p := range ps {
			if p.id == commercial {
				return p
			}
		}
	}
	best := ps[0]
	for _, p := range ps[1:] {
		if p.writeDate > best.writeDate || (p.writeDate == best.writeDate && p.id > best.id) {
			best = p
		}
	}
	return best
}

const odooTime = "2006-01-02 15:04:05"

// apply upserts one record read from Odoo into ix, an unpublished clone.
// It reports whether anything changed, and the record's write_date.
func (d *Directory) apply(ix *index, m meta, r map[string]any) (bool, int64) {
	id, _ := odoo.Int(r["id"])
	wd := odooUnix(r["write_date"])
	old, had := ix.partners[int32(id)]
	if had && old.writeDate == wd && old.sig == signature(r) {
		return false, wd // already applied: the look-back window read it again
	}
	if had {
		ix.remove(old)
	}
	p := ix.decode(m, r, signature(r))
	d.insert(ix, p, r, d.numbersOf(ix, m, r, p))
	for _, n := range p.numberList() {
		d.neg.Remove(n.String())
		d.found.Remove(n.String())
	}
	return true, wd
}

// remove takes p and its numbers out of ix, an unpublished clone. p itself
// is not changed: an index still published may hold it.
func (ix *index) remove(p *partner) {
	for _, n := range p.numberList() {
		ix.drop(n, p.id)
	}
	delete(ix.partners, p.id)
}

// insert indexes p, which is new, under numbers; an archived partner, or
// one without numbers, is remembered without any so that the same
// write_date is not applied twice. Past the index's limit, new numbers are
// left out and the index is marked incomplete: their lookups ask Odoo.
func (d *Directory) insert(ix *index, p *partner, r map[string]any, numbers []number) {
	ix.partners[p.id] = p
	if !active(r) {
		return
	}
	for _, n := range numbers {
		if _, held := ix.numbers[n]; !held && len(ix.numbers) >= ix.limit {
			ix.complete, ix.truncated = false, true
			continue
		}
		p.addNumber(n)
		ix.add(n, p)
	}
}

// active reports whether a record is not archived (no active field: it is).
func active(r map[string]any) bool { return odoo.Bool(r["active"]) || r["active"] == nil }

// numbersOf normalizes phone and mobile with the partner's country, then
// its company's, then the PBX's, and notes the company's country in p.
func (d *Directory) numbersOf(ix *index, m meta, r map[string]any, p *partner) []number {
	own, company := regionsOf(ix, m, p)
	return d.normalized(r, p.id, own, company)
}

// regionsOf returns the regions p's numbers are read with before the
// PBX's: its country's and its company's ("" when unknown). It sets
// p.numberedWith, which is what a later sync compares to reuse them.
func regionsOf(ix *index, m meta, p *partner) (own, company string) {
	p.numberedWith = 0
	if cp, ok := ix.partners[p.commercialID]; ok && cp != p {
		p.numberedWith = cp.countryID
	}
	return m.countries[int(p.countryID)], m.countries[int(p.numberedWith)]
}

// normalized returns r's phone and mobile, read with the regions.
func (d *Directory) normalized(r map[string]any, id int32, regions ...string) []number {
	var out []number
	for _, f := range [...]string{"phone", "mobile"} {
		raw := odoo.String(r[f])
		if raw == "" {
			continue
		}
		e, ok := d.cfg.Normalizer.Stored(raw, regions...)
		n, isNumber := numberOf(e)
		if !ok || !isNumber {
			d.log.Debug("lookup: skipping a stored number that does not parse", "partner", id, "field", f, "number", raw)
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// meta holds the small tables records refer to; loadMeta replaces the
// maps, never mutates them.
type meta struct {
	countries map[int]string
	tags      map[int]string
}

// decode turns a search_read record, whose signature is sig, into a
// partner. Strings equal to one already held (display to name, company to its partner's name) are shared.
func (ix *index) decode(m meta, r map[string]any, sig uint64) *partner {
	p := &partner{}
	p.id = idOf(r["id"])
	p.name = odoo.String(r["name"])
	p.display = odoo.String(r["display_name"])
	if p.display == "" || p.display == p.name {
		p.display = p.name
	}
	p.isCompany = odoo.Bool(r["is_company"])
	c, _ := odoo.Many2one(r["commercial_partner_id"])
	p.commercialID = int32(c)
	if p.commercialID == 0 {
		if parent, _ := odoo.Many2one(r["parent_id"]); parent != 0 && !p.isCompany {
			p.commercialID = int32(parent)
		} else {
			p.commercialID = p.id
		}
	}
	p.company = odoo.String(r["commercial_company_name"])
	if p.company == "" && p.commercialID != p.id {
		_, p.company = odoo.Many2one(r["parent_id"])
	}
	switch cp := ix.partners[p.commercialID]; {
	case p.company == p.name:
		p.company = p.name
	case cp != nil && cp.name == p.company:
		p.company = cp.name
	}
	u, _ := odoo.Many2one(r["user_id"])
	p.userID = int32(u)
	oc, _ := odoo.Many2one(r["company_id"])
	p.companyID = int32(oc)
	co, _ := odoo.Many2one(r["country_id"])
	p.countryID = int32(co)
	p.writeDate = odooUnix(r["write_date"])
	p.sig = sig
	p.tags = ix.tagSet(m.tags, odoo.IDs(r["category_id"]))
	return p
}

// tagSet interns a combination of tag ids.
func (ix *index) tagSet(names map[int]string, ids []int) *tagSet {
	if len(ids) == 0 {
		return nil
	}
	var key strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&key, "%d,", id)
	}
	if ts, ok := ix.tagSets[key.String()]; ok {
		return ts
	}
	ts := &tagSet{ids: make([]int32, len(ids))}
	for i, id := range ids {
		ts.ids[i] = int32(id)
	}
	tn := tagNames(names, ts.ids)
	ts.names.Store(&tn)
	ix.tagSets[key.String()] = ts
	return ts
}

// odooUnix parses a write_date ("2006-01-02 15:04:05", UTC) to Unix seconds.
func odooUnix(v any) int64 {
	t, err := time.Parse(odooTime, odoo.String(v))
	if err != nil {
		return 0
	}
	return t.Unix()
}

func tagNames(tags map[int]string, ids []int32) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if n := tags[int(id)]; n != "" {
			out = append(out, n)
		}
	}
	return out
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func removePartner(ps []*partner, id int32) []*partner {
	out := make([]*partner, 0, len(ps))
	for _, p := range ps {
		if p.id != id {
			out = append(out, p)
		}
	}
	return out
}

func idOf(v any) int32 {
	id, _ := odoo.Int(v)
	return int32(id)
}
