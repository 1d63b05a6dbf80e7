// Package api is the control API: POST /api/v1/originate for
// click-to-dial, GET /healthz and GET /metrics. The originate route needs
// HTTP basic auth against a bcrypt hash; health and metrics show no
// secrets and need none. With Web set it also serves the phone page.
// Every credential check reserves its place in a Limiter before the slow
// step, per login and per client address (docs/security.md).
//
// It translates HTTP to the dialplan's call flow and back. It never talks
// to Asterisk or Odoo itself, and it never logs a password or a hash.
package api
