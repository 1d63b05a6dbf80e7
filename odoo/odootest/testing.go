package odootest

import (
	"os"
	"time"

	"github.com/odoo-agi/odoo-agi/internal/wait"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// SystemKey is the system account's API key in an emulator that StartT
// starts in Odoo 19 mode.
const SystemKey = "0123456789abcdef0123456789abcdef01234567"

// TestAPI is the API the test suites run against: odoo.JSON2 on an Odoo 19
// emulator when $ODOO_AGI_TEST_API is "json2" (.ci/run runs the lookup
// and call-log suites once that way too), else odoo.XMLRPC on Odoo 16.
func TestAPI() string {
	if os.Getenv("ODOO_AGI_TEST_API") == odoo.JSON2 {
		return odoo.JSON2
	}
	return odoo.XMLRPC
}

// StartT starts a fresh emulator for a test, in the mode TestAPI names,
// and stops it when the test ends.
func StartT(t wait.TB) (*Server, string) {
	t.Helper()
	o := New()
	if TestAPI() == odoo.JSON2 {
		o.SetVersion(19)
		o.updateUser("asterisk1", func(u *User) { u.APIKey = SystemKey })
	}
	return wait.Started(t, o, o.Start, o.Close)
}

// Config is the system account's client configuration for the emulator
// at url, over the API that TestAPI names.
func (s *Server) Config(url string) odoo.Config {
	c := odoo.Config{URL: url, DB: s.DB, User: "asterisk1", Password: "asterisk1", API: odoo.XMLRPC, Timeout: 5 * time.Second}
	if TestAPI() == odoo.JSON2 {
		c.API, c.APIKey = odoo.JSON2, SystemKey
	}
	return c
}
