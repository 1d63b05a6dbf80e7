package dialplan

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/internal/ratelog"
	"github.com/odoo-agi/odoo-agi/lookup"
)

// Directory finds partners; package lookup satisfies it, tests may stub it.
type Directory interface {
	Lookup(ctx context.Context, raw string) lookup.Result
	LookupLine(ctx context.Context, raw string, line lookup.Line) lookup.Result
	UserID(login string) (int, bool)
	UserName(login string) string // the user's name in Odoo, "" if unknown
	// CompanyLabel names an Odoo company on a card, "" when the account
	// sees only one.
	CompanyLabel(id int) string
}

// DefaultLookupTimeout is how long a call waits for a name by default.
const DefaultLookupTimeout = 200 * time.Millisecond

// Settings are what a reload may change while calls are running.
type Settings struct {
	// PBXs are the Asterisk servers, each with its users; one when the
	// config has no [[pbx]], none in tests that need no PBX.
	PBXs          []PBX
	Users         Users
	Format        NameFormat
	Geolocate     bool          // unknown caller with no trunk name: show the place
	LookupTimeout time.Duration // the longest a call waits for a name
	// OriginateTimeout is how long click-to-dial rings the user's phones.
	OriginateTimeout time.Duration
	// Deny lists number prefixes click-to-dial never dials, in E.164
	// ("+1900") or as dialed ("0900").
	Deny []string
	// PerUserPerMinute caps each user's click-to-dial calls; 0 is no cap.
	PerUserPerMinute int
	// RecordDir, when set, is ODOO_RECORD_DIR: the snippet's MixMonitor
	// records answered calls there, as <linkedid>.wav.
	RecordDir string
}

// Flows serves the call flows. Its settings can be swapped while serving.
type Flows struct {
	Directory Directory
	Logger    *slog.Logger
	Recorder  Recorder // the call log; nil when it is off
	Live      *Live    // live calls for the phone page; nil when it is off
	settings  atomic.Pointer[Settings]
	lookups   [lookup.Unavailable + 1]atomic.Int64 // calls' lookups by status
	limit     ratelog.Limiter                      // warnings every call of a dialplan would repeat
}

// lookup looks a caller up for a call on line, and counts it.
func (f *Flows) lookup(ctx context.Context, raw string, line lookup.Line) lookup.Result {
	r := f.Directory.LookupLine(ctx, raw, line)
	if int(r.Status) < len(f.lookups) {
		f.lookups[r.Status].Add(1)
	}
	return r
}

// LookupCounts reports the lookups that calls made, by status: the call
// log's and click-to-dial's are not counted here.
func (f *Flows) LookupCounts() map[lookup.Status]int64 {
	out := make(map[lookup.Status]int64, len(f.lookups))
	for st := lookup.Found; st <= lookup.Unavailable; st++ {
		out[st] = f.lookups[st].Load()
	}
	return out
}

// NewFlows returns the flows with their first settings.
func NewFlows(dir Directory, s Settings, log *slog.Logger) *Flows {
	if log == nil {
		log = slog.Default()
	}
	f := &Flows{Directory: dir, Logger: log}
	f.SetSettings(s)
	return f
}

// SetSettings replaces the settings; running calls keep the ones they started with.
func (f *Flows) SetSettings(s Settings) {
	if s.LookupTimeout <= 0 {
		s.LookupTimeout = DefaultLookupTimeout
	}
	f.settings.Store(&s)
}

// Settings returns the current settings.
func (f *Flows) Settings() *Settings { return f.settings.Load() }

// Register adds the flows to mux.
func (f *Flows) Register(mux *agi.ServeMux) {
	mux.HandleFunc("incoming", f.Incoming)
	mux.HandleFunc("outgoing", f.Outgoing)
	mux.HandleFunc("hangup", f.Hangup)
}

// lookupDeadline keeps the whole session, from accept to the answer,
// within timeout: the lookup gets what is left after the env block, minus a
// tenth (at most 20 ms) for writing the answer.
func lookupDeadline(s *agi.Session, timeout time.Duration) time.Time {
	start := s.Started()
	if start.IsZero() {
		start = time.Now()
	}
	return start.Add(timeout - min(timeout/10, 20*time.Millisecond))
}

// Incoming is agi://…/incoming: it looks the caller up and sets the
// ODOO_* variables and, when found, CALLERID(name), in one round trip.
// agi_arg_1, when given, is read instead of the caller ID; agi_arg_2, when
// given, is the Odoo company of the called line. The PBX is the session's
// peer: its number rules, company and users apply.
func (f *Flows) Incoming(ctx context.Context, s *agi.Session) {
	st := f.Settings()
	raw := s.Env("callerid")
	if a := s.Arg(1); a != "" {
		raw = a
	}
	pbx := st.PBXFor(s.Peer())
	ln, ok := line(s, pbx)
	if !ok {
		f.limit.Log(f.Logger, slog.LevelWarn, "company argument", "incoming: the dialplan's company is not an Odoo company id (Gosub(odoo-incoming,s,1(ID)), ID from Settings > Companies); the PBX's applies",
			"company", s.Arg(2), "pbx", pbx.Name)
	}
	lctx, stop := withLazyDeadline(ctx, lookupDeadline(s, st.LookupTimeout))
	r := f.lookup(lctx, raw, ln)
	stop()
	if f.Live != nil {
		f.Live.Incoming(pbx.Name, s.Env("uniqueid"), raw, ln.Company, r)
	}
	vars := f.IncomingVars(st, pbx.Name, r, s.Env("calleridname"), raw)
	if err := s.SetMany(ctx, vars); err != nil {
		f.Logger.Warn("incoming: could not set the caller variables; the call goes on", "channel", s.Env("channel"), "err", err)
		return
	}
	if f.Logger.Enabled(ctx, slog.LevelDebug) { // the arguments cost allocations even when not logged
		f.Logger.Debug("incoming", "callerid", raw, "lookup", r.Status, "e164", r.E164, "partner", r.Partner.ID)
	}
}

