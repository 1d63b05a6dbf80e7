package calllog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// Odoo runs XML-RPC calls; *odoo.Client satisfies it.
type Odoo interface {
	Execute(ctx context.Context, model, method string, args []any, kwargs map[string]any) (any, error)
}

// Directory finds partners by number and Odoo users by login;
// *lookup.Directory satisfies it.
type Directory interface {
	Lookup(ctx context.Context, raw string) lookup.Result
	UserID(login string) (int, bool)
}

// Who gets the missed-call activity.
const (
	ActivitySalesperson = "salesperson"
	ActivityCalledUser  = "called_user"
)

// Config says what to post.
type Config struct {
	MissedCallActivity bool
	ActivityUser       string // ActivitySalesperson (default) or ActivityCalledUser
	UnknownPartnerID   int    // post calls from unknown numbers on this partner; 0 skips them
	Location           *time.Location
	// Workers is how many new calls are posted at once; 0 or 1 posts one
	// at a time.
	Workers    int
	MinBackoff time.Duration // default 1s
	MaxBackoff time.Duration // default 5m
	Logger     *slog.Logger
	// RecordingURL, when set, gives the address of a call's recording by
	// its linkedid, or "" when it has none; the note then links to it.
	RecordingURL func(linkedID string) string
}

// Deliverer posts spooled calls to Odoo: a note on the partner for each,
// and a Call activity for each missed call from a known partner. It uses
// only what an internal user with Contact Creation may do, and what both
// XML-RPC and JSON-2 take: no ir.model, no activity_schedule (it faults
// after creating the activity in Odoo 16), no default_get.
type Deliverer struct {
	Odoo      Odoo
	Directory Directory
	Config    Config
	// Claims, when set, decides with the other odoo-agi which one posts a
	// call that both spooled.
	Claims *Claims

	mu            sync.Mutex
	noteSubtypeID int
	callTypeID    int
	userNames     map[int]string
	inFlight      map[string]chan struct{} // uniqueids being posted

	delivered, skipped, rejected, retried atomic.Int64
	failures                              [len(causes)]atomic.Int64
	episodes                              [2]episode // the new-call and the retry worker
}

func (d *Deliverer) log() *slog.Logger {
	if d.Config.Logger == nil {
		return slog.Default()
	}
	return d.Config.Logger
}

// Deliver posts one record, unless it was posted before: the note and the
// activity carry the uniqueid and are searched for first.
func (d *Deliverer) Deliver(ctx context.Context, r Record) error {
	return d.deliver(ctx, &r)
}

// deliver posts r and records in it what is done, so that a retry posts
// only what is left. Two workers never post the same call at once.
func (d *Deliverer) deliver(ctx context.Context, r *Record) error {
	release, err := d.claim(ctx, r.Key())
	if err != nil {
		return err
	}
	defer release()
	if d.Claims != nil {
		mine, err := d.Claims.Acquire(ctx, r.Key())
		if err != nil {
			return err
		}
		if !mine {
			d.skipped.Add(1) // another odoo-agi posts it
			return nil
		}
	}
	// The spool keeps the number as the PBX gave it; read it as a call would.
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	found := d.Directory.Lookup(lctx, r.Number)
	cancel()
	if found.E164 != "" {
		r.Number = found.E164
	}
	p, err := d.partner(ctx, *r, found)
	if err != nil {
		return err
	}
	if p.id == 0 {
		if d.Config.UnknownPartnerID == 0 {
			d.skipped.Add(1)
			return nil
		}
		p = partnerInfo{id: d.Config.UnknownPartnerID}
	}
	marker := "[odoo-agi call " + r.Key() + "]"
	if !r.NotePosted {
		if err := d.note(ctx, *r, p, marker); err != nil {
			return &stepError{step: "note", err: err}
		}
		r.NotePosted = true
	}
	if r.Missed() && d.Config.MissedCallActivity && p.id != d.Config.UnknownPartnerID {
		if err := d.activity(ctx, *r, p, marker); err != nil {
			return &stepError{step: "activity", err: err}
		}
	}
	d.delivered.Add(1)
	return nil
}

// note posts the chatter note, unless one with the marker is there.
func (d *Deliverer) note(ctx context.Context, r Record, p partnerInfo, marker string) error {
	n, err := d.count(ctx, "mail.message", []any{[]any{"model", "=", "res.partner"}, []any{"res_id", "=", p.id}, []any{"body", "ilike", marker}})
	if err != nil || n > 0 {
		return err
	}
	text := d.noteText(ctx, r)
	url := ""
	if d.Config.RecordingURL != nil && r.LinkedID != "" && r.Answered() {
		url = d.Config.RecordingURL(r.LinkedID)
	}
	if url != "" && d.json2(ctx) {
		// Over JSON-2 (Odoo 19) message_post escapes HTML and shows a bare
		// URL as text: a note with a link is a mail.message with an HTML
		// body (ODOO-WIRE.md, "A link in a chatter note").
		note, err := d.noteSubtype(ctx)
		if err != nil {
			return err
		}
		body := "<p>" + html.EscapeString(text) + ` <a href="` + html.EscapeString(url) + `">Recording</a> ` + html.EscapeString(marker) + "</p>"
		_, err = d.Odoo.Execute(ctx, "mail.message", "create", []any{map[string]any{"model": "res.partner", "res_id": p.id,
			"body": body, "message_type": "comment", "subtype_id": note}}, nil)
		return err
	}
	if url != "" {
		text += " Recording: " + url // Odoo 16 shows a bare URL as a link
	}
	_, err = d.Odoo.Execute(ctx, "res.partner", "message_post", []any{[]any{p.id}},
		map[string]any{"body": text + " " + marker, "message_type": "comment", "subtype_xmlid": "mail.mt_note"})
	return err
}

