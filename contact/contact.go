// Package contact turns a call from an unknown number into an Odoo contact,
// on a signed-in user's behalf: created as the system account, with the
// number in E.164 and the user as salesperson, noted in the chatter with
// the user's name (the system account is the author Odoo shows), and
// indexed at once so that the next call from the number is FOUND.
package contact

import (
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
	Created(id int, name, e164 string, salespersonID int)
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
}

// Result is the contact, new or the one that already had the number.
type Result struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Existing bool   `json:"existing"` // the number was a contact already: nothing was created
}

// ErrNotNumber is a Request whose number is not E.164.
var ErrNotNumber = errors.New("contact: not an E.164 number")

// Create makes the contact, or returns the one the number already has.
func (m *Maker) Create(ctx context.Context, req Request) (Result, error) {
	if !strings.HasPrefix(req.E164, "+") || len(req.E164) < 4 {
		return Result{}, ErrNotNumber
	}
	if r := m.Index.Lookup(ctx, req.E164); r.Status == lookup.Found {
		return Result{ID: r.Partner.ID, Name: r.Partner.DisplayName, Existing: true}, nil
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = lookup.Pretty(req.E164)
	}
	vals := map[string]any{"name": name, "phone": req.E164}
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
	m.Index.Created(id, name, req.E164, seller)
	note := fmt.Sprintf("Created from a call from %s by %s (%s), with odoo-agi.", lookup.Pretty(req.E164), req.UserName, req.Login)
	if _, err := m.Odoo.Execute(ctx, "res.partner", "message_post", []any{[]any{id}},
		map[string]any{"body": note, "message_type": "comment", "subtype_xmlid": "mail.mt_note"}); err != nil {
		m.log().Warn("contact: created, but the chatter line naming the user failed", "partner", id, "err", err)
	}
	m.log().Info("contact: created from a call", "partner", id, "by", req.Login)
	return Result{ID: id, Name: name}, nil
}

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
