package odootest

// TB is the part of testing.TB that StartT needs; taking it instead of
// testing.TB keeps the testing package out of the odoo-agi binary (the
// demo links this package).
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// StartT starts a fresh emulator for a test and stops it when the test ends.
func StartT(t TB) (*Server, string) {
	t.Helper()
	o := New()
	url, err := o.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o, url
}
