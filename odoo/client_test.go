package odoo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
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

func TestAutoPicksTheAPIByVersion(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		version   int
		key       bool
		want      string
		xmlrpcMax int64
	}{
		{"Odoo 16 with a key: XML-RPC, the key in place of the password", 16, true, odoo.XMLRPC, 10},
		{"Odoo 19 with a key: JSON-2, and no XML-RPC request at all", 19, true, odoo.JSON2, 0},
		{"Odoo 19 without a key: XML-RPC", 19, false, odoo.XMLRPC, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := odootest.New()
			url, err := o.Start()
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			o.SetVersion(tc.version)
			o.Upsert(odootest.Partner{Name: "ACME SA", Phone: "025551234"})
			cfg := odoo.Config{URL: url, DB: "odoo", User: "asterisk1", Password: "asterisk1", Logger: quiet}
			if tc.key {
				cfg.APIKey, cfg.Password = o.AddAPIKey("asterisk1"), ""
			}
			c := odoo.New(cfg)
			res, err := c.Execute(ctx, "res.partner", "search_read", []any{[]any{[]any{"name", "=", "ACME SA"}}}, map[string]any{"fields": []any{"name"}})
			if recs := odoo.Records(res); err != nil || len(recs) != 1 || odoo.String(recs[0]["name"]) != "ACME SA" {
				t.Fatalf("%v %v", res, err)
			}
			if api, _ := c.API(ctx); api != tc.want {
				t.Errorf("API = %s, want %s", api, tc.want)
			}
			if x, _ := o.Requests(); x > tc.xmlrpcMax {
				t.Errorf("%d XML-RPC requests", x)
			}
		})
	}
}

func TestJSON2ErrorsReadLikeFaults(t *testing.T) {
	o := odootest.New()
	url, err := o.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	o.SetVersion(19)
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true})
	o.AddUser("john", "John")
	key := o.AddAPIKey("john")
	ctx := context.Background()
	c := odoo.New(odoo.Config{URL: url, DB: "odoo", User: "john", APIKey: key, API: odoo.JSON2, Logger: quiet})
	cases := []struct {
		name   string
		call   func() error
		kind   error
		fault  int
		words  string
		groups []string
	}{
		{"a wrong key", func() error {
			_, err := odoo.New(odoo.Config{URL: url, DB: "odoo", User: "john", APIKey: "nope", API: odoo.JSON2}).Execute(ctx, "res.partner", "search_count", []any{[]any{}}, nil)
			return err
		}, odoo.ErrLogin, 3, "API key for \"john\" was refused", nil},
		{"no right to post", func() error {
			_, err := c.Execute(ctx, "res.partner", "message_post", []any{[]any{acme}}, map[string]any{"body": "x"})
			return err
		}, odoo.ErrAccess, 4, "not allowed to write res.partner", []string{"Contact/Creation"}},
		{"an unknown model", func() error {
			_, err := c.Execute(ctx, "crm.lead", "search_count", []any{[]any{}}, nil)
			return err
		}, odoo.ErrUser, 2, "the model 'crm.lead' does not exist", nil},
		{"an unknown field", func() error {
			_, err := c.Execute(ctx, "res.partner", "search_read", []any{[]any{}}, map[string]any{"fields": []any{"mobile"}})
			return err
		}, odoo.ErrServer, 1, "Invalid field 'mobile'", nil},
		{"an activity without its model", func() error {
			_, err := c.Execute(ctx, "mail.activity", "create", []any{map[string]any{"res_model": "res.partner", "res_id": acme}}, nil)
			return err
		}, odoo.ErrUser, 2, "Field: Document Model (res_model_id)", nil},
		{"a wrong database", func() error {
			_, err := odoo.New(odoo.Config{URL: url, DB: "prod", User: "john", APIKey: key, API: odoo.JSON2}).Execute(ctx, "res.partner", "search_count", []any{[]any{}}, nil)
			return err
		}, odoo.ErrNoDatabase, 1, "no JSON-2 API for db \"prod\"", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var oe *odoo.Error
			if !errors.As(err, &oe) || !errors.Is(err, tc.kind) || oe.Fault != tc.fault || !strings.Contains(err.Error(), tc.words) ||
				strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "Traceback") {
				t.Errorf("err = %v; want %v, fault %d, saying %q on one line, no traceback", err, tc.kind, tc.fault, tc.words)
			}
			if tc.groups != nil && (oe == nil || fmt.Sprint(oe.Groups) != fmt.Sprint(tc.groups)) {
				t.Errorf("groups %v, want %v", oe.Groups, tc.groups)
			}
		})
	}
}
