// Package api is the control API: POST /api/v1/originate for
// click-to-dial, and GET /healthz. Every route but /healthz needs HTTP
// basic auth against a bcrypt hash; failed attempts are rate-limited per
// client address.
//
// It translates HTTP to the dialplan's call flow and back. It never talks
// to Asterisk or Odoo itself, and it never logs a password or a hash.
package api
