package lookup

// Created indexes a partner that odoo-agi just created, from the values it
// sent, so the next call from its number is FOUND before the refresh reads
// the record as Odoo stored it (its write_date then replaces this one).
// display is Odoo's display_name ("Company, Name" for a company's contact).
func (d *Directory) Created(id int, name, display, e164 string, salespersonID int) {
	var user any = false
	if salespersonID != 0 {
		user = []any{salespersonID, ""}
	}
	r := map[string]any{"id": id, "name": name, "display_name": display, "phone": e164, "active": true,
		"is_company": false, "parent_id": false, "commercial_partner_id": []any{id, name}, "user_id": user,
		"country_id": false, "category_id": []any{}, "write_date": false}
	d.mu.Lock()
	m := d.meta()
	d.mu.Unlock()
	d.wmu.Lock()
	defer d.wmu.Unlock()
	next := d.idx.Load().clone()
	d.apply(next, m, r)
	d.idx.Store(next)
}

// HasField reports whether res.partner has field f in this Odoo (mobile is
// gone on 19), as the last sync read it.
func (d *Directory) HasField(f string) bool { return d.hasField(f) }
