// Package lookup turns a raw caller ID into E.164 and finds the Odoo
// contact that has it, in memory.
//
// It owns number normalization (phonenumbers) and the Directory: an
// LRU-bounded index of res.partner numbers that a full sync fills, an
// incremental sync on write_date keeps fresh, a periodic reconcile prunes,
// and a snapshot carries across restarts while Odoo is down. It reads Odoo
// through package odoo.
//
// Files: directory.go (the Directory and Lookup), index.go (the index and
// record decoding), sync.go (sync, refresh, reconcile), live.go (the live
// search on a miss), snapshot.go, normalize.go.
//
// A Lookup never waits on Odoo past its context. It never writes to Odoo.
package lookup
