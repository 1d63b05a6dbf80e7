package dialplan

import (
	"net/netip"
	"strconv"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/lookup"
)

// PBX is one Asterisk server: the addresses its FastAGI sessions come
// from, how its users write numbers, and the Odoo company its lines serve.
type PBX struct {
	Name       string
	Allow      []netip.Prefix
	Normalizer lookup.Normalizer
	Company    int // res.company id; 0: none
}

// PBXFor is the PBX a session from addr belongs to: the one whose allow
// list holds it. With a single PBX, that one. The config keeps the lists
// apart, so an address is one PBX at most.
func (st *Settings) PBXFor(addr netip.Addr) PBX {
	if len(st.PBXs) == 1 {
		return st.PBXs[0]
	}
	for _, p := range st.PBXs {
		for _, pr := range p.Allow {
			if pr.Contains(addr) {
				return p
			}
		}
	}
	return PBX{}
}

// PBX is the PBX of that name, and whether there is one.
func (st *Settings) PBX(name string) (PBX, bool) {
	for _, p := range st.PBXs {
		if p.Name == name {
			return p, true
		}
	}
	if len(st.PBXs) == 0 && name == "" {
		return PBX{}, true
	}
	return PBX{}, false
}

// Several reports more than one PBX: records and cards then name theirs.
func (st *Settings) Several() bool { return len(st.PBXs) > 1 }

// line is what a lookup for a session on pbx knows of the called line.
// The dialplan may name the line's company in argument 2; ok is false when
// that argument is there but no company id, and the PBX's company applies.
func line(s *agi.Session, pbx PBX) (l lookup.Line, ok bool) {
	l = lookup.Line{Company: pbx.Company}
	if pbx.Normalizer.Country != "" {
		l.Normalizer = &pbx.Normalizer
	}
	a := s.Arg(2)
	if a == "" {
		return l, true
	}
	id, err := strconv.Atoi(a)
	if err != nil || id <= 0 {
		return l, false
	}
	l.Company = id
	return l, true
}
