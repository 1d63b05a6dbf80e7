package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/odoo-agi/odoo-agi/contact"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// createContact is the card's Create contact and Add to: POST /contacts
// with the session's CSRF token and {"number": "+32…", "name": "…"}, and
// "add_to": a partner id to put the number on that contact instead. Odoo
// is written as the system account, with the signed-in user as
// salesperson and named in the chatter.
func (s *Server) createContact(w http.ResponseWriter, r *http.Request) {
	cr, addTo, ok := s.callerAction(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	var res contact.Result
	var err error
	if addTo > 0 {
		res, err = s.Web.Contacts.AddTo(ctx, addTo, cr)
	} else {
		res, err = s.Web.Contacts.Create(ctx, cr)
	}
	if err != nil {
		s.Logger.Warn("web: could not create a contact", "by", cr.Login, "err", err)
		code := http.StatusBadGateway
		switch {
		case errors.Is(err, odoo.ErrAccess):
			code = http.StatusForbidden
		case errors.Is(err, odoo.ErrUnreachable):
			code = http.StatusServiceUnavailable
		}
		fail(w, code, contact.Hint(err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// suggest is the dial box's list as the user types: up to 8 partners and
// numbers by a word of the name or the start of a number, from memory.
func (s *Server) suggest(w http.ResponseWriter, r *http.Request) {
	if s.scriptSession(w, r) == nil {
		return
	}
	q := r.URL.Query().Get("q")
	if len(q) > 100 {
		q = q[:100]
	}
	out := s.Web.Directory.Suggest(r.Context(), q, 8)
	if out == nil {
		out = []lookup.Suggestion{}
	}
	writeJSON(w, http.StatusOK, out)
}

// createLead is the card's Create lead: POST /leads, as /contacts.
func (s *Server) createLead(w http.ResponseWriter, r *http.Request) {
	cr, _, ok := s.callerAction(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	res, err := s.Web.Contacts.Lead(ctx, cr)
	if err != nil {
		s.Logger.Warn("web: could not create a lead", "by", cr.Login, "err", err)
		code, msg := http.StatusBadGateway, "Odoo refused the lead: "+err.Error()
		if errors.Is(err, odoo.ErrAccess) {
			code, msg = http.StatusForbidden, "odoo-agi's Odoo account may not create leads: ask your admin for Sales / User: Own Documents Only."
		}
		fail(w, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// callerRequest is the body of a card's action on a caller.
type callerRequest struct {
	Number string `json:"number"`
	Name   string `json:"name"`
	AddTo  int    `json:"add_to,omitempty"` // /contacts: an existing contact to take the number
	// CompanyID is the card's called-line company; only a company a PBX
	// serves is taken.
	CompanyID int `json:"company_id,omitempty"`
}

// callerAction reads a card's action: the page script's session, and a
// JSON callerRequest whose number is made E.164, as a contact.Request for
// the signed-in user. It answers the error itself.
func (s *Server) callerAction(w http.ResponseWriter, r *http.Request) (cr contact.Request, addTo int, ok bool) {
	sess := s.scriptSession(w, r)
	if sess == nil {
		return cr, 0, false
	}
	if s.Web.Contacts == nil {
		fail(w, http.StatusNotFound, "actions on callers are off")
		return cr, 0, false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		fail(w, http.StatusUnsupportedMediaType, "send the body as Content-Type: application/json")
		return cr, 0, false
	}
	var req callerRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || len(req.Name) > 256 {
		fail(w, http.StatusBadRequest, `the body must be {"number": "+3225551234", "name": "Jan Peeters"}, and for /contacts "add_to": a contact's id`)
		return cr, 0, false
	}
	e164, err := s.Web.Normalizer.Caller(req.Number)
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, contact.Hint(contact.ErrNotNumber))
		return cr, 0, false
	}
	if req.CompanyID != 0 && !slices.Contains(s.Web.Companies, req.CompanyID) {
		fail(w, http.StatusUnprocessableEntity, "company_id is not the company of any PBX's lines")
		return cr, 0, false
	}
	u := s.user(sess)
	return contact.Request{E164: e164, Name: req.Name, Login: u.Login, UserName: cmp.Or(s.Web.Directory.UserName(u.Login), u.Login),
		CompanyID: req.CompanyID}, req.AddTo, true
}

// leadsOn reports, from a check made at most every 5 minutes, whether the
// page offers Create lead.
func (s *Server) leadsOn(ctx context.Context) bool {
	if s.Web.Contacts == nil {
		return false
	}
	s.leads.mu.Lock()
	defer s.leads.mu.Unlock()
	if time.Since(s.leads.at) > 5*time.Minute {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s.leads.ok, _ = s.Web.Contacts.Leads(ctx)
		cancel()
		s.leads.at = time.Now()
	}
	return s.leads.ok
}
