// Package ami is a small Asterisk Manager Interface client: it logs in,
// correlates actions and their responses by ActionID, originates calls with
// Async and waits for their OriginateResponse event, pings, and keeps its
// connection up with backoff.
//
// It owns the AMI wire format (manager.c): "Key: Value" lines ended by
// CRLF, a blank line ending each message. It never writes a CR or LF that
// came from a value, so no value can become a second header or action.
// It knows nothing about Odoo or about what is being dialed.
package ami