// IncomingVars is the dialplan contract (docs/configuration.md, "Dialplan variables"). Every ODOO_* variable is
// set on every call, so values from an earlier lookup never leak.
// The salesperson is rung only when their phones are on the call's PBX.
func (f *Flows) IncomingVars(st *Settings, pbx string, r lookup.Result, trunkName, raw string) []agi.Var {
	vars := make([]agi.Var, 0, 8)
	vars = append(vars, agi.Var{Name: "ODOO_LOOKUP", Value: r.Status.String()}, agi.Var{Name: "ODOO_CALLER_E164", Value: r.E164})
	var id, name, tags, exten, dial string
	switch r.Status {
	case lookup.Found:
		id = strconv.Itoa(r.Partner.ID)
		name = r.Partner.DisplayName
		tags = lookup.TagList(r.Partner.Tags)
		if u, ok := f.salesperson(st, r.Partner.SalespersonID); ok && u.PBX == pbx {
			exten, dial = u.Exten, u.DialString()
		}
		if cid := st.Format.Name(r.Partner); cid != "" {
			vars = append(vars, agi.Var{Name: "CALLERID(name)", Value: cid})
		}
	case lookup.NotFound:
		if st.Geolocate && noTrunkName(trunkName, raw) {
			if place := st.Format.Place(r.E164); place != "" {
				vars = append(vars, agi.Var{Name: "CALLERID(name)", Value: place})
			}
		}
	}
	vars = append(vars,
		agi.Var{Name: "ODOO_PARTNER_ID", Value: id},
		agi.Var{Name: "ODOO_PARTNER_NAME", Value: name},
		agi.Var{Name: "ODOO_PARTNER_TAGS", Value: tags},
		agi.Var{Name: "ODOO_SALESPERSON_EXTEN", Value: exten},
		agi.Var{Name: "ODOO_SALESPERSON_DIAL", Value: dial},
	)
	if st.RecordDir != "" {
		vars = append(vars, agi.Var{Name: "ODOO_RECORD_DIR", Value: st.RecordDir})
	}
	return vars
}

// Outgoing is agi://…/outgoing, for calls a user places: it looks up the
// dialed number (agi_arg_1, else agi_extension) and sets the name the
// user's phone shows for the other party.
func (f *Flows) Outgoing(ctx context.Context, s *agi.Session) {
	st := f.Settings()
	raw := s.Arg(1)
	if raw == "" {
		raw = s.Env("extension")
	}
	lctx, stop := withLazyDeadline(ctx, lookupDeadline(s, st.LookupTimeout))
	ln, _ := line(s, st.PBXFor(s.Peer())) // outgoing's dialplan passes no company
	r := f.lookup(lctx, raw, ln)
	stop()
	vars := []agi.Var{
		{Name: "ODOO_LOOKUP", Value: r.Status.String()},
		{Name: "ODOO_CALLEE_E164", Value: r.E164},
	}
	id, name, cid := "", "", ""
	if r.Status == lookup.Found {
		id, name = strconv.Itoa(r.Partner.ID), r.Partner.DisplayName
		if cid = st.Format.Name(r.Partner); cid != "" {
			// 'i': store the name for the next connected-line update without sending one now.
			vars = append(vars, agi.Var{Name: "CONNECTEDLINE(name,i)", Value: cid})
		}
	}
	// ODOO_CONNECTED_NAME lets a Dial B() handler set the name again after
	// a dialplan that overwrites it (FreePBX's "CID:<number>").
	vars = append(vars, agi.Var{Name: "ODOO_PARTNER_ID", Value: id}, agi.Var{Name: "ODOO_PARTNER_NAME", Value: name},
		agi.Var{Name: "ODOO_CONNECTED_NAME", Value: cid})
	if st.RecordDir != "" {
		vars = append(vars, agi.Var{Name: "ODOO_RECORD_DIR", Value: st.RecordDir})
	}
	if err := s.SetMany(ctx, vars); err != nil {
		f.Logger.Warn("outgoing: could not set the callee variables; the call goes on", "channel", s.Env("channel"), "err", err)
	}
}

func (f *Flows) salesperson(st *Settings, userID int) (User, bool) {
	if userID == 0 {
		return User{}, false
	}
	for _, u := range st.Users {
		if id, ok := f.Directory.UserID(u.Login); ok && id == userID {
			return u, true
		}
	}
	return User{}, false
}

// noTrunkName: the trunk sent no usable caller name.
func noTrunkName(name, number string) bool {
	n := strings.TrimSpace(name)
	return n == "" || strings.EqualFold(n, "unknown") || n == strings.TrimSpace(number)
}