// json2 reports whether the client speaks JSON-2.
func (d *Deliverer) json2(ctx context.Context) bool {
	a, ok := d.Odoo.(interface {
		API(context.Context) (string, error)
	})
	if !ok {
		return false
	}
	api, err := a.API(ctx)
	return err == nil && api == odoo.JSON2
}

// noteSubtype finds, once, the id of the Note subtype (mail.mt_note).
func (d *Deliverer) noteSubtype(ctx context.Context) (int, error) {
	d.mu.Lock()
	id := d.noteSubtypeID
	d.mu.Unlock()
	if id != 0 {
		return id, nil
	}
	res, err := d.Odoo.Execute(ctx, "mail.message.subtype", "search_read", []any{[]any{[]any{"name", "=", "Note"}, []any{"internal", "=", true}}},
		map[string]any{"fields": []any{"name"}, "limit": 1})
	if err != nil {
		return 0, err
	}
	rows, _ := res.([]any)
	if len(rows) == 1 {
		m, _ := rows[0].(map[string]any)
		id, _ = odoo.Int(m["id"])
	}
	if id == 0 {
		return 0, fmt.Errorf("calllog: Odoo has no internal Note subtype (mail.mt_note): %w", odoo.ErrServer)
	}
	d.mu.Lock()
	d.noteSubtypeID = id
	d.mu.Unlock()
	return id, nil
}

