package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type noDirectory struct{}

func (noDirectory) Lookup(context.Context, string) lookup.Result {
	return lookup.Result{Status: lookup.NotFound}
}
func (noDirectory) LookupLine(context.Context, string, lookup.Line) lookup.Result {
	return lookup.Result{Status: lookup.NotFound}
}
func (noDirectory) UserID(string) (int, bool) { return 0, false }
func (noDirectory) UserName(string) string    { return "" }
func (noDirectory) CompanyLabel(int) string   { return "" }

type env struct {
	url    string
	client *http.Client
	pbx    *amitest.Server
	ami    *ami.Client
}

// start serves the API on loopback with a real Originator, an AMI client
// and the AMI emulator; with tlsDir set, over TLS.
func start(t *testing.T, hash string, useTLS bool) *env {
	t.Helper()
	pbx, addr := amitest.StartT(t)
	c := &ami.Client{Addr: addr, Username: "odoo", Secret: "secret", Logger: quiet}
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	users := dialplan.Users{
		{Login: "john", Exten: "101", Channels: []dialplan.Channel{{Name: "PJSIP/101", Context: "from-internal", Originate: true, AutoAnswer: "yealink"}}},
		{Login: "ann", Exten: "102", Channels: []dialplan.Channel{{Name: "PJSIP/102", Context: "from-internal"}}},
	}
	flows := dialplan.NewFlows(noDirectory{}, dialplan.Settings{Users: users, OriginateTimeout: time.Second}, quiet)
	orig := &dialplan.Originator{Settings: flows.Settings, Directory: flows.Directory, Normalizer: lookup.Normalizer{Country: "BE"}, Manager: c, Logger: quiet}
	s := &api.Server{User: "odoo", PasswordHash: hash, Caller: orig, Logger: quiet, MaxFailures: 4,
		Health: func() (any, bool) {
			return map[string]any{"status": "ok", "ami": c.State(), "index": map[string]int{"numbers": 3}}, true
		}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{url: "http://" + ln.Addr().String(), client: &http.Client{Timeout: 10 * time.Second}, pbx: pbx, ami: c}
	if useTLS {
		cert, key := selfSigned(t)
		if s.TLS, err = api.LoadTLS(cert, key); err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pem, _ := os.ReadFile(cert)
		pool.AppendCertsFromPEM(pem)
		e.url = "https://" + ln.Addr().String()
		e.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	go s.Serve(ctx, ln)
	return e
}

func (e *env) post(t *testing.T, user, pass, body string) (int, map[string]string) {
	t.Helper()
	return e.postWith(t, user, pass, body, map[string]string{"Content-Type": "application/json"})
}

// postWith sends body with these headers, as a browser or a script would.
func (e *env) postWith(t *testing.T, user, pass, body string, headers map[string]string) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/api/v1/originate", strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// mustHash hashes at bcrypt's lowest cost to keep tests quick.
func mustHash(t *testing.T) string {
	h, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestOriginateNeedsTheRightCredentials(t *testing.T) {
	e := start(t, mustHash(t), false)
	body := `{"user": "john", "number": "0475 12 34 56"}`
	if code, _ := e.post(t, "", "", body); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d", code)
	}
	if code, _ := e.post(t, "odoo", "wrong", body); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	if code, _ := e.post(t, "admin", "correct horse", body); code != http.StatusUnauthorized {
		t.Errorf("wrong user: %d", code)
	}
	code, out := e.post(t, "odoo", "correct horse", body)
	if code != http.StatusOK || out["status"] != "answered" || out["detail"] == "" {
		t.Errorf("right credentials: %d %v", code, out)
	}
	if len(e.pbx.Originates()) != 1 {
		t.Errorf("%d originates, want 1 (only the authorised request)", len(e.pbx.Originates()))
	}
	t.Run("past MaxFailures, even the right password waits", func(t *testing.T) {
		e.post(t, "odoo", "guess", body) // the 4th failure; the limit is 4
		code, _ := e.post(t, "odoo", "correct horse", body)
		if code != http.StatusTooManyRequests {
			t.Errorf("got %d, want 429", code)
		}
	})
}

func TestOriginateRejectsWhatCannotWorkWithAClearReason(t *testing.T) {
	e := start(t, mustHash(t), false)
	cases := []struct {
		name, body string
		code       int
		says       string
	}{
		{"bad JSON", `{"user": "john", `, 400, "JSON"},
		{"an unknown field", `{"user": "john", "number": "1", "evil": 1}`, 400, "unknown field"},
		{"no number", `{"user": "john"}`, 400, "required"},
		{"an unknown user", `{"user": "mallory", "number": "025551234"}`, 404, "mallory"},
		{"a user with no originate channel", `{"user": "ann", "number": "025551234"}`, 422, "originate"},
		{"a number that is not one", `{"user": "john", "number": "pizza"}`, 422, "not a phone number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := e.post(t, "odoo", "correct horse", tc.body)
			if code != tc.code || !strings.Contains(out["error"], tc.says) {
				t.Errorf("got %d %q, want %d mentioning %q", code, out, tc.code, tc.says)
			}
		})
	}
	t.Run("AMI down is 503", func(t *testing.T) {
		e.ami.Close()
		code, out := e.post(t, "odoo", "correct horse", `{"user": "john", "number": "025551234"}`)
		if code != http.StatusServiceUnavailable || out["error"] == "" {
			t.Errorf("got %d %v", code, out)
		}
	})
}

func TestHealthzNeedsNoAuthAndShowsNoSecrets(t *testing.T) {
	hash := mustHash(t)
	e := start(t, hash, false)
	resp, err := e.client.Get(e.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"Connected":true`) {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
	for _, secret := range []string{hash, "secret", "correct horse"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("healthz shows %q", secret)
		}
	}
}

func TestTheAPIServesTLS(t *testing.T) {
	e := start(t, mustHash(t), true)
	code, out := e.post(t, "odoo", "correct horse", `{"user": "john", "number": "+32475123456"}`)
	if code != 200 || out["status"] != "answered" {
		t.Errorf("over TLS: %d %v", code, out)
	}
}

func TestHashPassword(t *testing.T) {
	if _, err := api.HashPassword("short"); err == nil {
		t.Error("a 5-character password was hashed")
	}
	h, err := api.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2a$") || api.CheckHash(h) != nil || api.CheckHash("5f4dcc3b5aa765d61d8327deb882cf99") == nil {
		t.Errorf("hash %q, or md5 accepted as a hash", h)
	}
}

func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "odoo-agi test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, keyFile
}

func TestWithoutAPasswordHashTheOriginateRouteIsOff(t *testing.T) {
	e := start(t, "", false)
	code, out := e.post(t, "odoo", "", `{"user": "john", "number": "025551234"}`)
	if code != http.StatusForbidden || !strings.Contains(out["error"], "password_hash") || len(e.pbx.Originates()) != 0 {
		t.Errorf("got %d %v", code, out)
	}
}

// TestCrossSiteRequestsCannotPlaceCalls: what a page on another site can
// make a browser send, with the basic-auth credentials it has cached, is
// refused; a script's request (no Origin) is not.
func TestCrossSiteRequestsCannotPlaceCalls(t *testing.T) {
	e := start(t, mustHash(t), false)
	form := `{"user":"john","number":"0475123456"}=` // <form enctype="text/plain"> with one field
	cases := []struct {
		name    string
		body    string
		headers map[string]string
		code    int
	}{
		{"a text/plain form from another origin", form, map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"}, 403},
		{"a text/plain form with no Origin", form, map[string]string{"Content-Type": "text/plain"}, 415},
		{"JSON from another origin", `{"user":"john","number":"0475123456"}`, map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, 403},
		{"JSON from another site, by Sec-Fetch-Site", `{"user":"john","number":"0475123456"}`, map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403},
		{"JSON with trailing data", form, map[string]string{"Content-Type": "application/json"}, 400},
		{"an urlencoded form", "user=john&number=0475123456", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := e.postWith(t, "odoo", "correct horse", tc.body, tc.headers)
			if code != tc.code {
				t.Errorf("got %d %v, want %d", code, out, tc.code)
			}
		})
	}
	if n := len(e.pbx.Originates()); n != 0 {
		t.Fatalf("%d calls placed by refused requests", n)
	}
	t.Run("a script's JSON request still works", func(t *testing.T) {
		if code, out := e.post(t, "odoo", "correct horse", `{"user":"john","number":"0475123456"}`); code != 200 {
			t.Errorf("got %d %v", code, out)
		}
	})
}
