// Package contact turns a call from an unknown number into an Odoo contact,
// on a signed-in user's behalf: created as the system account, with the
// number in E.164 and the user as salesperson, noted in the chatter with
// the user's name (the system account is the author Odoo shows), and
// indexed at once so that the next call from the number is FOUND.
package contact

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// Odoo runs model methods as the system account; *odoo.Client satisfies it.
type Odoo interface {
	Execute(ctx context.Context, model, method string, args []any, kwargs map[string]any) (any, error)
}

// Index is the partner index the contact joins; *lookup.Directory
// satisfies it.
type Index interface {
	Lookup(ctx context.Context, raw string) lookup.Result
	UserID(login string) (int, bool)
	Created(id int, name, display, e164 string, salespersonID int)
	HasField(f string) bool
	Refresh(ctx context.Context) error
}

// Maker creates contacts.
type Maker struct {
	Odoo   Odoo
	Index  Index
	Logger *slog.Logger
}

// Request is one Create contact click.
type Request struct {
	E164     string // the caller's number
	Name     string // the name the user typed; "" takes the number
	Login    string // the user who clicked: the contact's salesperson
	UserName string // their name, for the chatter line
	// CompanyID is the called line's Odoo company, which the contact or
	// lead belongs to; 0 leaves it shared. Odoo never takes it from the
	// context: it must be in the values.
	CompanyID int
}

// Result is the contact, new or the one that already had the number.
type Result struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Existing bool   `json:"existing"` // the number was a contact already: nothing was created
	// Beside is the contact whose numbers were all taken, so that this new
	// one was made under its company instead.
	Beside int `json:"beside,omitempty"`
}

// ErrNotNumber is a Request whose number is not E.164.
var ErrNotNumber = errors.New("contact: not an E.164 number")

// Create makes the contact, or returns the one the number already has.
func (m *Maker) Create(ctx context.Context, req Request) (Result, error) {
	if res, done, err := m.known(ctx, req.E164); done {
		return res, err
	}
	return m.create(ctx, req, nil, "")
}

// create makes the contact with these extra values (a parent company,
// named company).
func (m *Maker) create(ctx context.Context, req Request, extra map[string]any, company string) (Result, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = lookup.Pretty(req.E164)
	}
	vals := map[string]any{"name": name, "phone": req.E164}
	if req.CompanyID > 0 {
		vals["company_id"] = req.CompanyID
	}
	for k, v := range extra {
		vals[k] = v
	}
	seller, _ := m.Index.UserID(req.Login)
	if seller != 0 {
		vals["user_id"] = seller
	}
	v, err := m.Odoo.Execute(ctx, "res.partner", "create", []any{vals}, nil)
	if err != nil {
		return Result{}, fmt.Errorf("contact: create %s: %w", lookup.Pretty(req.E164), err)
	}
	id, ok := createdID(v)
	if !ok {
		return Result{}, fmt.Errorf("contact: Odoo answered the create with %v, not an id: %w", v, odoo.ErrServer)
	}
	display := name
	if company != "" {
		display = company + ", " + name // as Odoo shows a company's contact
	}
	m.Index.Created(id, name, display, req.E164, seller)
	m.note(ctx, id, fmt.Sprintf("Created from a call from %s by %s (%s), with odoo-agi.", lookup.Pretty(req.E164), req.UserName, req.Login))
	m.log().Info("contact: created from a call", "partner", id, "by", req.Login)
	return Result{ID: id, Name: name}, nil
}

// AddTo puts the caller's number on an existing contact: as its phone when
// it has none, else (on Odoo 16) as its mobile when that is free. A
// contact whose numbers are both taken keeps them: a new contact is made
// under its company instead. Request.Name names that new contact.
func (m *Maker) AddTo(ctx context.Context, partnerID int, req Request) (Result, error) {
	if res, done, err := m.known(ctx, req.E164); done {
		return res, err
	}
	fields := []any{"display_name", "phone", "commercial_partner_id", "is_company"}
	mobile := m.Index.HasField("mobile")
	if mobile {
		fields = append(fields, "mobile")
	}
	v, err := m.Odoo.Execute(ctx, "res.partner", "search_read", []any{[]any{[]any{"id", "=", partnerID}}},
		map[string]any{"fields": fields, "limit": 1})
	if err != nil {
		return Result{}, fmt.Errorf("contact: read partner %d: %w", partnerID, err)
	}
	recs, _ := v.([]any)
	if len(recs) != 1 {
		return Result{}, fmt.Errorf("contact: partner %d is gone from Odoo: %w", partnerID, odoo.ErrUser)
	}
	rec, _ := recs[0].(map[string]any)
	name := odoo.String(rec["display_name"])
	field := ""
	switch {
	case odoo.String(rec["phone"]) == "":
		field = "phone"
	case mobile && odoo.String(rec["mobile"]) == "":
		field = "mobile"
	}
	if field == "" {
		// Both numbers taken: never overwrite one; a new contact goes under
		// the company (a person on their own gets one beside them).
		extra, companyName := map[string]any{}, ""
		if company, cname := odoo.Many2one(rec["commercial_partner_id"]); company != 0 && (company != partnerID || odoo.Bool(rec["is_company"])) {
			extra["parent_id"], companyName = company, cname
		}
		res, err := m.create(ctx, req, extra, companyName)
		res.Beside = partnerID
		return res, err
	}
	if _, err := m.Odoo.Execute(ctx, "res.partner", "write", []any{[]any{partnerID}, map[string]any{field: req.E164}}, nil); err != nil {
		return Result{}, fmt.Errorf("contact: add %s to partner %d: %w", lookup.Pretty(req.E164), partnerID, err)
	}
	m.note(ctx, partnerID, fmt.Sprintf("%s added as %s from a call by %s (%s), with odoo-agi.", lookup.Pretty(req.E164), field, req.UserName, req.Login))
	if err := m.Index.Refresh(ctx); err != nil {
		m.log().Warn("contact: number added; the index takes it at the next refresh", "partner", partnerID, "err", err)
	}
	return Result{ID: partnerID, Name: name}, nil
}

