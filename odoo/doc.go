// Package odoo is odoo-agi's client for Odoo's external API: login once,
// execute_kw with a context and a deadline, and Faults turned into typed
// errors that name the cause in words an admin can act on. It also reads
// Odoo's generic values (False for empty, [id, "name"] for a many2one), so
// that lookup and calllog decode records the same way.
//
// It knows nothing of calls, numbers or the call log.
package odoo
