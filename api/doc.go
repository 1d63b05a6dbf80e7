// Package api is the control API: POST /api/v1/originate for
// click-to-dial, GET /healthz and GET /metrics. The originate route needs
// HTTP basic auth against a bcrypt hash, and failed attempts are
// rate-limited per client address; health and metrics show no secrets and
// need none.
//
// It translates HTTP to the dialplan's call flow and back. It never talks
// to Asterisk or Odoo itself, and it never logs a password or a hash.
package api
