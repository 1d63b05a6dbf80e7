package odoo_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/internal/odootest"
	"github.com/odoo-agi/odoo-agi/odoo"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func emulator(t testing.TB) (*odootest.Server, string) { return odootest.StartT(t) }

func client(url string) *odoo.Client {
	return odoo.New(odoo.Config{URL: url, DB: "odoo", User: "asterisk1", Password: "asterisk1", Timeout: 5 * time.Second, Logger: quiet})
}

func TestFaultsBecomeOneClearError(t *testing.T) {
	o, url := emulator(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func() *odoo.Client
		kind  error
		words string
	}{
		{"a wrong password", func() *odoo.Client {
			return odoo.New(odoo.Config{URL: url, DB: "odoo", User: "asterisk1", Password: "nope"})
		}, odoo.ErrLogin, `login failed for user "asterisk1" on db "odoo"`},
		{"a wrong database", func() *odoo.Client {
			return odoo.New(odoo.Config{URL: url, DB: "prod", User: "asterisk1", Password: "asterisk1"})
		}, odoo.ErrServer, `database "prod" does not exist`},
		{"no read access", func() *odoo.Client { o.DenyPartnerRead(true); return client(url) }, odoo.ErrAccess, "not allowed to read res.partner"},
		{"Odoo down", func() *odoo.Client { o.DenyPartnerRead(false); return client("http://127.0.0.1:1") }, odoo.ErrUnreachable, "cannot reach"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.setup().Execute(ctx, "res.partner", "search_read", []any{[]any{}}, nil)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.words) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v; want %v saying %q on one line", err, tc.kind, tc.words)
			}
		})
	}
	t.Run("a missing model", func(t *testing.T) {
		_, err := client(url).Execute(ctx, "crm.lead", "search_read", []any{[]any{}}, nil)
		if !errors.Is(err, odoo.ErrUser) || !strings.Contains(err.Error(), "crm.lead doesn't exist") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a Fault 3 after a restored database logs in again once", func(t *testing.T) {
		c := client(url)
		if _, err := c.Execute(ctx, "res.country", "search", []any{[]any{}}, nil); err != nil {
			t.Fatal(err)
		}
		logins := o.Logins()
		o.SetPassword("asterisk1", "changed")
		_, err := c.Execute(ctx, "res.country", "search", []any{[]any{}}, nil)
		if !errors.Is(err, odoo.ErrLogin) || o.Logins()-logins != 1 {
			t.Errorf("err = %v after %d logins; want one retry then a login error", err, o.Logins()-logins)
		}
		o.SetPassword("asterisk1", "asterisk1")
	})
}
