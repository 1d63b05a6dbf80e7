package calllog

import (
	"context"
	"errors"
	"fmt"
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
	MinBackoff         time.Duration // default 1s
	MaxBackoff         time.Duration // default 5m
	Logger             *slog.Logger
}

// Deliverer posts spooled calls to Odoo.
type Deliverer struct {
	Odoo      Odoo
	Directory Directory
	Config    Config

	mu        sync.Mutex
	modelID   int
	callType  int
	userNames map[int]string

	delivered, skipped, rejected atomic.Int64
}

// DeliveryStats counts what the worker did.
type DeliveryStats struct{ Delivered, Skipped, Rejected int64 }

// Stats reports the counters.
func (d *Deliverer) Stats() DeliveryStats {
	return DeliveryStats{d.delivered.Load(), d.skipped.Load(), d.rejected.Load()}
}

func (d *Deliverer) log() *slog.Logger {
	if d.Config.Logger == nil {
		return slog.Default()
	}
	return d.Config.Logger
}

// Run delivers records from sp until ctx ends. A record that fails stays
// at the head of the spool and is retried with backoff; each new kind of
// failure is logged once. Only a record Odoo rejects with a server error
// five times is given up, with an error line.
func (d *Deliverer) Run(ctx context.Context, sp *Spool) {
	minB, maxB := d.Config.MinBackoff, d.Config.MaxBackoff
	if minB <= 0 {
		minB = time.Second
	}
	if maxB <= 0 {
		maxB = 5 * time.Minute
	}
	backoff, attempts, lastMsg := minB, 0, ""
	for {
		e, err := sp.Next(ctx)
		if err != nil {
			return
		}
		err = d.Deliver(ctx, e.Record)
		if err == nil {
			sp.Ack(e.Next)
			if lastMsg != "" {
				d.log().Info("calllog: delivering to Odoo again", "backlog_bytes", sp.Stats().Pending)
			}
			backoff, attempts, lastMsg = minB, 0, ""
			continue
		}
		if ctx.Err() != nil {
			return
		}
		attempts++
		var oe *odoo.Error
		if errors.As(err, &oe) && recordSpecific(oe) && attempts >= 5 {
			d.log().Error("calllog: Odoo rejects this call log; giving up on it", "uniqueid", e.Record.UniqueID, "err", err)
			d.rejected.Add(1)
			sp.Ack(e.Next)
			backoff, attempts = minB, 0
			continue
		}
		if msg := err.Error(); msg != lastMsg {
			hint := "the calls wait in the spool and are retried"
			if errors.Is(err, odoo.ErrAccess) {
				hint = "the Odoo account lacks a right: give it Extra Rights > Contact Creation (see README); the calls wait in the spool and are retried"
			}
			d.log().Error("calllog: cannot deliver to Odoo; "+hint, "err", err)
			lastMsg = msg
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxB)
	}
}

// Deliver posts one record, unless it was posted before: the note and the
// activity carry the uniqueid and are searched for first.
func (d *Deliverer) Deliver(ctx context.Context, r Record) error {
	// The spool keeps the number as the PBX gave it; read it as a call would.
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	found := d.Directory.Lookup(lctx, r.Number)
	cancel()
	if found.E164 != "" {
		r.Number = found.E164
	}
	p, err := d.partner(ctx, r, found)
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
	marker := "[odoo-agi call " + r.UniqueID + "]"
	n, err := d.count(ctx, "mail.message", []any{[]any{"model", "=", "res.partner"}, []any{"res_id", "=", p.id}, []any{"body", "ilike", marker}})
	if err != nil {
		return err
	}
	if n == 0 {
		body := d.noteText(ctx, r) + " " + marker
		_, err := d.Odoo.Execute(ctx, "res.partner", "message_post", []any{[]any{p.id}},
			map[string]any{"body": body, "message_type": "comment", "subtype_xmlid": "mail.mt_note"})
		if err != nil {
			return err
		}
	}
	if r.Missed() && d.Config.MissedCallActivity && p.id != d.Config.UnknownPartnerID {
		err := d.activity(ctx, r, p, marker)
		var oe *odoo.Error
		if errors.As(err, &oe) && oe.Fault == 2 {
			// A user error about this activity (e.g. the assignee cannot
			// see the partner): the note is posted; don't hold the spool.
			d.log().Warn("calllog: Odoo refused the missed-call activity; the note was posted", "uniqueid", r.UniqueID, "err", err)
		} else if err != nil {
			return err
		}
	}
	d.delivered.Add(1)
	return nil
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
	modelID, callType, err := d.ids(ctx)
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
		"res_model_id":     modelID,
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
	_, err = d.Odoo.Execute(ctx, "mail.activity", "create", []any{vals}, nil)
	return err
}

// ids finds, once, the ir.model id of res.partner and the "Call" activity type.
func (d *Deliverer) ids(ctx context.Context) (int, int, error) {
	d.mu.Lock()
	m, c := d.modelID, d.callType
	d.mu.Unlock()
	if m != 0 && c != 0 {
		return m, c, nil
	}
	first := func(model string, domain []any) (int, error) {
		res, err := d.Odoo.Execute(ctx, model, "search", []any{domain}, map[string]any{"limit": 1})
		if err != nil {
			return 0, err
		}
		ids, _ := res.([]any)
		if len(ids) == 0 {
			return 0, nil
		}
		return intOf(ids[0]), nil
	}
	m, err := first("ir.model", []any{[]any{"model", "=", "res.partner"}})
	if err != nil {
		return 0, 0, err
	}
	c, err = first("mail.activity.type", []any{[]any{"category", "=", "phonecall"}})
	if err == nil && c == 0 {
		c, err = first("mail.activity.type", []any{[]any{"name", "ilike", "call"}})
	}
	if err != nil {
		return 0, 0, err
	}
	if m == 0 || c == 0 {
		return 0, 0, fmt.Errorf("calllog: Odoo has no %s; is the Discuss (mail) app installed?", map[bool]string{true: "res.partner model", false: "Call activity type"}[m == 0])
	}
	d.mu.Lock()
	d.modelID, d.callType = m, c
	d.mu.Unlock()
	return m, c, nil
}

// noteText says what happened, e.g. "☎ Incoming call from +32 2 555 12 34,
// answered by John Seller (101), 3 min 12 s".
func (d *Deliverer) noteText(ctx context.Context, r Record) string {
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
	return fmt.Sprintf("☎ Outgoing call to %s by %s, not answered (%s)", num, who, strings.ToLower(orDefault(r.Status, "no answer")))
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

// recordSpecific reports a fault about this record rather than about the
// setup: a server traceback (Fault 1) or a record that no longer exists.
// Rights (Fault 4) and a posting user without email are fixed by an admin,
// so those records wait instead.
func recordSpecific(e *odoo.Error) bool {
	return e.Fault == 1 || e.Fault == 2 && strings.Contains(e.Msg, "does not exist")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func intOf(v any) int {
	n, _ := odoo.Int(v)
	return n
}
