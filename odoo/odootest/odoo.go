// Package odootest is an in-process Odoo that speaks Odoo's real XML-RPC
// wire format: /xmlrpc/2/common (version, authenticate) and
// /xmlrpc/2/object execute_kw, False for empty fields, many2one pairs,
// Faults 1–4, active_test, domains with & | !, offset/limit/order and
// fields_get. Tests and the demo inject latency, outages and data changes.
package odootest

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Partner is one res.partner record. Empty strings and zero ids are sent
// as False, as Odoo does.
type Partner struct {
	ID          int
	Name        string
	IsCompany   bool
	ParentID    int // the company of a contact
	Phone       string
	Mobile      string
	CountryID   int
	UserID      int // salesperson (res.users)
	CategoryIDs []int
	Active      bool
	WriteDate   time.Time
	CompanyID   int // res.company; 0: shared by all companies
}

// User is one res.users record. Every user is an internal user: they may
// read contacts. ContactCreation is Extra Rights > Contact Creation, which
// gives write access to contacts; Admin is Administration > Access Rights.
type User struct {
	ID              int
	Login           string
	Name            string
	Password        string
	Email           string
	ContactCreation bool
	Admin           bool
	APIKey          string // "" until AddAPIKey
	Archived        bool   // active = False: no login, hidden by active_test
	Sales           string // SalesNone, SalesOwn or SalesAll
	CompanyIDs      []int  // its companies; nil: company 1 only
}

// Server is the emulator. Create it with New; the zero value is not usable.
type Server struct {
	DB string

	mu            sync.Mutex
	partners      map[int]*Partner
	crm           bool // the CRM app is installed
	leads         []Lead
	users         map[int]*User
	countries     map[int]string // id → ISO code
	categories    map[int]string // id → name
	companies     map[int]string // res.company id → name
	active        []int          // the running call's companies (dispatch sets it)
	multiCompany  bool           // a partner belongs to a company
	fields        []string       // res.partner fields that exist
	nextID        int
	now           func() time.Time
	latency       time.Duration
	held          chan struct{} // requests wait for it to close; nil when not held
	down          bool
	denyRead      bool         // Fault 4 on res.partner reads
	rendered      []record     // res.partner rows by id; nil after any change
	denyWrite     bool         // no user has Contact Creation
	readOnly      map[int]bool // partners a record rule keeps from writes
	activityFault string       // Fault 2 on activity creation when set
	messages      []Message
	activities    []Activity

	calls   map[string]int // "model.method" → count
	version int            // 16 or 19: what the emulator answers like
	total   atomic.Int64
	xmlrpcN atomic.Int64 // XML-RPC requests
	json2N  atomic.Int64 // JSON-2 requests

	inflight, maxInflight atomic.Int64 // requests being served, and the most at once

	deprecations atomic.Int64 // the WARNING Odoo 19 logs per XML-RPC request
	authN        atomic.Int64
	ln           net.Listener
	httpSrv      *http.Server
}

// New returns an emulator with the standard countries, no partners and the
// system account asterisk1/asterisk1 (uid 2): an internal user with Contact
// Creation and an email, as the README asks.
func New() *Server {
	s := &Server{
		DB:       "odoo",
		partners: map[int]*Partner{},
		users: map[int]*User{2: {ID: 2, Login: "asterisk1", Name: "Asterisk", Password: "asterisk1", Email: "asterisk1@example.com",
			ContactCreation: true}},
		readOnly:   map[int]bool{},
		countries:  map[int]string{},
		categories: map[int]string{},
		companies:  map[int]string{1: "My Company"},
		fields: []string{"id", "name", "display_name", "is_company", "parent_id", "commercial_partner_id",
			"commercial_company_name", "phone", "mobile", "country_id", "user_id", "category_id", "company_id", "active", "write_date"},
		nextID:  100,
		calls:   map[string]int{},
		version: 16,
	}
	base := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var tick atomic.Int64
	s.now = func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Second) }
	for i, c := range []string{"BE", "FR", "DE", "US", "GB", "IT", "NL", "CH", "ES", "LU"} {
		s.countries[i+1] = c
	}
	return s
}

// Start serves on a loopback port and returns the base URL.
func (s *Server) Start() (string, error) {
	return s.StartOn("127.0.0.1:0")
}

