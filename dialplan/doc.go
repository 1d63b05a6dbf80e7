// Package dialplan holds the call flows Asterisk invokes over FastAGI
// (incoming, outgoing) and the PBX users they route to.
//
// It decides what a call means and which variables Asterisk gets. It never
// talks to Odoo directly: it asks a Directory, which package lookup
// satisfies. Every flow answers within its lookup deadline and leaves the
// call untouched when it cannot help.
package dialplan
