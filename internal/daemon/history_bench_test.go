package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/history"
)

// BenchmarkPhonePageWith10000CallsInTheHistory times GET / for john, whose
// history on disk holds 10,000 calls, over the loopback socket.
func BenchmarkPhonePageWith10000CallsInTheHistory(b *testing.B) {
	file := filepath.Join(b.TempDir(), "history.db")
	st, err := history.Open(file, history.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-10000 * time.Minute)
	for i := range 10000 {
		ev := dialplan.CallEvent{ID: int64(i), Call: fmt.Sprintf("1795836%03d.%d", i%1000, i), State: "missed", Direction: "in",
			Number: "+32475123456", Pretty: "+32 475 12 34 56", Name: "ACME SA, Zoë Müller", PartnerID: 42, At: start.Add(time.Duration(i) * time.Minute)}
		v, _ := json.Marshal(ev)
		if err := st.Put("john", ev.At, ev.Call, v); err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
	w := newPhoneWorldWeb(b, `odoo_url = "https://odoo.example.com"`, fmt.Sprintf("[history]\nfile = %q", file))
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	r, err := client.PostForm(w.url+"/login", url.Values{"login": {"john"}, "password": {"john-password"}})
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if strings.Count(string(page), `<li class="missed"`) != 20 {
		b.Fatalf("the page lists %d calls, want the last 20", strings.Count(string(page), `<li class="missed"`))
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := client.Get(w.url + "/")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
}