// StartOn serves on addr and returns the base URL.
func (s *Server) StartOn(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("/xmlrpc/2/common", s.serveCommon)
	mux.HandleFunc("/xmlrpc/2/object", s.serveObject)
	mux.HandleFunc("/json/2/{model}/{method}", s.serveJSON2)
	s.httpSrv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.inflight.Add(1)
		defer s.inflight.Add(-1)
		for m := s.maxInflight.Load(); n > m && !s.maxInflight.CompareAndSwap(m, n); m = s.maxInflight.Load() {
		}
		mux.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go s.httpSrv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// Close stops the emulator.
func (s *Server) Close() {
	if s.httpSrv != nil {
		s.httpSrv.Close()
	}
}

// SetClock replaces the clock that stamps write_date.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetVersion makes the emulator answer like Odoo 16 or 19. 19 serves
// JSON-2, has no res.partner mobile field, logs a deprecation warning on
// every XML-RPC request, names groups as 19 does, and answers
// activity_schedule with the new activity's id.
func (s *Server) SetVersion(v int) {
	s.mu.Lock()
	s.version = v
	s.mu.Unlock()
	if v >= 19 {
		s.RemoveField("mobile")
	}
}

func (s *Server) major() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// AddAPIKey gives the user an API key and returns it.
func (s *Server) AddAPIKey(login string) string {
	key := fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(login, time.Now().UnixNano()))))[:40]
	s.updateUser(login, func(u *User) { u.APIKey = key })
	return key
}

// MaxInFlight reports the most requests the emulator served at once.
func (s *Server) MaxInFlight() int64 { return s.maxInflight.Load() }

// SetAPIKey gives the user this API key.
func (s *Server) SetAPIKey(login, key string) { s.updateUser(login, func(u *User) { u.APIKey = key }) }

// Requests reports the XML-RPC and the JSON-2 requests served.
func (s *Server) Requests() (xmlrpc, json2 int64) { return s.xmlrpcN.Load(), s.json2N.Load() }

// Deprecations counts the warnings a real Odoo 19 would have logged.
func (s *Server) Deprecations() int64 { return s.deprecations.Load() }

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) { set(&s.mu, &s.latency, d) }

// Hold makes every request wait, before it is served, until release is
// called: a test can then know that no request finished in between.
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	set(&s.mu, &s.held, ch)
	var once sync.Once
	return func() {
		once.Do(func() {
			set(&s.mu, &s.held, nil)
			close(ch)
		})
	}
}

// SetDown makes every request fail with 502, as a proxy in front of a
// stopped Odoo does.
func (s *Server) SetDown(down bool) { set(&s.mu, &s.down, down) }

// DenyPartnerRead makes res.partner reads fail with Fault 4.
func (s *Server) DenyPartnerRead(deny bool) { set(&s.mu, &s.denyRead, deny) }

// RemoveField drops a res.partner field, as on an Odoo without that module.
func (s *Server) RemoveField(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.fields {
		if f == name {
			s.fields = append(s.fields[:i], s.fields[i+1:]...)
			return
		}
	}
}

// CountryID returns the id of an ISO country code.
func (s *Server) CountryID(code string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.countries {
		if c == code {
			return id
		}
	}
	return 0
}

// AddCategory adds a partner tag and returns its id.
func (s *Server) AddCategory(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := len(s.categories) + 1
	s.categories[id] = name
	return id
}

// RenameCategory renames a partner tag.
func (s *Server) RenameCategory(id int, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.categories[id] = name
}

// AddUser adds a res.users record and returns its id.
func (s *Server) AddUser(login, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := len(s.users) + 10
	s.users[id] = &User{ID: id, Login: login, Name: name, Password: login}
	s.rendered = nil
	return id
}

// SetPassword changes a user's password.
func (s *Server) SetPassword(login, password string) {
	s.updateUser(login, func(u *User) { u.Password = password })
}

// ArchiveUser sets a user's active to False, as Settings > Users > Archive
// does: their password and keys stop working.
func (s *Server) ArchiveUser(login string) {
	s.updateUser(login, func(u *User) { u.Archived = true })
}

// updateUser applies f to the user with this login.
func (s *Server) updateUser(login string, f func(*User)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Login == login {
			f(u)
		}
	}
}

// Upsert creates (ID 0) or replaces a partner, stamps write_date, and
// returns its id. Active defaults to true for new partners.
func (s *Server) Upsert(p Partner) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.ID == 0 {
		s.nextID++
		p.ID = s.nextID
		p.Active = true
	}
	if p.WriteDate.IsZero() {
		p.WriteDate = s.now()
	}
	cp := p
	s.partners[p.ID] = &cp
	s.rendered = nil
	s.multiCompany = s.multiCompany || p.CompanyID != 0
	return p.ID
}

// Update changes a partner through f and stamps write_date.
func (s *Server) Update(id int, f func(*Partner)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.partners[id]; ok {
		f(p)
		p.WriteDate = s.now()
		s.multiCompany = s.multiCompany || p.CompanyID != 0
	}
	s.rendered = nil
}

// Delete removes a partner (unlink).
func (s *Server) Delete(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.partners, id)
	s.rendered = nil
}

