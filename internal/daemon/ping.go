package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/contact"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// Ping checks Odoo (login, read access to contacts) and, when [ami] is
// set, the Asterisk manager (login, Ping, version). It is `odoo-agi ping`
// and the status view's Ping button. A check with Name "" is a warning.
func Ping(ctx context.Context, c *Config) []api.Check {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	oc := *c
	oc.Odoo.Timeout.Duration = 10 * time.Second
	client := oc.OdooClient(quiet)
	var out []api.Check
	t0 := time.Now()
	used, _ := client.API(ctx)
	if uid, err := client.Login(ctx); err != nil {
		out = append(out, api.Check{Name: "odoo login", Detail: err.Error()})
	} else {
		who := fmt.Sprintf("uid %d", uid)
		if used == odoo.JSON2 {
			who = "API key"
		}
		out = append(out, api.Check{OK: true, Name: "odoo login", Detail: fmt.Sprintf("as %q on db %q over %s (%s, %v)", c.Odoo.User, c.Odoo.DB, apiName(used), who, since(t0))})
		if used == odoo.XMLRPC {
			if major, err := client.ServerVersion(ctx); err == nil && major >= 19 {
				out = append(out, api.Check{OK: true, Name: "warning", Detail: fmt.Sprintf(
					"Odoo %d deprecates XML-RPC and removes it in Odoo 22 (Odoo Online 21.1); switch to JSON-2: create an API key for %q in Odoo (Preferences > Account Security > New API Key) and set [odoo] api_key",
					major, c.Odoo.User)})
			}
		}
		t0 = time.Now()
		if res, err := client.Execute(ctx, "res.partner", "search_count", []any{[]any{}}, nil); err != nil {
			out = append(out, api.Check{Name: "odoo read contacts", Detail: err.Error()})
		} else {
			out = append(out, api.Check{OK: true, Name: "odoo read contacts", Detail: fmt.Sprintf("%v active, %v", res, since(t0))})
		}
		out = append(out, pingCompanies(ctx, client))
		if ok, hint := (&contact.Maker{Odoo: client}).Leads(ctx); ok {
			out = append(out, api.Check{OK: true, Name: "odoo leads", Detail: "the phone page offers Create lead"})
		} else {
			out = append(out, api.Check{OK: true, Name: "warning", Detail: hint})
		}
	}
	if c.Odoo.Password == "asterisk1" && c.Odoo.APIKey == "" {
		out = append(out, api.Check{OK: true, Name: "warning", Detail: `[odoo] password is the default "asterisk1": change it`})
	}
	return append(out, pingAMI(ctx, c, quiet)...)
}

// pingCompanies lists the companies the account sees and the partners of
// each, and those shared by all: partners of other companies stay
// invisible to it, and their callers unnamed.
func pingCompanies(ctx context.Context, client *odoo.Client) api.Check {
	res, err := client.Execute(ctx, "res.company", "search_read", []any{[]any{}}, map[string]any{"fields": []any{"name"}})
	if err != nil {
		return api.Check{Name: "odoo companies", Detail: err.Error()}
	}
	var parts []string
	for _, r := range append(odoo.Records(res), map[string]any{"id": false, "name": "shared"}) {
		n, err := client.Execute(ctx, "res.partner", "search_count", []any{[]any{[]any{"company_id", "=", r["id"]}}}, nil)
		if err != nil {
			return api.Check{Name: "odoo companies", Detail: err.Error()}
		}
		parts = append(parts, fmt.Sprintf("%s: %v", odoo.String(r["name"]), n))
	}
	return api.Check{OK: true, Name: "odoo companies",
		Detail: fmt.Sprintf("the account sees %s active partners; give it every company whose callers it should name", strings.Join(parts, ", "))}
}

func pingAMI(ctx context.Context, c *Config, log *slog.Logger) []api.Check {
	var out []api.Check
	for _, p := range c.pbxList() {
		out = append(out, pingManager(ctx, c, p, log)...)
	}
	return out
}

// pingManager logs in to one PBX's manager and pings it.
func pingManager(ctx context.Context, c *Config, p PBXConfig, log *slog.Logger) []api.Check {
	name := "asterisk"
	if len(c.PBXs) > 1 {
		name = "asterisk " + p.Name
	}
	if p.AMISecret == "" {
		return []api.Check{{OK: true, Name: name, Detail: "skipped: no manager secret ([ami] secret, or [[pbx]] ami_secret): click-to-dial off"}}
	}
	mgr := &ami.Client{Addr: p.AMIAddress, Username: p.AMIUser, Secret: p.AMISecret, Logger: log}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := mgr.Connect(ctx); err != nil {
		return []api.Check{{Name: name + " login", Detail: err.Error()}}
	}
	defer mgr.Close()
	if err := mgr.Ping(ctx); err != nil {
		return []api.Check{{Name: name + " ping", Detail: err.Error()}}
	}
	out := []api.Check{{OK: true, Name: name + " manager login and ping", Detail: fmt.Sprintf("as %q at %s (%v)", p.AMIUser, p.AMIAddress, since(t0))}}
	if lines, err := mgr.Command(ctx, "core show version"); err == nil && len(lines) > 0 {
		out = append(out, api.Check{OK: true, Name: lines[0]})
	}
	return out
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

func apiName(api string) string {
	if api == odoo.JSON2 {
		return "JSON-2"
	}
	return "XML-RPC"
}