func (m *Maker) note(ctx context.Context, id int, text string) {
	if _, err := m.Odoo.Execute(ctx, "res.partner", "message_post", []any{[]any{id}},
		map[string]any{"body": text, "message_type": "comment", "subtype_xmlid": "mail.mt_note"}); err != nil {
		m.log().Warn("contact: done, but the chatter line naming the user failed", "partner", id, "err", err)
	}
}

// known checks a number before an action: not E.164 is an error, and a
// number the index already holds is its contact, with nothing to do.
func (m *Maker) known(ctx context.Context, e164 string) (Result, bool, error) {
	if !isE164(e164) {
		return Result{}, true, ErrNotNumber
	}
	if r := m.Index.Lookup(ctx, e164); r.Status == lookup.Found {
		return Result{ID: r.Partner.ID, Name: r.Partner.DisplayName, Existing: true}, true, nil
	}
	return Result{}, false, nil
}

func isE164(s string) bool { return strings.HasPrefix(s, "+") && len(s) >= 4 }

// createdID reads create's answer: an id over XML-RPC, a list of ids over
// JSON-2.
func createdID(v any) (int, bool) {
	if l, ok := v.([]any); ok && len(l) == 1 {
		v = l[0]
	}
	id, ok := odoo.Int(v)
	return id, ok && id > 0
}

func (m *Maker) log() *slog.Logger {
	if m.Logger == nil {
		return slog.Default()
	}
	return m.Logger
}

// Hint is what a user is told when Create contact fails: the right the
// system account lacks, or why else.
func Hint(err error) string {
	switch {
	case errors.Is(err, odoo.ErrAccess):
		return "odoo-agi's Odoo account may not create contacts: ask your admin to give it Extra Rights > Contact Creation."
	case errors.Is(err, odoo.ErrUnreachable):
		return "Odoo does not answer; try again shortly."
	case errors.Is(err, ErrNotNumber):
		return "This caller sent no phone number."
	}
	return "Odoo refused the contact: " + err.Error()
}

// Lead makes a crm.lead for the caller, with the user as salesperson when
// the system account may set one (Sales / User: All Documents). With Own
// Documents Only, Odoo refuses another user there, and the lead keeps no
// salesperson rather than the system account (user_id false).
func (m *Maker) Lead(ctx context.Context, req Request) (Result, error) {
	if !isE164(req.E164) {
		return Result{}, ErrNotNumber
	}
	who := strings.TrimSpace(req.Name)
	vals := map[string]any{"name": "Call from " + cmp.Or(who, lookup.Pretty(req.E164)), "phone": req.E164}
	if req.CompanyID > 0 {
		vals["company_id"] = req.CompanyID
	}
	if who != "" {
		vals["contact_name"] = who
	}
	seller, _ := m.Index.UserID(req.Login)
	vals["user_id"] = false
	if seller != 0 {
		vals["user_id"] = seller
	}
	v, err := m.Odoo.Execute(ctx, "crm.lead", "create", []any{vals}, nil)
	if errors.Is(err, odoo.ErrAccess) && seller != 0 {
		vals["user_id"] = false // Own Documents Only: no salesperson rather than the system account
		v, err = m.Odoo.Execute(ctx, "crm.lead", "create", []any{vals}, nil)
	}
	if err != nil {
		return Result{}, fmt.Errorf("contact: create a lead for %s: %w", lookup.Pretty(req.E164), err)
	}
	id, ok := createdID(v)
	if !ok {
		return Result{}, fmt.Errorf("contact: Odoo answered the lead's create with %v, not an id: %w", v, odoo.ErrServer)
	}
	if _, err := m.Odoo.Execute(ctx, "crm.lead", "message_post", []any{[]any{id}},
		map[string]any{"body": fmt.Sprintf("Created from a call from %s by %s (%s), with odoo-agi.", lookup.Pretty(req.E164), req.UserName, req.Login),
			"message_type": "comment", "subtype_xmlid": "mail.mt_note"}); err != nil {
		m.log().Warn("contact: lead created, but the chatter line naming the user failed", "lead", id, "err", err)
	}
	return Result{ID: id, Name: vals["name"].(string)}, nil
}

// Leads reports whether the system account may create leads: Odoo has
// the CRM app and the account a Sales group. The hint says what is
// missing otherwise.
func (m *Maker) Leads(ctx context.Context) (ok bool, hint string) {
	_, err := m.Odoo.Execute(ctx, "crm.lead", "search_count", []any{[]any{}}, nil)
	switch {
	case err == nil:
		return true, ""
	case errors.Is(err, odoo.ErrAccess):
		return false, "Create lead needs the system account in Sales / User: Own Documents Only (All Documents to make the user the lead's salesperson)"
	case errors.Is(err, odoo.ErrUnreachable):
		return false, "Odoo does not answer"
	}
	return false, "Odoo has no CRM app: Create lead is off"
}
