package dialplan

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/lookup"
)

// Call states as a PBX user's phone page shows them.
const (
	Ringing           = "ringing"            // one of the user's phones rings
	AnsweredByYou     = "answered"           // the user answered
	AnsweredElsewhere = "answered_elsewhere" // someone else answered
	Missed            = "missed"             // nobody answered
	Ended             = "ended"              // the user's call is over
)

// CallEvent is what one user sees of a call at one moment.
type CallEvent struct {
	ID   int64  `json:"id"`            // increasing, for resuming a stream
	Call string `json:"call"`          // the call's Linkedid: one card per call (and PBX)
	PBX  string `json:"pbx,omitempty"` // the PBX's name, when there are several
	// CompanyID is the Odoo company of the called line, which a contact
	// or lead made from the card belongs to; 0: none. Line is its name,
	// when the account sees several companies: whom the caller called.
	CompanyID   int       `json:"company_id,omitempty"`
	Line        string    `json:"line,omitempty"`
	State       string    `json:"state"`
	Direction   string    `json:"direction"` // "in", or "out" for click-to-dial
	Number      string    `json:"number"`    // E.164 when known
	Pretty      string    `json:"pretty"`    // the number as people read it: "+32 2 555 12 34"
	Name        string    `json:"name,omitempty"`
	PartnerID   int       `json:"partner_id,omitempty"`
	Tags        []string  `json:"tags,omitempty"`
	Salesperson string    `json:"salesperson,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	At          time.Time `json:"at"`
}

// Live turns the manager's call events into what each PBX user sees: a
// call ringing one of their phones, then answered by them, by someone
// else, or missed. It matches a DialBegin to the lookup that the incoming
// FastAGI session made for that call, by the caller channel's Uniqueid
// (the session's agi_uniqueid) or the call's Linkedid.
type Live struct {
	Flows  *Flows
	Logger *slog.Logger
	// Store, when set, keeps each user's calls on disk, so that History
	// survives a restart.
	Store HistoryStore

	once    sync.Once
	lookups *expirable.LRU[string, incomingLookup]

	mu      sync.Mutex
	seq     int64
	calls   map[string]*liveCall // by PBX and Linkedid
	subs    map[string]map[chan CallEvent]struct{}
	backlog map[string][]CallEvent // recent events per user, for resuming
	history map[string][]CallEvent // the last calls per user, newest last
}

// HistoryStore keeps calls per user; *history.Store satisfies it.
type HistoryStore interface {
	Put(login string, at time.Time, id string, value []byte) error
	Recent(login string, n int) ([][]byte, error)
	Find(login, id string) ([]byte, bool)
}

type incomingLookup struct {
	raw     string
	company int // the called line's
	r       lookup.Result
}

type liveCall struct {
	key, caller string // Linkedid, and the caller channel's Uniqueid
	ev          CallEvent
	rung        map[string]bool // logins whose phones rang
	answeredBy  string
	started     time.Time
}

const (
	backlogLen = 100
	historyLen = 20
	callMaxAge = 4 * time.Hour
	maxCalls   = 10000
)

func (l *Live) init() {
	l.once.Do(func() {
		l.lookups = expirable.NewLRU[string, incomingLookup](10000, nil, 10*time.Minute)
		l.calls = map[string]*liveCall{}
		l.subs = map[string]map[chan CallEvent]struct{}{}
		l.backlog = map[string][]CallEvent{}
		l.history = map[string][]CallEvent{}
		if l.Logger == nil {
			l.Logger = slog.Default()
		}
	})
}

// Incoming records the lookup an incoming session on pbx made, for the
// call's cards, with the called line's company. Flows calls it when Live
// is set.
func (l *Live) Incoming(pbx, uniqueid, raw string, company int, r lookup.Result) {
	l.init()
	if uniqueid != "" {
		l.lookups.Add(onPBX(pbx, uniqueid), incomingLookup{raw, company, r})
	}
}

// onPBX keys a Uniqueid or Linkedid by its PBX: two Asterisks may number
// their channels alike.
func onPBX(pbx, id string) string { return pbx + "\x00" + id }

// Run reads the manager events of the PBX named pbx until they end or ctx
// does.
func (l *Live) Run(ctx context.Context, pbx string, events <-chan ami.Message) {
	l.init()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-events:
			if !ok {
				return
			}
			l.Handle(pbx, m)
		}
	}
}

// Handle applies one manager event of the PBX named pbx.
func (l *Live) Handle(pbx string, m ami.Message) {
	l.init()
	switch strings.ToLower(m.Get("Event")) {
	case "dialbegin":
		l.dialBegin(pbx, m)
	case "dialend":
		l.dialEnd(pbx, m)
	case "hangup":
		l.hangup(pbx, m)
	}
}

// ownOriginate reports a first leg of click-to-dial: its phones ringing
// are the user's own call, not an incoming one.
func ownOriginate(channel string) bool {
	return strings.HasPrefix(channel, "Local/ring@"+OriginateContext+"-")
}

func (l *Live) userOf(pbx, channel string) (User, bool) {
	return l.Flows.Settings().Users.On(pbx).byChannel(channelOf(channel))
}

func (l *Live) dialBegin(pbx string, m ami.Message) {
	if ownOriginate(m.Get("Channel")) {
		return
	}
	u, ok := l.userOf(pbx, m.Get("DestChannel"))
	if !ok {
		return
	}
	key := onPBX(pbx, m.Get("Linkedid"))
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls[key]
	if c == nil {
		l.sweep()
		c = &liveCall{key: key, caller: m.Get("Uniqueid"), rung: map[string]bool{}, started: time.Now()}
		c.ev = l.describe(pbx, m)
		if c.ev.CompanyID != 0 {
			c.ev.Line = l.Flows.Directory.CompanyLabel(c.ev.CompanyID)
		}
		l.calls[key] = c
	}
	if c.rung[u.Login] || c.answeredBy != "" {
		return
	}
	c.rung[u.Login] = true
	l.send(u.Login, c, Ringing, "")
}

// describe is the caller side of a new call: the incoming session's lookup
// when there was one, else what the channel says.
func (l *Live) describe(pbx string, m ami.Message) CallEvent {
	st := l.Flows.Settings()
	ev := CallEvent{Call: m.Get("Linkedid"), Direction: "in", Number: m.Get("CallerIDNum")}
	if p, ok := st.PBX(pbx); ok {
		ev.CompanyID = p.Company
	}
	if st.Several() {
		ev.PBX = pbx
	}
	if name := m.Get("CallerIDName"); name != "<unknown>" {
		ev.Name = name
	}
	il, ok := l.lookups.Get(onPBX(pbx, m.Get("Uniqueid")))
	if !ok {
		il, ok = l.lookups.Get(onPBX(pbx, m.Get("Linkedid")))
	}
	if !ok {
		return ev
	}
	if il.company != 0 {
		ev.CompanyID = il.company
	}
	if il.r.E164 != "" {
		ev.Number = il.r.E164
	}
	if il.r.Status == lookup.Found {
		p := il.r.Partner
		ev.Name, ev.PartnerID, ev.Tags = p.DisplayName, p.ID, p.Tags
		if u, ok := l.Flows.salesperson(st, p.SalespersonID); ok {
			ev.Salesperson = u.Login
			if n := l.Flows.Directory.UserName(u.Login); n != "" {
				ev.Salesperson = n
			}
		}
	}
	return ev
}

func (l *Live) dialEnd(pbx string, m ami.Message) {
	if ownOriginate(m.Get("Channel")) || m.Get("DialStatus") != "ANSWER" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls[onPBX(pbx, m.Get("Linkedid"))]
	if c == nil || c.answeredBy != "" {
		return
	}
	who := ""
	if u, ok := l.userOf(pbx, m.Get("DestChannel")); ok {
		who = u.Login
	}
	c.answeredBy = who
	if who == "" {
		c.answeredBy = "?"
	}
	for login := range c.rung {
		if login == who {
			l.send(login, c, AnsweredByYou, "")
		} else {
			l.send(login, c, AnsweredElsewhere, m.Get("DestCallerIDName"))
		}
	}
}

func (l *Live) hangup(pbx string, m ami.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls[onPBX(pbx, m.Get("Linkedid"))]
	if c == nil || m.Get("Uniqueid") != c.caller {
		return
	}
	delete(l.calls, c.key)
	for login := range c.rung {
		switch c.answeredBy {
		case "":
			l.send(login, c, Missed, "")
		case login:
			l.send(login, c, Ended, "")
		default:
			continue
		}
	}
}

// Record adds a click-to-dial call to the user's list, as it ended.
func (l *Live) Record(login string, ev CallEvent) {
	l.init()
	l.mu.Lock()
	defer l.mu.Unlock()
	ev.Direction = "out"
	l.publish(login, ev, true)
}

// send publishes state to login. It runs under l.mu.
func (l *Live) send(login string, c *liveCall, state, detail string) {
	ev := c.ev
	ev.State, ev.Detail = state, detail
	final := state == Missed || state == Ended || state == AnsweredElsewhere
	l.publish(login, ev, final)
}

// publish numbers ev and hands it to login's streams. It runs under l.mu.
func (l *Live) publish(login string, ev CallEvent, final bool) {
	l.seq++
	ev.ID, ev.At = l.seq, time.Now()
	if ev.Pretty == "" {
		ev.Pretty = cmp.Or(lookup.Pretty(ev.Number), ev.Number)
	}
	l.backlog[login] = tail(append(l.backlog[login], ev), backlogLen)
	if final {
		if l.Store != nil {
			b, _ := json.Marshal(ev)
			go func() {
				if err := l.Store.Put(login, ev.At, ev.Call, b); err != nil {
					l.Logger.Warn("live: could not keep a call in the history", "err", err)
				}
			}()
		} else {
			l.history[login] = tail(append(l.history[login], ev), historyLen)
		}
	}
	for ch := range l.subs[login] {
		select {
		case ch <- ev:
		default: // a stalled stream resumes from the backlog
		}
	}
}

func tail(evs []CallEvent, n int) []CallEvent {
	if len(evs) > n {
		return append([]CallEvent(nil), evs[len(evs)-n:]...)
	}
	return evs
}

// sweep forgets calls whose Hangup never came. It runs under l.mu.
func (l *Live) sweep() {
	if len(l.calls) < maxCalls/2 {
		return
	}
	for k, c := range l.calls {
		if time.Since(c.started) > callMaxAge || len(l.calls) >= maxCalls {
			delete(l.calls, k)
		}
	}
}

// Subscribe returns login's events after lastID (the backlog it still
// holds), then live ones until cancel is called.
func (l *Live) Subscribe(login string, lastID int64) (missed []CallEvent, events <-chan CallEvent, cancel func()) {
	l.init()
	ch := make(chan CallEvent, 64)
	l.mu.Lock()
	defer l.mu.Unlock()
	if lastID > 0 {
		for _, ev := range l.backlog[login] {
			if ev.ID > lastID {
				missed = append(missed, ev)
			}
		}
	}
	if l.subs[login] == nil {
		l.subs[login] = map[chan CallEvent]struct{}{}
	}
	l.subs[login][ch] = struct{}{}
	return missed, ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.subs[login], ch)
	}
}

// WasOn reports whether login was on the call (answered it, or placed
// it), from their history.
func (l *Live) WasOn(login, call string) bool {
	l.init()
	on := func(ev CallEvent) bool { return ev.Call == call && (ev.State == Ended || ev.State == AnsweredByYou) }
	if l.Store != nil {
		b, ok := l.Store.Find(login, call)
		var ev CallEvent
		return ok && json.Unmarshal(b, &ev) == nil && on(ev)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.history[login], on)
}

// History returns login's last calls, newest first.
func (l *Live) History(login string) []CallEvent {
	l.init()
	if l.Store != nil {
		recs, err := l.Store.Recent(login, historyLen)
		if err != nil {
			l.Logger.Warn("live: could not read the history", "err", err)
		}
		out := make([]CallEvent, 0, len(recs))
		for _, b := range recs {
			var ev CallEvent
			if json.Unmarshal(b, &ev) == nil {
				out = append(out, ev)
			}
		}
		return out
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.history[login]
	out := make([]CallEvent, len(h))
	for i, ev := range h {
		out[len(h)-1-i] = ev
	}
	return out
}
