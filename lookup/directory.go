package lookup

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Status is the outcome of a lookup, as ODOO_LOOKUP shows it.
type Status int

// Lookup outcomes.
const (
	Found       Status = iota + 1 // a partner has this number
	NotFound                      // a phone number no partner has
	Skipped                       // anonymous, an internal extension, or not a number
	Unavailable                   // Odoo unreachable and nothing ever loaded
)

func (s Status) String() string {
	switch s {
	case Found:
		return "FOUND"
	case NotFound:
		return "NOTFOUND"
	case Skipped:
		return "SKIPPED"
	case Unavailable:
		return "UNAVAILABLE"
	}
	return "UNKNOWN"
}

// Partner is what a lookup returns about a contact.
type Partner struct {
	ID            int
	Name          string   // the contact's own name
	DisplayName   string   // Odoo's display_name: "Company, Contact"
	Company       string   // commercial company name; "" for a person on their own
	SalespersonID int      // res.users id of user_id, 0 if none
	Tags          []string // category names; shared, do not modify
}

// Result is the answer for one caller ID.
type Result struct {
	Status  Status
	E164    string // "" when the caller ID is not a phone number
	Partner Partner
	Matches int   // partners that have this number
	Reason  error // why it was skipped or unavailable
}

// Config tunes a Directory.
type Config struct {
	Normalizer      Normalizer
	IndexSize       int           // numbers held; 0 means 1,000,000
	RefreshInterval time.Duration // incremental sync; 0 means 30s
	ReconcileEvery  int           // refreshes between id reconciles; 0 means 20
	NegativeTTL     time.Duration // how long a live miss is remembered; 0 means 10m
	CacheFile       string        // snapshot path; "" disables it
	PageSize        int           // search_read page; 0 means 2000
	UserLogins      []string      // PBX users' logins to resolve to res.users ids
	Logger          *slog.Logger
}

// partnerFields are read when they exist (fields_get tells).
var partnerFields = []string{"id", "name", "display_name", "is_company", "parent_id", "commercial_partner_id",
	"commercial_company_name", "phone", "mobile", "country_id", "user_id", "category_id", "active", "write_date"}

// partner is the in-memory record, kept small: the index holds up to a
// million numbers. Ids are int32 because Odoo's are PostgreSQL serials.
type partner struct {
	id, commercialID, userID, countryID int32
	isCompany                           bool
	writeDate                           int64  // Unix seconds (Odoo stores UTC)
	sig                                 uint64 // fingerprint of the record as read
	name, display, company              string // display and company share name's bytes when equal
	tags                                *tagSet
	numbers                             [2]string // phone and mobile in E.164; "" when unused
}

// tagSet is one combination of tags, shared by every partner that has it.
type tagSet struct {
	ids   []int32
	names []string // replaced, never mutated, when a tag is renamed
}

func (p *partner) hasNumbers() bool { return p.numbers[0] != "" || p.numbers[1] != "" }

func (p *partner) addNumber(n string) {
	if p.numbers[0] == "" {
		p.numbers[0] = n
	} else {
		p.numbers[1] = n
	}
}

func (p *partner) dropNumber(n string) {
	if p.numbers[0] == n {
		p.numbers[0], p.numbers[1] = p.numbers[1], ""
	} else if p.numbers[1] == n {
		p.numbers[1] = ""
	}
}

func (p *partner) numberList() []string {
	switch {
	case p.numbers[1] != "":
		return p.numbers[:]
	case p.numbers[0] != "":
		return p.numbers[:1]
	}
	return nil
}

func (p *partner) tagNames() []string {
	if p.tags == nil {
		return nil
	}
	return p.tags.names
}

// signature fingerprints a record: two reads with the same write_date (one
// second of resolution) may still differ.
func signature(r map[string]any) uint64 {
	h := fnv.New64a()
	for _, f := range partnerFields {
		fmt.Fprint(h, r[f], "\x00")
	}
	return h.Sum64()
}

type normResult struct {
	e164 string
	err  error
}