// Partner returns a partner as the emulator holds it.
func (s *Server) Partner(id int) (Partner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.partners[id]
	if !ok {
		return Partner{}, false
	}
	return *p, true
}

// Calls reports how many execute_kw calls hit "model.method".
func (s *Server) Calls(modelMethod string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[modelMethod]
}

// TotalCalls reports every RPC served, authenticate included.
func (s *Server) TotalCalls() int64 { return s.total.Load() }

// Logins reports how many authenticate calls were made.
func (s *Server) Logins() int64 { return s.authN.Load() }

// Fault is an Odoo XML-RPC fault.
type Fault struct {
	Code int
	Msg  string
}

func (f *Fault) Error() string { return fmt.Sprintf("fault %d: %s", f.Code, f.Msg) }

// record is a model row as Odoo would read it.
type record map[string]any

func (s *Server) execute(uid int, model, fn string, args []any, kw map[string]any) (any, error) {
	var rows []record
	byID := false // rows are already in id order
	fields := []string{"id"}
	switch model {
	case "res.partner":
		if s.denyRead {
			return nil, &Fault{4, "You are not allowed to access 'Contact' (res.partner) records.\n\nThis operation is allowed for the following groups:\n\t- Administration/Access Rights"}
		}
		fields = s.fields
		rows, byID = s.partnerRows(), true
		if s.multiCompany {
			rows = slices.DeleteFunc(slices.Clone(rows), func(r record) bool { return !s.sees(s.partners[r["id"].(int)]) })
		}
	case "res.country":
		fields = []string{"id", "code", "name"}
		for id, c := range s.countries {
			rows = append(rows, record{"id": id, "code": c, "name": c, "active": true})
		}
	case "res.partner.category":
		fields = []string{"id", "name", "display_name"}
		for id, n := range s.categories {
			rows = append(rows, record{"id": id, "name": n, "display_name": n, "active": true})
		}
	case "res.company":
		fields, rows, byID = []string{"id", "name"}, s.companyRows(uid), true
	case "res.users":
		fields = []string{"id", "login", "name"}
		for _, u := range s.users {
			rows = append(rows, record{"id": u.ID, "login": u.Login, "name": u.Name, "active": !u.Archived})
		}
	default:
		var ok bool
		var domain []any
		if fn != "create" && len(args) > 0 {
			domain, _ = args[0].([]any)
		}
		if rows, fields, ok = s.mailRows(model, domain); !ok {
			return nil, &Fault{2, fmt.Sprintf("Object %s doesn't exist", model)}
		}
	}
	has := map[string]bool{}
	for _, f := range fields {
		has[f] = true
	}

	switch fn {
	case "fields_get":
		out := map[string]any{}
		for _, f := range fields {
			out[f] = map[string]any{"type": "char", "string": f}
		}
		return out, nil
	case "search", "search_read", "search_count":
		var domain []any
		if len(args) > 0 {
			domain, _ = args[0].([]any)
		}
		ctx, _ := kw["context"].(map[string]any)
		hasActive := len(rows) > 0 && rows[0]["active"] != nil
		if at, ok := ctx["active_test"].(bool); hasActive && (!ok || at) {
			if !domainMentions(domain, "active") {
				domain = append([]any{"&", []any{"active", "=", true}}, nonEmpty(domain)...)
			}
		}
		var matched []record
		order, _ := kw["order"].(string)
		offset, _ := kw["offset"].(int)
		limit, _ := kw["limit"].(int)
		// Partner rows are kept in id order: re-sorting a million rows per
		// page would make benchmarks measure the emulator.
		sorted := byID && (order == "" || strings.TrimSpace(order) == "id")
		if byID {
			// Index by id: a sync reads ids past N (up to M), and scanning
			// a million rows per page would make benchmarks measure the
			// emulator. "id desc" walks the rows backwards, as PostgreSQL
			// walks the primary key.
			rows = rows[idStart(rows, domain):idEnd(rows, domain)]
			if strings.TrimSpace(order) == "id desc" {
				rows = slices.Clone(rows)
				slices.Reverse(rows)
				sorted = true
			}
		}
		for _, r := range rows {
			ok, err := evalDomain(domain, r, has)
			if err != nil {
				return nil, err
			}
			if ok {
				matched = append(matched, r)
				if sorted && fn != "search_count" && limit > 0 && len(matched) >= offset+limit {
					break // in id order, the page is complete
				}
			}
		}
		if fn == "search_count" {
			return len(matched), nil
		}
		if !sorted {
			if err := sortRecords(matched, order, has); err != nil {
				return nil, err
			}
		}
		if offset > len(matched) {
			offset = len(matched)
		}
		matched = matched[offset:]
		if limit > 0 && limit < len(matched) {
			matched = matched[:limit]
		}
		if fn == "search" {
			ids := make([]any, len(matched))
			for i, r := range matched {
				ids[i] = r["id"]
			}
			return ids, nil
		}
		want := fields
		if fl, ok := kw["fields"].([]any); ok && len(fl) > 0 {
			want = nil
			for _, f := range fl {
				name, _ := f.(string)
				if !has[name] {
					return nil, fmt.Errorf("ValueError: Invalid field '%s' on model '%s'", name, model)
				}
				want = append(want, name)
			}
		}
		out := make([]any, len(matched))
		for i, r := range matched {
			m := map[string]any{"id": r["id"]}
			for _, f := range want {
				m[f] = r[f]
			}
			out[i] = m
		}
		return out, nil
	}
	return nil, fmt.Errorf("AttributeError: type object '%s' has no attribute '%s'", model, fn)
}

