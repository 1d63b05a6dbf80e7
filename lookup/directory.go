package lookup

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
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
	// CompanyID is the Odoo company (res.company) the contact belongs to,
	// 0 when shared by all; CompanyName is its name. Company above is
	// something else: the contact's own commercial company.
	CompanyID   int
	CompanyName string
}

// Line is what the dialplan knows of the called line: how its PBX writes
// numbers, and the Odoo company it serves.
type Line struct {
	Normalizer *Normalizer // nil: the directory's
	// Company, when not 0, is preferred among partners sharing a number:
	// that company's, then shared ones, then the others.
	Company int
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
	// FullSyncInterval re-reads every partner, in the background, to heal
	// what a refresh missed; 0 means 6h. Each run is jittered by ±10%.
	FullSyncInterval time.Duration
	// LiveSearches caps the live searches in flight; 0 means 4. A miss
	// past the cap gives up at once instead of queueing behind Odoo.
	LiveSearches int
	// SuggestEvery is the least time between two rebuilds of the dial
	// box's suggestions after the index changed; 0 means 30s, <0 none.
	// A rebuild takes 1–2.5 s of CPU at a million partners.
	SuggestEvery time.Duration
	Logger       *slog.Logger
}

type normResult struct {
	e164 string
	err  error
}

// Odoo runs execute_kw calls; *odoo.Client satisfies it.
type Odoo interface {
	Execute(ctx context.Context, model, method string, args []any, kwargs map[string]any) (any, error)
}

