package calllog_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/odoo-agi/odoo-agi/calllog"
)

// TestAClaimIsTakenFromAPeerOnly: with the right secret, a claim from
// 127.0.0.2 is granted when 127.0.0.2 is a peer, and refused when only
// 127.0.0.3 is; a wrong secret from a peer is refused too.
func TestAClaimIsTakenFromAPeerOnly(t *testing.T) {
	const secret = "a shared secret of both"
	post := func(t *testing.T, peers []string, from, bearer string) int {
		t.Helper()
		c := &calllog.Claims{Self: "agi1", Peers: peers, Secret: secret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		srv := httptest.NewServer(c)
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/cluster/claim", bytes.NewReader([]byte(`{"call":"1733400000.1","from":"agi2"}`)))
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && !strings.Contains(string(b), `"granted":true`) {
			t.Errorf("a claim of a call this instance never held: %s", b)
		}
		return resp.StatusCode
	}
	for _, c := range []struct {
		name   string
		peers  []string
		from   string
		bearer string
		want   int
	}{
		{"a peer with the secret", []string{"http://127.0.0.2:48008"}, "127.0.0.2", secret, http.StatusOK},
		{"a peer named by a host name", []string{"http://localhost:48008"}, "127.0.0.1", secret, http.StatusOK},
		{"another address with the secret", []string{"http://127.0.0.3:48008"}, "127.0.0.2", secret, http.StatusForbidden},
		{"a peer with a wrong secret", []string{"http://127.0.0.2:48008"}, "127.0.0.2", "guess", http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := post(t, c.peers, c.from, c.bearer); got != c.want {
				t.Errorf("HTTP %d, want %d", got, c.want)
			}
		})
	}
}
