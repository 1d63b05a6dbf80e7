package odoo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/odoo"
)

func TestAuthenticateTellsARefusalFromAnAnswerItCannotRead(t *testing.T) {
	o, url := emulator(t)
	o.AddUser("ann", "Ann")
	c := client(url)
	ctx := context.Background()
	if uid, err := c.Authenticate(ctx, "ann", "ann"); err != nil || uid == 0 {
		t.Errorf("the right password: uid %d, %v", uid, err)
	}
	if uid, err := c.Authenticate(ctx, "ann", "nope"); err != nil || uid != 0 {
		t.Errorf("a wrong password (False): uid %d, %v", uid, err)
	}
	o.ArchiveUser("ann")
	if ok, err := c.UserActive(ctx, "ann"); err != nil || ok {
		t.Errorf("an archived user: active %v, %v", ok, err)
	}
	if ok, err := c.UserActive(ctx, "asterisk1"); err != nil || !ok {
		t.Errorf("an active user: active %v, %v", ok, err)
	}

	answers := map[string]func(w http.ResponseWriter){
		"a string where a uid goes": func(w http.ResponseWriter) {
			w.Write([]byte("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><string>x</string></value>\n</param>\n</params>\n</methodResponse>\n"))
		},
		"64 MiB of garbage": func(w http.ResponseWriter) {
			chunk := []byte(strings.Repeat("garbage ", 8192))
			for range (64 << 20) / len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		},
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w) }))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			uid, err := client(srv.URL).Authenticate(ctx, "ann", "ann")
			var oe *odoo.Error
			if uid != 0 || !errors.As(err, &oe) || !errors.Is(err, odoo.ErrServer) {
				t.Fatalf("uid %d, err %v: want an ErrServer, not a wrong password", uid, err)
			}
			if ctx.Err() != nil {
				t.Error("the answer was read past its deadline")
			}
			t.Log(err)
		})
	}
}