// Directory answers lookups from memory and keeps itself in step with Odoo.
// Lookups read the published index without a lock; syncs build a new one
// beside it and swap it in.
type Directory struct {
	cfg  Config
	odoo Odoo
	log  *slog.Logger

	idx    atomic.Pointer[index]
	loaded atomic.Bool // a sync or a snapshot ever filled the index
	wmu    sync.Mutex  // one writer of the index at a time

	mu         sync.Mutex // the fields below, never held while a lookup waits
	lastWrite  int64      // newest write_date seen, Unix seconds
	countries  map[int]string
	tags       map[int]string
	companies  atomic.Pointer[map[int]string] // the account's Odoo companies, by id
	perCompany map[int]int                    // partners with numbers by company, of countedIx
	countedIx  *index
	users      map[string]int    // login → res.users id
	userNames  map[string]string // login → the user's name in Odoo
	fields     []string
	refreshes  int
	lastSync   time.Time
	lastErr    error
	pending    map[string]chan struct{} // live searches in flight
	synced     chan struct{}            // closed by the first full sync
	syncOnce   sync.Once

	norm  *lru.Cache[string, normResult]
	neg   *expirable.LRU[string, struct{}]   // numbers a live search did not find
	found *expirable.LRU[string, []*partner] // numbers a live search found
	slots chan struct{}                      // live searches in flight, bounded

	names nameSearch // the dial box's suggestions

	counts   [Unavailable + 1]atomic.Int64 // lookups by Status
	gaveUp   atomic.Int64                  // live searches refused at the cap
	searches atomic.Int64                  // live searches made
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
func NewDirectory(cfg Config, odoo Odoo) *Directory {
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
	if cfg.FullSyncInterval <= 0 {
		cfg.FullSyncInterval = 6 * time.Hour
	}
	if cfg.LiveSearches <= 0 {
		cfg.LiveSearches = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Directory{
		cfg:     cfg,
		odoo:    odoo,
		log:     cfg.Logger,
		pending: map[string]chan struct{}{},
		synced:  make(chan struct{}),
		users:   map[string]int{},
		slots:   make(chan struct{}, cfg.LiveSearches),
	}
	d.idx.Store(newIndex(cfg.IndexSize, cfg.Normalizer.Country))
	d.companies.Store(&map[int]string{})
	d.norm, _ = lru.New[string, normResult](100_000)
	d.neg = expirable.NewLRU[string, struct{}](100_000, nil, cfg.NegativeTTL)
	d.found = expirable.NewLRU[string, []*partner](100_000, nil, cfg.NegativeTTL)
	return d
}

// Normalizer returns the directory's number rules.
func (d *Directory) Normalizer() Normalizer { return d.cfg.Normalizer }

// Lookup finds the partner for a raw caller ID. It answers from memory; a
// miss on an incomplete index asks Odoo in the background and waits for
// the answer only until ctx ends. It never blocks past ctx.
func (d *Directory) Lookup(ctx context.Context, raw string) Result {
	return d.LookupLine(ctx, raw, Line{})
}

// LookupLine is Lookup for a call on line: its PBX's number rules, and its
// company first among partners sharing the number.
func (d *Directory) LookupLine(ctx context.Context, raw string, line Line) Result {
	r := d.lookup(ctx, raw, line)
	if int(r.Status) < len(d.counts) {
		d.counts[r.Status].Add(1)
	}
	return r
}

func (d *Directory) lookup(ctx context.Context, raw string, line Line) Result {
	var nr normResult
	if n := line.Normalizer; n != nil && *n != d.cfg.Normalizer {
		nr.e164, nr.err = n.Caller(raw) // another PBX's rules: not cached
	} else if v, ok := d.norm.Get(raw); ok {
		nr = v
	} else {
		e, err := d.cfg.Normalizer.Caller(raw)
		nr = normResult{e, err}
		d.norm.Add(raw, nr)
	}
	if nr.err != nil {
		return Result{Status: Skipped, Reason: nr.err}
	}
	company := int32(line.Company)
	if r, hit := d.fromIndex(nr.e164, company); hit {
		return r
	}
	complete, loaded := d.idx.Load().complete, d.loaded.Load()
	if complete {
		return Result{Status: NotFound, E164: nr.e164}
	}
	if _, neg := d.neg.Get(nr.e164); neg {
		return Result{Status: NotFound, E164: nr.e164}
	}
	done := d.searchLive(nr.e164)
	select {
	case <-done:
		if r, hit := d.fromIndex(nr.e164, company); hit {
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
	lastErr := d.lastErr
	d.mu.Unlock()
	if loaded = d.loaded.Load(); loaded {
		return Result{Status: NotFound, E164: nr.e164}
	}
	if lastErr == nil {
		lastErr = errors.New("odoo: no answer yet")
	}
	return Result{Status: Unavailable, E164: nr.e164, Reason: lastErr}
}

// fromIndex answers from the published index, then from what live
// searches found; it takes no lock.
func (d *Directory) fromIndex(e164 string, company int32) (Result, bool) {
	ix := d.idx.Load()
	var ps []*partner
	if n, ok := numberOf(e164); ok {
		ps = ix.get(n)
	}
	if ps == nil {
		ps, _ = d.found.Get(e164)
	}
	if len(ps) == 0 {
		return Result{}, false
	}
	p := choose(ix, prefer(ps, company))
	return Result{
		Status:  Found,
		E164:    e164,
		Matches: len(ps),
		Partner: Partner{ID: int(p.id), Name: p.name, DisplayName: p.display, Company: p.company,
			SalespersonID: int(p.userID), Tags: p.tagNames(),
			CompanyID: int(p.companyID), CompanyName: (*d.companies.Load())[int(p.companyID)]},
	}, true
}

// CompanyCount is one Odoo company the account sees, and how many of the
// indexed partners are its own; ID 0 counts the shared ones.
type CompanyCount struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Partners int    `json:"partners"`
}

// Companies lists the companies the account sees, by id, then the shared
// partners (ID 0) and any company the account no longer sees.
func (d *Directory) Companies() []CompanyCount {
	ix := d.idx.Load()
	d.mu.Lock()
	counts := d.perCompany
	if d.countedIx != ix { // counted once per published index
		counts = map[int]int{}
		for _, p := range ix.partners {
			if p.hasNumbers() {
				counts[int(p.companyID)]++
			}
		}
		d.perCompany, d.countedIx = counts, ix
	}
	d.mu.Unlock()
	names := *d.companies.Load()
	out := make([]CompanyCount, 0, len(names)+1)
	for id, name := range names {
		out = append(out, CompanyCount{ID: id, Name: name, Partners: counts[id]})
	}
	for id, n := range counts {
		if _, ok := names[id]; !ok {
			out = append(out, CompanyCount{ID: id, Partners: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID != 0 && (out[j].ID == 0 || out[i].ID < out[j].ID) })
	return out
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
	ix := d.idx.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	s := State{Numbers: len(ix.numbers), Partners: len(ix.partners), Complete: ix.complete, Loaded: d.loaded.Load(), LastSync: d.lastSync}
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

// Synced is closed once a full sync has finished.
func (d *Directory) Synced() <-chan struct{} { return d.synced }

// UserID returns the res.users id of a PBX user's login, once synced.
func (d *Directory) UserID(login string) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.users[login]
	return id, ok
}

// UserName returns a PBX user's name in Odoo ("John Seller"), once synced;
// "" before.
func (d *Directory) UserName(login string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.userNames[login]
}

// CompanyLabel is the name a call's card gives Odoo company id: "" when
// the account sees one company or none, where naming it tells nobody
// anything, and for a company it does not see.
func (d *Directory) CompanyLabel(id int) string {
	names := *d.companies.Load()
	if len(names) < 2 {
		return ""
	}
	return names[id]
}

// TagList joins tag names for ODOO_PARTNER_TAGS.
func TagList(tags []string) string {
	t := append([]string(nil), tags...)
	sort.Strings(t)
	return strings.Join(t, ",")
}
