package odootest_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// The emulator must refuse what a real Odoo 16 refused (docs/odoo-wire.md):
// a kinder emulator once let a call log pass every test and fail on Odoo.

func as(url, login, password string) *odoo.Client {
	return odoo.New(odoo.Config{URL: url, DB: "odoo", User: login, Password: password, Timeout: 5 * time.Second})
}

func fault(t *testing.T, err error, code int, words string) {
	t.Helper()
	var oe *odoo.Error
	if !errors.As(err, &oe) || oe.Fault != code || !strings.Contains(err.Error(), words) {
		t.Errorf("err = %v; want Fault %d saying %q", err, code, words)
	}
}

func TestTheSystemAccountGetsWhatOdoo16Gives(t *testing.T) {
	o, url := odootest.StartT(t)
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true})
	c := as(url, "asterisk1", "asterisk1")
	ctx := context.Background()
	ctxPartner := map[string]any{"context": map[string]any{"default_res_model": "res.partner"}}

	t.Run("ir.model and ir.model.data are closed to it", func(t *testing.T) {
		_, err := c.Execute(ctx, "ir.model", "search", []any{[]any{[]any{"model", "=", "res.partner"}}}, nil)
		fault(t, err, 4, "You are not allowed to access 'Models' (ir.model) records.")
		var oe *odoo.Error
		if errors.As(err, &oe) && !reflect.DeepEqual(oe.Groups, []string{"Administration/Access Rights"}) {
			t.Errorf("groups %q", oe.Groups)
		}
		_, err = c.Execute(ctx, "ir.model.data", "search_read", []any{[]any{}}, nil)
		fault(t, err, 4, "ir.model.data")
	})
	t.Run("the phonecall activity types", func(t *testing.T) {
		res, err := c.Execute(ctx, "mail.activity.type", "search_read", []any{[]any{[]any{"category", "=", "phonecall"}}}, map[string]any{"fields": []any{"name"}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range odoo.Records(res) {
			got = append(got, odoo.String(r["name"]))
		}
		if !reflect.DeepEqual(got, []string{"Call", "Call for Demo"}) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("default_get gives res.partner's model id", func(t *testing.T) {
		res, err := c.Execute(ctx, "mail.activity", "default_get", []any{[]any{"res_model", "res_model_id", "activity_type_id"}}, ctxPartner)
		want := map[string]any{"res_model": "res.partner", "res_model_id": int64(85), "activity_type_id": int64(4)}
		if err != nil || !reflect.DeepEqual(res, want) {
			t.Errorf("got %v, %v; want %v", res, err, want)
		}
	})
	vals := func() map[string]any {
		return map[string]any{"res_id": acme, "activity_type_id": 2, "summary": "Call back", "date_deadline": "2026-11-28"}
	}
	t.Run("create with res_model_id, or with the context, works", func(t *testing.T) {
		v := vals()
		v["res_model_id"] = 85
		if _, err := c.Execute(ctx, "mail.activity", "create", []any{v}, nil); err != nil {
			t.Error(err)
		}
		if _, err := c.Execute(ctx, "mail.activity", "create", []any{vals()}, ctxPartner); err != nil {
			t.Error(err)
		}
	})
	t.Run("create with res_model alone is Fault 2", func(t *testing.T) {
		v := vals()
		v["res_model"] = "res.partner"
		_, err := c.Execute(ctx, "mail.activity", "create", []any{v}, nil)
		fault(t, err, 2, "Field: Document Model (res_model_id)")
	})
	t.Run("activity_schedule creates the activity, then faults", func(t *testing.T) {
		before := len(o.Activities())
		_, err := c.Execute(ctx, "res.partner", "activity_schedule", []any{[]any{acme}}, map[string]any{"summary": "x"})
		fault(t, err, 1, "cannot marshal")
		if len(o.Activities()) != before+1 {
			t.Error("activity_schedule faulted without creating the activity first")
		}
	})
	t.Run("message_post returns the message id", func(t *testing.T) {
		res, err := c.Execute(ctx, "res.partner", "message_post", []any{[]any{acme}}, map[string]any{"body": "hi", "message_type": "comment", "subtype_xmlid": "mail.mt_note"})
		if id, ok := odoo.Int(res); err != nil || !ok || id == 0 {
			t.Errorf("got %v, %v", res, err)
		}
	})
}

func TestAPlainInternalUserMayReadButNotWrite(t *testing.T) {
	o, url := odootest.StartT(t)
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true})
	o.AddUser("john", "John")
	c := as(url, "john", "john")
	ctx := context.Background()
	if _, err := c.Execute(ctx, "res.partner", "search_read", []any{[]any{}}, map[string]any{"fields": []any{"name"}}); err != nil {
		t.Errorf("read: %v", err)
	}
	_, err := c.Execute(ctx, "res.partner", "message_post", []any{[]any{acme}}, map[string]any{"body": "hi"})
	fault(t, err, 4, "You are not allowed to modify 'Contact' (res.partner) records.")
	var oe *odoo.Error
	if errors.As(err, &oe) && !reflect.DeepEqual(oe.Groups, []string{"Extra Rights/Contact Creation", "Sales/User: Own Documents Only"}) {
		t.Errorf("groups %q", oe.Groups)
	}
	_, err = c.Execute(ctx, "mail.activity", "create", []any{map[string]any{"res_model_id": 85, "res_id": acme, "activity_type_id": 2, "date_deadline": "2026-11-28"}}, nil)
	fault(t, err, 4, "Due to security restrictions, you are not allowed to create 'Activity' (mail.activity) records.")
	_, err = as(url, "john", "wrong").Execute(ctx, "res.partner", "search", []any{[]any{}}, nil)
	if !errors.Is(err, odoo.ErrLogin) {
		t.Errorf("a wrong password: %v", err)
	}
}