// idStart is where rows (in id order) can start to match domain: past N
// when the domain is terms ANDed (a plain list) with ["id", ">", N] among them.
func idStart(rows []record, domain []any) int {
	n, ok := idTerm(domain, ">")
	if !ok {
		return 0
	}
	return sort.Search(len(rows), func(i int) bool { return rows[i]["id"].(int) > n })
}

// idEnd is where rows (in id order) stop matching domain: past M when
// ["id", "<=", M] is among its ANDed terms.
func idEnd(rows []record, domain []any) int {
	m, ok := idTerm(domain, "<=")
	if !ok {
		return len(rows)
	}
	return sort.Search(len(rows), func(i int) bool { return rows[i]["id"].(int) > m })
}

// idTerm finds ["id", op, N] in a domain of terms only (no operators).
func idTerm(domain []any, op string) (int, bool) {
	found, n := false, 0
	for _, t := range domain {
		c, ok := t.([]any)
		if !ok {
			return 0, false // "&", "|" or "!": not a plain AND
		}
		if len(c) == 3 && c[0] == "id" && c[1] == op {
			if v, ok := c[2].(int); ok {
				found, n = true, v
			}
		}
	}
	return n, found
}

func nonEmpty(d []any) []any {
	if len(d) == 0 {
		return []any{[]any{"id", "!=", 0}}
	}
	return normalizeDomain(d)
}

// partnerRows renders every partner once per change, in id order.
func (s *Server) partnerRows() []record {
	if s.rendered == nil {
		ids := make([]int, 0, len(s.partners))
		for id := range s.partners {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		s.rendered = make([]record, len(ids))
		for i, id := range ids {
			s.rendered[i] = s.partnerRecord(s.partners[id])
		}
	}
	return s.rendered
}

func (s *Server) partnerRecord(p *Partner) record {
	falseOr := func(v string) any {
		if v == "" {
			return false
		}
		return v
	}
	m2o := func(id int, name string) any {
		if id == 0 {
			return false
		}
		return []any{id, name}
	}
	commercial := p
	if !p.IsCompany && p.ParentID != 0 {
		if c, ok := s.partners[p.ParentID]; ok {
			commercial = c
		}
	}
	display := p.Name
	companyName := any(false)
	if commercial != p {
		display = commercial.Name + ", " + p.Name
		companyName = commercial.Name
	} else if p.IsCompany {
		companyName = p.Name
	}
	parentName := ""
	if c, ok := s.partners[p.ParentID]; ok {
		parentName = c.Name
	}
	userName := ""
	if u, ok := s.users[p.UserID]; ok {
		userName = u.Name
	}
	cats := make([]any, len(p.CategoryIDs))
	for i, c := range p.CategoryIDs {
		cats[i] = c
	}
	return record{
		"id":                      p.ID,
		"name":                    falseOr(p.Name),
		"display_name":            display,
		"is_company":              p.IsCompany,
		"parent_id":               m2o(p.ParentID, parentName),
		"commercial_partner_id":   m2o(commercial.ID, commercial.Name),
		"commercial_company_name": companyName,
		"phone":                   falseOr(p.Phone),
		"mobile":                  falseOr(p.Mobile),
		"country_id":              m2o(p.CountryID, s.countries[p.CountryID]),
		"user_id":                 m2o(p.UserID, userName),
		"category_id":             cats,
		"active":                  p.Active,
		"write_date":              p.WriteDate.UTC().Format("2006-01-02 15:04:05"),
		"company_id":              m2o(p.CompanyID, s.companies[p.CompanyID]),
	}
}

// set stores v in *p under mu: the emulator's knobs change while it serves.
func set[T any](mu *sync.Mutex, p *T, v T) {
	mu.Lock()
	defer mu.Unlock()
	*p = v
}
