package odootest

import (
	"fmt"
	"html"
	"slices"
	"strings"
)

// Sales levels of a user's Sales group (ODOO-WIRE.md, "CRM leads").
const (
	SalesNone = ""    // no Sales group: crm.lead is refused
	SalesOwn  = "own" // Sales / User: Own Documents Only
	SalesAll  = "all" // Sales / User: All Documents
)

// Lead is one crm.lead.
type Lead struct {
	ID          int
	Name        string
	ContactName string
	Phone       string
	UserID      int // salesperson; 0 when empty
	CreateUID   int
	CompanyID   int
}

// SetCRM installs or removes the CRM app.
func (s *Server) SetCRM(on bool) { set(&s.mu, &s.crm, on) }

// SetSales gives a user a Sales group level.
func (s *Server) SetSales(login, level string) {
	s.updateUser(login, func(u *User) { u.Sales = level })
}

// Leads returns the created leads, oldest first.
func (s *Server) Leads() []Lead {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Lead(nil), s.leads...)
}

func (s *Server) noLeadRight(op string) error {
	return &Fault{4, fmt.Sprintf("You are not allowed to %s 'Lead/Opportunity' (crm.lead) records.\n\nThis operation is allowed for the following groups:\n\t- Sales/User: Own Documents Only\n\nContact your administrator to request access if necessary.", op)}
}

// leadFields are the fields a lead's create here may set.
var leadFields = map[string]bool{"name": true, "contact_name": true, "phone": true, "user_id": true, "company_id": true}

// crmLead is crm.lead's search_count, create and message_post as uid.
func (s *Server) crmLead(uid int, fn string, args []any, kw map[string]any) (any, error) {
	if !s.crm {
		return nil, &Fault{2, "Object crm.lead doesn't exist"}
	}
	u := s.users[uid]
	if u.Sales == SalesNone && !u.Admin {
		op := map[string]string{"create": "create", "message_post": "modify"}[fn]
		if op == "" {
			op = "access"
		}
		return nil, s.noLeadRight(op)
	}
	switch fn {
	case "search_count":
		return len(s.leads), nil
	case "create":
		list, single := valsList(args)
		var ids []any
		for _, vals := range list {
			for k := range vals {
				if !leadFields[k] { // mobile included: gone from crm.lead on 19, not emulated on 16
					return nil, &Fault{2, fmt.Sprintf("Invalid field '%s' on model 'crm.lead'", k)}
				}
			}
			l := Lead{UserID: uid, CreateUID: uid} // user_id defaults to the creator
			l.Name, _ = vals["name"].(string)
			l.ContactName, _ = vals["contact_name"].(string)
			l.Phone, _ = vals["phone"].(string)
			var err error
			if l.CompanyID, err = s.companyOf(uid, vals, "crm.lead", "Lead/Opportunity"); err != nil {
				return nil, err
			}
			if uv, ok := vals["user_id"]; ok {
				l.UserID = toInt(uv) // false leaves it empty
			}
			if strings.TrimSpace(l.Name) == "" {
				return nil, &Fault{2, "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n\nModel: Lead/Opportunity (crm.lead)\nField: Opportunity (name)"}
			}
			if l.UserID != 0 && l.UserID != uid && u.Sales != SalesAll && !u.Admin {
				if s.version >= 19 {
					return nil, &Fault{4, fmt.Sprintf("Uh-oh! Looks like you have stumbled upon some top-secret records.\n\nSorry, %s (id=%d) doesn't have 'create' access to:\n- Lead/Opportunity (crm.lead)", u.Name, uid)}
				}
				return nil, &Fault{4, "Due to security restrictions, you are not allowed to create 'Lead/Opportunity' (crm.lead) records.\n\nContact your administrator to request access if necessary.\n\n(Document type: Lead/Opportunity, Operation: create)"}
			}
			s.nextID++
			l.ID = s.nextID
			s.leads = append(s.leads, l)
			ids = append(ids, l.ID)
		}
		return created(ids, single), nil
	case "message_post":
		ids, _ := first(args).([]any)
		body, _ := kw["body"].(string)
		if u.Email == "" { // as on a partner: the author needs an email
			return nil, errNoEmail
		}
		for _, v := range ids {
			if !slices.ContainsFunc(s.leads, func(l Lead) bool { return l.ID == toInt(v) }) {
				return nil, &Fault{2, fmt.Sprintf("Record does not exist or has been deleted.\n(Record: crm.lead(%d,), User: %d)", toInt(v), uid)}
			}
			s.nextID++
			s.messages = append(s.messages, Message{ID: s.nextID, Model: "crm.lead", ResID: toInt(v), Body: "<p>" + html.EscapeString(body) + "</p>", AuthorUID: uid})
		}
		return s.nextID, nil
	}
	return nil, &Fault{1, "Traceback (most recent call last):\nAttributeError: 'crm.lead' object has no attribute '" + fn + "'"}
}
