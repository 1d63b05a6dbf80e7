package odootest

import (
	"fmt"
	"slices"
)

// Several companies, as ODOO-WIRE.md saw them on real Odoo 16 and 19: an
// account sees the shared partners (company_id false) and those of its own
// companies, all of them when the context names none; a context naming a
// company it lacks is refused; res.company shows it its own companies.

// errBadCompany is what Odoo answers a context that names a company the
// user is not in.
var errBadCompany = &Fault{4, "Access to unauthorized or invalid companies."}

// AddCompany adds a res.company and returns its id. Company 1, "My
// Company", is there from the start, and every user is in it.
func (s *Server) AddCompany(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := len(s.companies) + 1
	s.companies[id] = name
	return id
}

// SetCompanies puts a user in these companies only (the first is its
// current one).
func (s *Server) SetCompanies(login string, ids ...int) {
	s.updateUser(login, func(u *User) { u.CompanyIDs = slices.Clone(ids) })
}

func (u *User) companies() []int {
	if u.CompanyIDs == nil {
		return []int{1}
	}
	return u.CompanyIDs
}

// activeCompanies are the companies a call runs with: the context's
// allowed_company_ids, each of which must be the user's, or else all of
// the user's companies.
func (s *Server) activeCompanies(uid int, kw map[string]any) ([]int, error) {
	own := s.users[uid].companies()
	ctx, _ := kw["context"].(map[string]any)
	list, ok := ctx["allowed_company_ids"].([]any)
	if !ok {
		return own, nil
	}
	var out []int
	for _, v := range list {
		id := toInt(v)
		if !slices.Contains(own, id) {
			return nil, errBadCompany
		}
		out = append(out, id)
	}
	return out, nil
}

// sees reports whether the running call's companies show partner p.
func (s *Server) sees(p *Partner) bool {
	return p.CompanyID == 0 || slices.Contains(s.active, p.CompanyID)
}

// hiddenPartner is the record-rule refusal of a partner of another company.
func (s *Server) hiddenPartner(uid, id int) error {
	u := s.users[uid]
	return &Fault{4, fmt.Sprintf("Due to security restrictions, you are not allowed to access 'Contact' (res.partner) records.\n\nRecords: %s (id=%d)\nUser: %s (id=%d)\n\nThis restriction is due to the following rules:\n- res.partner company\n\nNote: this might be a multi-company issue.", s.partners[id].Name, id, u.Name, uid)}
}

// companyRows are the res.company records the user sees: its own.
func (s *Server) companyRows(uid int) []record {
	var rows []record
	for _, id := range s.users[uid].companies() {
		if name, ok := s.companies[id]; ok {
			rows = append(rows, record{"id": id, "name": name})
		}
	}
	slices.SortFunc(rows, func(a, b record) int { return a["id"].(int) - b["id"].(int) })
	return rows
}

// companyOf checks a company_id in create vals: false or one of the
// user's; a new partner never takes the context's company.
func (s *Server) companyOf(uid int, vals map[string]any, model, label string) (int, error) {
	id := toInt(vals["company_id"])
	if id != 0 && !slices.Contains(s.users[uid].companies(), id) {
		return 0, &Fault{4, fmt.Sprintf("Due to security restrictions, you are not allowed to create '%s' (%s) records.\n\nNote: this might be a multi-company issue.", label, model)}
	}
	return id, nil
}