// Directory answers lookups from memory and keeps itself in step with Odoo.
type Directory struct {
	cfg  Config
	odoo *OdooClient
	log  *slog.Logger

	mu        sync.Mutex
	idx       *index
	loaded    bool  // a sync or a snapshot ever filled the index
	lastWrite int64 // newest write_date seen, Unix seconds
	countries map[int]string
	tags      map[int]string
	users     map[string]int // login → res.users id
	fields    []string
	refreshes int
	lastSync  time.Time
	lastErr   error
	pending   map[string]chan struct{} // live searches in flight

	norm *lru.Cache[string, normResult]
	neg  *expirable.LRU[string, struct{}]

	counts [Unavailable + 1]atomic.Int64 // lookups by Status
}

// LookupCounts reports how many lookups ended in each status since start.
func (d *Directory) LookupCounts() map[Status]int64 {
	out := make(map[Status]int64, len(d.counts))
	for st := Found; st <= Unavailable; st++ {
		out[st] = d.counts[st].Load()
	}
	return out
}

// NewDirectory returns an empty Directory. Start it with Run, or fill it
// with Sync and LoadSnapshot.
func NewDirectory(cfg Config, odoo *OdooClient) *Directory {
	if cfg.IndexSize <= 0 {
		cfg.IndexSize = 1_000_000
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 30 * time.Second
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = 20
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 10 * time.Minute
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 2000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Directory{
		cfg:     cfg,
		odoo:    odoo,
		log:     cfg.Logger,
		idx:     newIndex(cfg.IndexSize),
		pending: map[string]chan struct{}{},
		users:   map[string]int{},
	}
	d.norm, _ = lru.New[string, normResult](100_000)
	d.neg = expirable.NewLRU[string, struct{}](100_000, nil, cfg.NegativeTTL)
	return d
}

// index maps E.164 numbers to partners, bounded by an LRU. A full sync
// builds a new one and swaps it in whole.
type index struct {
	numbers  *simplelru.LRU[string, []*partner]
	partners map[int32]*partner
	tagSets  map[string]*tagSet // interned by their ids
	complete bool               // a full sync finished and nothing was evicted since
}

func newIndex(size int) *index {
	ix := &index{partners: map[int32]*partner{}, tagSets: map[string]*tagSet{}}
	ix.numbers, _ = simplelru.NewLRU[string, []*partner](size, ix.onEvict)
	return ix
}

// onEvict: an evicted number makes the index incomplete, and a partner
// with no number left indexed is forgotten.
func (ix *index) onEvict(number string, ps []*partner) {
	ix.complete = false
	for _, p := range ps {
		p.dropNumber(number)
		if !p.hasNumbers() && ix.partners[p.id] == p {
			delete(ix.partners, p.id)
		}
	}
}

// Normalizer returns the directory's number rules.
func (d *Directory) Normalizer() Normalizer { return d.cfg.Normalizer }

// Lookup finds the partner for a raw caller ID. It answers from memory; a
// miss on an incomplete index asks Odoo in the background and waits for
// the answer only until ctx ends. It never blocks past ctx.
func (d *Directory) Lookup(ctx context.Context, raw string) Result {
	r := d.lookup(ctx, raw)
	if int(r.Status) < len(d.counts) {
		d.counts[r.Status].Add(1)
	}
	return r
}

func (d *Directory) lookup(ctx context.Context, raw string) Result {
	nr, ok := d.norm.Get(raw)
	if !ok {
		e, err := d.cfg.Normalizer.Caller(raw)
		nr = normResult{e, err}
		d.norm.Add(raw, nr)
	}
	if nr.err != nil {
		return Result{Status: Skipped, Reason: nr.err}
	}
	if r, hit := d.fromIndex(nr.e164); hit {
		return r
	}
	d.mu.Lock()
	complete, loaded := d.idx.complete, d.loaded
	d.mu.Unlock()
	if complete {
		return Result{Status: NotFound, E164: nr.e164}
	}
	if _, neg := d.neg.Get(nr.e164); neg {
		return Result{Status: NotFound, E164: nr.e164}
	}
	done := d.searchLive(nr.e164)
	select {
	case <-done:
		if r, hit := d.fromIndex(nr.e164); hit {
			return r
		}
		if _, neg := d.neg.Get(nr.e164); neg || loaded {
			return Result{Status: NotFound, E164: nr.e164}
		}
	case <-ctx.Done():
		if loaded {
			return Result{Status: NotFound, E164: nr.e164}
		}
	}
	d.mu.Lock()
	loaded, lastErr := d.loaded, d.lastErr
	d.mu.Unlock()
	if loaded {
		return Result{Status: NotFound, E164: nr.e164}
	}
	if lastErr == nil {
		lastErr = errors.New("odoo: no answer yet")
	}
	return Result{Status: Unavailable, E164: nr.e164, Reason: lastErr}
}

func (d *Directory) fromIndex(e164 string) (Result, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ps, ok := d.idx.numbers.Get(e164)
	if !ok || len(ps) == 0 {
		return Result{}, false
	}
	p := d.choose(ps)
	return Result{
		Status:  Found,
		E164:    e164,
		Matches: len(ps),
		Partner: Partner{ID: int(p.id), Name: p.name, DisplayName: p.display, Company: p.company,
			SalespersonID: int(p.userID), Tags: p.tagNames()},
	}, true
}

// choose picks one of several partners sharing a number, deterministically:
// a company and its own contact give the contact; several contacts of one
// company give the company; unrelated partners give the latest written.
func (d *Directory) choose(ps []*partner) *partner {
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
		if c, ok := d.idx.partners[commercial]; ok {
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

// State describes the index for /healthz and logs.
type State struct {
	Numbers, Partners int
	Complete, Loaded  bool
	LastSync          time.Time
	LastError         string
}

// State reports the index state.
func (d *Directory) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := State{Numbers: d.idx.numbers.Len(), Partners: len(d.idx.partners), Complete: d.idx.complete, Loaded: d.loaded, LastSync: d.lastSync}
	if d.lastErr != nil {
		s.LastError = d.lastErr.Error()
	}
	return s
}

// SetUserLogins replaces the PBX users' logins; the next refresh resolves them.
func (d *Directory) SetUserLogins(logins []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cfg.UserLogins = append([]string(nil), logins...)
}

// UserID returns the res.users id of a PBX user's login, once synced.
func (d *Directory) UserID(login string) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.users[login]
	return id, ok
}

// Run loads the snapshot, syncs fully, then refreshes every
// RefreshInterval until ctx ends. Failures are logged and retried.
func (d *Directory) Run(ctx context.Context) {
	if d.cfg.CacheFile != "" {
		if n, err := d.LoadSnapshot(d.cfg.CacheFile); err != nil {
			d.log.Warn("lookup: ignoring the index snapshot", "file", d.cfg.CacheFile, "err", err)
		} else if n > 0 {
			d.log.Info("lookup: loaded the index snapshot; names resolve while Odoo syncs", "file", d.cfg.CacheFile, "partners", n)
		}
	}
	d.mu.Lock()
	synced := !d.lastSync.IsZero()
	d.mu.Unlock()
	backoff := time.Second
	for !synced {
		err := d.Sync(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		d.log.Error("lookup: full sync failed; retrying", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Minute)
	}
	t := time.NewTicker(d.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.Refresh(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("lookup: refresh failed; serving the last index", "err", err)
		}
	}
}

// Sync reads every partner into a new index and swaps it in; lookups
// use the old one until then.
func (d *Directory) Sync(ctx context.Context) error {
	start := time.Now()
	if err := d.loadMeta(ctx); err != nil {
		return d.failed(err)
	}
	d.mu.Lock()
	m := d.meta()
	d.mu.Unlock()
	ix := newIndex(d.cfg.IndexSize)
	ix.complete = true
	lastID, maxWrite := int32(0), int64(0)
	for {
		recs, err := d.readPartners(ctx, []any{[]any{"id", ">", lastID}}, "id", 0)
		if err != nil {
			return d.failed(err)
		}
		for _, r := range recs {
			p := ix.decode(m, r)
			lastID = p.id
			maxWrite = max(maxWrite, p.writeDate)
			d.insert(ix, m, p, r)
		}
		if len(recs) < d.cfg.PageSize {
			break
		}
	}
	d.mu.Lock()
	d.idx = ix
	d.loaded, d.lastWrite, d.lastSync, d.lastErr = true, maxWrite, time.Now(), nil
	n, parts, complete := ix.numbers.Len(), len(ix.partners), ix.complete
	d.mu.Unlock()
	d.neg.Purge()
	d.log.Info("lookup: full sync done", "partners", parts, "numbers", n, "complete", complete, "took", time.Since(start).Round(time.Millisecond))
	d.saveSnapshot()
	return nil
}

// Refresh applies partners written since the last sync. write_date has
// one-second resolution and is stamped when a transaction starts, so the
// query looks back a little and skips records already applied.
func (d *Directory) Refresh(ctx context.Context) error {
	d.mu.Lock()
	since, loaded := d.lastWrite, d.loaded
	d.refreshes++
	reconcile := d.refreshes%d.cfg.ReconcileEvery == 0
	d.mu.Unlock()
	if !loaded || since == 0 {
		return d.Sync(ctx)
	}
	if err := d.loadMeta(ctx); err != nil {
		return d.failed(err)
	}
	from := time.Unix(since-10, 0).UTC().Format(odooTime)
	changed := 0
	for offset := 0; ; offset += d.cfg.PageSize {
		recs, err := d.readPartners(ctx, []any{[]any{"write_date", ">=", from}}, "write_date, id", offset)
		if err != nil {
			return d.failed(err)
		}
		d.mu.Lock()
		m := d.meta()
		for _, r := range recs {
			if d.apply(m, r) {
				changed++
			}
		}
		d.mu.Unlock()
		if len(recs) < d.cfg.PageSize {
			break
		}
	}
	if reconcile {
		n, err := d.reconcile(ctx)
		if err != nil {
			return d.failed(err)
		}
		changed += n
	}
	d.mu.Lock()
	d.lastSync, d.lastErr = time.Now(), nil
	d.mu.Unlock()
	if changed > 0 {
		d.log.Debug("lookup: refresh applied changes", "partners", changed)
		d.saveSnapshot()
	}
	return nil
}

const odooTime = "2006-01-02 15:04:05"

// apply upserts one record read from Odoo; it reports whether anything
// changed. It runs under d.mu.
func (d *Directory) apply(m meta, r map[string]any) bool {
	ix := d.idx
	id, _ := asInt(r["id"])
	wd := odooUnix(r["write_date"])
	sig := signature(r)
	old, had := ix.partners[int32(id)]
	if had && old.writeDate == wd && old.sig == sig {
		return false // already applied: the look-back window read it again
	}
	d.lastWrite = max(d.lastWrite, wd)
	if had {
		ix.remove(old)
	}
	p := ix.decode(m, r)
	d.insert(ix, m, p, r)
	for _, n := range p.numberList() {
		d.neg.Remove(n)
	}
	return true
}

// remove takes p and its numbers out of the index.
func (ix *index) remove(p *partner) {
	for _, n := range p.numberList() {
		if ps, ok := ix.numbers.Peek(n); ok {
			ps = removePartner(ps, p.id)
			if len(ps) == 0 {
				ix.numbers.Remove(n)
			} else {
				ix.numbers.Add(n, ps)
			}
		}
	}
	p.numbers = [2]string{}
	delete(ix.partners, p.id)
}

// reconcile drops partners that were deleted in Odoo.
func (d *Directory) reconcile(ctx context.Context) (int, error) {
	res, err := d.odoo.Execute(ctx, "res.partner", "search", []any{[]any{}}, map[string]any{"context": map[string]any{"active_test": false}})
	if err != nil {
		return 0, err
	}
	alive := map[int32]bool{}
	for _, id := range asIDs(res) {
		alive[int32(id)] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for id, p := range d.idx.partners {
		if !alive[id] {
			d.idx.remove(p)
			n++
		}
	}
	return n, nil
}

// insert indexes p under each of its numbers; an archived partner, or one
// without numbers, is remembered without any so that the same write_date
// is not applied twice. It runs under d.mu or on an index not yet shared.
func (d *Directory) insert(ix *index, m meta, p *partner, r map[string]any) {
	ix.partners[p.id] = p
	if !(asBool(r["active"]) || r["active"] == nil) {
		return
	}
	for _, n := range d.numbersOf(ix, m, r, p) {
		ps, _ := ix.numbers.Peek(n)
		ps = append(removePartner(ps, p.id), p)
		p.addNumber(n)
		ix.numbers.Add(n, ps)
	}
}

// numbersOf normalizes phone and mobile with the partner's country, then
// its company's, then the PBX's.
func (d *Directory) numbersOf(ix *index, m meta, r map[string]any, p *partner) []string {
	var regions []string
	if c := m.countries[int(p.countryID)]; c != "" {
		regions = append(regions, c)
	}
	if cp, ok := ix.partners[p.commercialID]; ok && cp != p {
		if c := m.countries[int(cp.countryID)]; c != "" {
			regions = append(regions, c)
		}
	}
	var out []string
	for _, f := range []string{"phone", "mobile"} {
		raw := asString(r[f])
		if raw == "" {
			continue
		}
		e, ok := d.cfg.Normalizer.Stored(raw, regions...)
		if !ok {
			d.log.Debug("lookup: skipping a stored number that does not parse", "partner", p.id, "field", f, "number", raw)
			continue
		}
		if !containsString(out, e) {
			out = append(out, e)
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

func (d *Directory) meta() meta { return meta{d.countries, d.tags} }

// decode turns a search_read record into a partner. Strings equal to one
// already held (display to name, company to its partner's name) are shared.
func (ix *index) decode(m meta, r map[string]any) *partner {
	p := &partner{}
	p.id = asID(r["id"])
	p.name = asString(r["name"])
	p.display = asString(r["display_name"])
	if p.display == "" || p.display == p.name {
		p.display = p.name
	}
	p.isCompany = asBool(r["is_company"])
	c, _ := asMany2one(r["commercial_partner_id"])
	p.commercialID = int32(c)
	if p.commercialID == 0 {
		if parent, _ := asMany2one(r["parent_id"]); parent != 0 && !p.isCompany {
			p.commercialID = int32(parent)
		} else {
			p.commercialID = p.id
		}
	}
	p.company = asString(r["commercial_company_name"])
	if p.company == "" && p.commercialID != p.id {
		_, p.company = asMany2one(r["parent_id"])
	}
	switch cp := ix.partners[p.commercialID]; {
	case p.company == p.name:
		p.company = p.name
	case cp != nil && cp.name == p.company:
		p.company = cp.name
	}
	u, _ := asMany2one(r["user_id"])
	p.userID = int32(u)
	co, _ := asMany2one(r["country_id"])
	p.countryID = int32(co)
	p.writeDate = odooUnix(r["write_date"])
	p.sig = signature(r)
	p.tags = ix.tagSet(m.tags, asIDs(r["category_id"]))
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
	ts.names = tagNames(names, ts.ids)
	ix.tagSets[key.String()] = ts
	return ts
}

func asID(v any) int32 {
	id, _ := asInt(v)
	return int32(id)
}

// odooUnix parses a write_date ("2006-01-02 15:04:05", UTC) to Unix seconds.
func odooUnix(v any) int64 {
	t, err := time.Parse(odooTime, asString(v))
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

func (d *Directory) readPartners(ctx context.Context, domain []any, order string, offset int) ([]map[string]any, error) {
	d.mu.Lock()
	fields := d.fields
	d.mu.Unlock()
	kw := map[string]any{
		"fields":  toAny(fields),
		"order":   order,
		"limit":   d.cfg.PageSize,
		"context": map[string]any{"active_test": false},
	}
	if offset > 0 {
		kw["offset"] = offset
	}
	res, err := d.odoo.Execute(ctx, "res.partner", "search_read", []any{domain}, kw)
	if err != nil {
		return nil, err
	}
	return asRecords(res), nil
}

// loadMeta reads, once, which partner fields exist, and on every call the
// countries, tags and PBX users (small tables).
func (d *Directory) loadMeta(ctx context.Context) error {
	d.mu.Lock()
	haveFields := d.fields != nil
	d.mu.Unlock()
	if !haveFields {
		res, err := d.odoo.Execute(ctx, "res.partner", "fields_get", []any{}, map[string]any{"attributes": []any{"type"}})
		if err != nil {
			return err
		}
		exists, _ := res.(map[string]any)
		var fields []string
		for _, f := range partnerFields {
			if _, ok := exists[f]; ok || f == "id" {
				fields = append(fields, f)
			}
		}
		if _, ok := exists["phone"]; !ok {
			return &OdooError{Kind: ErrOdooServer, Msg: "odoo: res.partner has no phone field; is this the contacts model?"}
		}
		d.mu.Lock()
		d.fields = fields
		d.mu.Unlock()
	}
	countries, err := d.idNames(ctx, "res.country", "code")
	if err != nil {
		return err
	}
	tags, err := d.idNames(ctx, "res.partner.category", "name")
	if err != nil {
		return err
	}
	users := map[string]int{}
	d.mu.Lock()
	logins := d.cfg.UserLogins
	d.mu.Unlock()
	if len(logins) > 0 {
		res, err := d.odoo.Execute(ctx, "res.users", "search_read",
			[]any{[]any{[]any{"login", "in", toAny(logins)}}},
			map[string]any{"fields": []any{"login"}, "context": map[string]any{"active_test": false}})
		if err != nil {
			return err
		}
		for _, r := range asRecords(res) {
			id, _ := asInt(r["id"])
			users[asString(r["login"])] = id
		}
		for _, l := range logins {
			if _, ok := users[l]; !ok {
				d.log.Warn("lookup: [[users]] login not found in Odoo", "login", l)
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	renamed := !sameMap(d.tags, tags)
	d.countries, d.tags, d.users = countries, tags, users
	if renamed {
		for _, ts := range d.idx.tagSets {
			ts.names = tagNames(tags, ts.ids)
		}
	}
	return nil
}

func (d *Directory) idNames(ctx context.Context, model, field string) (map[int]string, error) {
	res, err := d.odoo.Execute(ctx, model, "search_read", []any{[]any{}},
		map[string]any{"fields": []any{field}, "context": map[string]any{"active_test": false}})
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, r := range asRecords(res) {
		id, _ := asInt(r["id"])
		out[id] = asString(r[field])
	}
	return out, nil
}

// searchLive asks Odoo for one number in the background, once per number
// at a time, and returns a channel closed when it is done.
func (d *Directory) searchLive(e164 string) <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.pending[e164]; ok {
		return ch
	}
	ch := make(chan struct{})
	d.pending[e164] = ch
	go func() {
		defer func() {
			d.mu.Lock()
			delete(d.pending, e164)
			d.mu.Unlock()
			close(ch)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.searchNumber(ctx, e164); err != nil {
			d.failed(err)
		}
	}()
	return ch
}

// searchNumber reads partners whose phone or mobile ends with the number's
// last digits, keeps those that normalize to e164, and caches a miss.
func (d *Directory) searchNumber(ctx context.Context, e164 string) error {
	d.mu.Lock()
	haveMeta := d.fields != nil
	d.mu.Unlock()
	if !haveMeta {
		if err := d.loadMeta(ctx); err != nil {
			return err
		}
	}
	tail := e164
	if len(tail) > 6 {
		tail = tail[len(tail)-6:]
	}
	// Stored numbers carry spaces and dots; match the last two digit groups loosely.
	pattern := "%" + tail[:len(tail)-4] + "%" + tail[len(tail)-4:len(tail)-2] + "%" + tail[len(tail)-2:]
	domain := []any{"|", []any{"phone", "ilike", pattern}}
	if d.hasField("mobile") {
		domain = append(domain, []any{"mobile", "ilike", pattern})
	} else {
		domain = domain[1:]
	}
	recs, err := d.readPartners(ctx, domain, "id", 0)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ix, m := d.idx, d.meta()
	found := false
	for _, r := range recs {
		p := ix.decode(m, r)
		if !containsString(d.numbersOf(ix, m, r, p), e164) {
			continue
		}
		if cur, ok := ix.partners[p.id]; ok {
			ix.remove(cur)
		}
		d.insert(ix, m, p, r)
		found = found || p.hasNumbers()
	}
	if !found {
		d.neg.Add(e164, struct{}{})
	}
	d.loaded = d.loaded || found
	return nil
}

func (d *Directory) hasField(f string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return containsString(d.fields, f)
}

func (d *Directory) failed(err error) error {
	d.mu.Lock()
	d.lastErr = err
	d.mu.Unlock()
	return err
}

func asRecords(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func sameMap(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
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

// TagList joins tag names for ODOO_PARTNER_TAGS.
func TagList(tags []string) string {
	t := append([]string(nil), tags...)
	sort.Strings(t)
	return strings.Join(t, ",")
}
