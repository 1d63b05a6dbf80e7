package daemon

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/internal/wait"
)

// TestARestartKeepsTheRecentCalls: a missed call reaches john's history
// on disk; serve stops and starts again on the same config, and john's
// page still lists it.
func TestARestartKeepsTheRecentCalls(t *testing.T) {
	file := filepath.Join(t.TempDir(), "history.db")
	w := newPhoneWorldWeb(t, `odoo_url = "https://odoo.example.com"`, fmt.Sprintf("[history]\nfile = %q", file))
	trunk, phone := w.incomingFrom(t, "1795836300.0", "0475 12 34 56")
	w.pbx.EmitDialBegin(trunk, phone, "101")
	w.pbx.EmitDialEnd(trunk, phone, "NOANSWER")
	w.pbx.EmitHangup(trunk, 16, "Normal Clearing")
	wait.For(t, "the missed call in john's history", 10*time.Second, func() bool {
		h := w.d.Live.History("john")
		return len(h) == 1 && h[0].State == "missed"
	})
	w.stop()

	apiLn, _ := net.Listen("tcp", "127.0.0.1:0")
	serveConfigT(t, w.config, apiLn)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	base := "http://" + apiLn.Addr().String()
	r, err := client.PostForm(base+"/login", url.Values{"login": {"john"}, "password": {"john-password"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(page), `<li class="missed" data-call="1795836300.0">`) || !strings.Contains(string(page), "32 475 12 34 56") {
		t.Errorf("the page after a restart does not list the missed call:\n%s", page)
	}
}