// stepError says which post failed: the note, or the missed-call activity.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// claim waits until no other worker posts this call, and takes it.
func (d *Deliverer) claim(ctx context.Context, id string) (release func(), err error) {
	for {
		d.mu.Lock()
		if d.inFlight == nil {
			d.inFlight = map[string]chan struct{}{}
		}
		busy, ok := d.inFlight[id]
		if !ok {
			done := make(chan struct{})
			d.inFlight[id] = done
			d.mu.Unlock()
			return func() {
				d.mu.Lock()
				delete(d.inFlight, id)
				d.mu.Unlock()
				close(done)
			}, nil
		}
		d.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

type partnerInfo struct {
	id, salesperson int
	name            string
}

// partner is the record's partner: ODOO_PARTNER_ID when the call had one,
// else the directory's answer for the number. A partner deleted since is
// treated as unknown.
func (d *Deliverer) partner(ctx context.Context, r Record, found lookup.Result) (partnerInfo, error) {
	if r.PartnerID > 0 {
		res, err := d.Odoo.Execute(ctx, "res.partner", "search_read", []any{[]any{[]any{"id", "=", r.PartnerID}}},
			map[string]any{"fields": []any{"display_name", "user_id"}, "context": map[string]any{"active_test": false}})
		if err != nil {
			return partnerInfo{}, err
		}
		if recs := odoo.Records(res); len(recs) == 1 {
			p := partnerInfo{id: r.PartnerID, name: odoo.String(recs[0]["display_name"])}
			p.salesperson, _ = odoo.Many2one(recs[0]["user_id"])
			return p, nil
		}
	}
	if found.Status != lookup.Found {
		return partnerInfo{}, nil
	}
	return partnerInfo{id: found.Partner.ID, name: found.Partner.DisplayName, salesperson: found.Partner.SalespersonID}, nil
}

func (d *Deliverer) count(ctx context.Context, model string, domain []any) (int, error) {
	res, err := d.Odoo.Execute(ctx, model, "search_count", []any{domain}, nil)
	if err != nil {
		return 0, err
	}
	return intOf(res), nil
}

// activity creates the "Call back" activity for a missed call.
func (d *Deliverer) activity(ctx context.Context, r Record, p partnerInfo, marker string) error {
	n, err := d.count(ctx, "mail.activity", []any{[]any{"res_model", "=", "res.partner"}, []any{"res_id", "=", p.id}, []any{"note", "ilike", marker}})
	if err != nil || n > 0 {
		return err
	}
	callType, err := d.callType(ctx)
	if err != nil {
		return err
	}
	loc := d.Config.Location
	if loc == nil {
		loc = time.Local
	}
	name := p.name
	if name == "" {
		name = lookup.Pretty(r.Number)
	}
	vals := map[string]any{
		"res_id":           p.id,
		"activity_type_id": callType,
		"summary":          "Call back " + name,
		"note":             fmt.Sprintf("Missed call from %s at %s %s", lookup.Pretty(r.Number), r.Start.In(loc).Format("15:04"), marker),
		"date_deadline":    r.End.In(loc).Format("2006-01-02"),
	}
	called, _ := d.Directory.UserID(r.User)
	user := p.salesperson
	if d.Config.ActivityUser == ActivityCalledUser && called != 0 || user == 0 {
		user = called
	}
	if user != 0 {
		vals["user_id"] = user
	}
	// The context names the document model, so the activity needs no
	// res_model_id: that id lives in ir.model, which a user outside
	// Administration/Access Rights may not read (docs/odoo-wire.md).
	_, err = d.Odoo.Execute(ctx, "mail.activity", "create", []any{vals},
		map[string]any{"context": map[string]any{"default_res_model": "res.partner"}})
	return err
}

// callType finds, once, the "Call" activity type.
func (d *Deliverer) callType(ctx context.Context) (int, error) {
	d.mu.Lock()
	c := d.callTypeID
	d.mu.Unlock()
	if c != 0 {
		return c, nil
	}
	c, err := d.callActivityType(ctx)
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.callTypeID = c
	d.mu.Unlock()
	return c, nil
}

// callActivityType is the activity type of the phonecall category named
// "Call", else the first of that category, else one named like "call".
func (d *Deliverer) callActivityType(ctx context.Context) (int, error) {
	for _, domain := range [][]any{{[]any{"category", "=", "phonecall"}}, {[]any{"name", "ilike", "call"}}} {
		res, err := d.Odoo.Execute(ctx, "mail.activity.type", "search_read", []any{domain}, map[string]any{"fields": []any{"name"}})
		if err != nil {
			return 0, err
		}
		recs := odoo.Records(res)
		for _, r := range recs {
			if odoo.String(r["name"]) == "Call" {
				id, _ := odoo.Int(r["id"])
				return id, nil
			}
		}
		if len(recs) > 0 {
			id, _ := odoo.Int(recs[0]["id"])
			return id, nil
		}
	}
	return 0, errors.New("calllog: Odoo has no Call activity type; is the Discuss (mail) app installed?")
}

// noteText says what happened, e.g. "☎ Incoming call from +32 2 555 12 34,
// answered by John Seller (101), 3 min 12 s".
func (d *Deliverer) noteText(ctx context.Context, r Record) string {
	if r.PBX != "" {
		return d.callText(ctx, r) + " (PBX " + r.PBX + ")"
	}
	return d.callText(ctx, r)
}

func (d *Deliverer) callText(ctx context.Context, r Record) string {
	num := lookup.Pretty(r.Number)
	if num == "" {
		num = "an unknown number"
	}
	who := d.userLabel(ctx, r)
	talk := humanDuration(r.Talk.Duration)
	switch {
	case r.Direction == Incoming && r.Answered():
		return fmt.Sprintf("☎ Incoming call from %s, answered by %s, %s", num, who, talk)
	case r.Direction == Incoming:
		if r.User != "" || r.Exten != "" {
			return fmt.Sprintf("☎ Missed call from %s (rang %s)", num, who)
		}
		return fmt.Sprintf("☎ Missed call from %s", num)
	case r.Answered():
		kind := "Outgoing call"
		if r.Direction == Click {
			kind = "Click-to-dial call"
		}
		return fmt.Sprintf("☎ %s to %s by %s, %s", kind, num, who, talk)
	}
	return fmt.Sprintf("☎ Outgoing call to %s by %s, not answered (%s)", num, who, strings.ToLower(cmp.Or(r.Status, "no answer")))
}

// userLabel is "John Seller (101)", from res.users, else the login.
func (d *Deliverer) userLabel(ctx context.Context, r Record) string {
	name := r.User
	if uid, ok := d.Directory.UserID(r.User); ok && uid != 0 {
		if n := d.userName(ctx, uid); n != "" {
			name = n
		}
	}
	switch {
	case name != "" && r.Exten != "":
		return fmt.Sprintf("%s (%s)", name, r.Exten)
	case name != "":
		return name
	case r.Exten != "":
		return r.Exten
	}
	return "someone"
}

func (d *Deliverer) userName(ctx context.Context, uid int) string {
	d.mu.Lock()
	n, ok := d.userNames[uid]
	d.mu.Unlock()
	if ok {
		return n
	}
	res, err := d.Odoo.Execute(ctx, "res.users", "search_read", []any{[]any{[]any{"id", "=", uid}}},
		map[string]any{"fields": []any{"name"}, "context": map[string]any{"active_test": false}})
	if err != nil {
		return ""
	}
	if recs := odoo.Records(res); len(recs) == 1 {
		n = odoo.String(recs[0]["name"])
	}
	d.mu.Lock()
	if d.userNames == nil {
		d.userNames = map[int]string{}
	}
	d.userNames[uid] = n
	d.mu.Unlock()
	return n
}

func humanDuration(t time.Duration) string {
	s := int(t.Round(time.Second).Seconds())
	if s < 60 {
		return fmt.Sprintf("%d s", s)
	}
	return fmt.Sprintf("%d min %d s", s/60, s%60)
}

func intOf(v any) int {
	n, _ := odoo.Int(v)
	return n
}
