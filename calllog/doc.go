// Package calllog records every call that went through odoo-agi and
// delivers it to Odoo as a note on the partner's chatter and, for a missed
// call, a "Call" activity, using only Odoo's standard models over XML-RPC.
//
// A record is appended to an on-disk spool and fsync'ed before the
// hangup handler returns; a worker then delivers it with retries. Delivery
// is idempotent: every post carries the call's uniqueid and is looked up
// before it is made, so a crash between posting and remembering never
// posts twice. The spool survives Odoo outages and kill -9; it is bounded,
// and drops the oldest records only when full, counting them.
package calllog
