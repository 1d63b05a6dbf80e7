package odootest

import "github.com/odoo-agi/odoo-agi/internal/wait"

// StartT starts a fresh emulator for a test and stops it when the test ends.
func StartT(t wait.TB) (*Server, string) {
	t.Helper()
	o := New()
	return wait.Started(t, o, o.Start, o.Close)
}
