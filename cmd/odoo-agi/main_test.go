package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/internal/wait"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	return wait.File(t, "config.toml", body)
}

// waitHealth polls /healthz until its status is want and returns the body.
func waitHealth(t *testing.T, apiAddr, want string) map[string]any {
	t.Helper()
	var health map[string]any
	waitFor(t, "healthz to say "+want, func() bool {
		resp, err := http.Get("http://" + apiAddr + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		health = nil
		json.NewDecoder(resp.Body).Decode(&health)
		return health["status"] == want
	})
	return health
}

func TestTheDemoRunsToItsTableAndExitsCleanlyWhenAsked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, logs := &wait.Buffer{}, &wait.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, demoOptions{listen: "127.0.0.1:0", http: "127.0.0.1:0", every: 50 * time.Millisecond}, out, logs)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "watch its card") {
		if time.Now().After(deadline) {
			t.Fatalf("no table after 20s:\n%s\n%s", out, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The simulated incoming calls reach john's phone page.
	page := regexp.MustCompile(`Phone page: (http://\S+)/`).FindStringSubmatch(out.String())[1]
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := browser.PostForm(page+"/login", url.Values{"login": {"john"}, "password": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = browser.Get(page + "/events")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %v %v", resp, err)
	}
	sc := bufio.NewScanner(resp.Body)
	rang := false
	for !rang && sc.Scan() {
		rang = strings.Contains(sc.Text(), `"state":"ringing"`)
	}
	resp.Body.Close()
	if !rang {
		t.Error("no simulated call reached john's phone page")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the demo did not stop when asked")
	}
	table := out.String()
	for _, want := range []string{"(JSON-2 API)", `"ACME SA, Zoë Müller"`, "PJSIP/101&PJSIP/101b", `"PARIS OFFICE"`, "NOTFOUND", "SKIPPED", "stopped",
		"Click-to-dial: john calls 0475 12 34 56 → answered", "Channel: Local/ring@odoo-originate/n", "Variable: ODOO_CALLEE_NAME=Jean Dupont",
		"Variable: _ODOO_AAV_PJSIP101b=<sip:127.0.0.1>;answer-after=0", "Phone page: http://127.0.0.1:", "sign in as john, password demo"} {
		if !strings.Contains(table, want) {
			t.Errorf("the demo output lacks %q:\n%s", want, table)
		}
	}
}

// pbxWorld: an Odoo emulator with one contact, an AMI emulator, and a
// config file pointing at both, with john's phone set up for click-to-dial.
func pbxWorld(t *testing.T, extra string) (string, *amitest.Server) {
	t.Helper()
	o, url := odootest.StartT(t)
	o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 12 34", CountryID: o.CountryID("BE")})
	pbx := amitest.New()
	pbx.AddUser("odoo", amitest.User{Secret: "s3cr3t-ami", Originate: true, ReadCall: true})
	addr, err := pbx.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pbx.Stop)
	p := writeConfig(t, fmt.Sprintf(`[odoo]
url = %q
password = "asterisk1"
cache_file = %q
[ami]
address = %q
secret = "s3cr3t-ami"
[originate]
timeout = "5s"
%s
[[users]]
login = "john"
exten = "101"
  [[users.channels]]
  name = "PJSIP/101"
  originate = true
  auto_answer = "grandstream"
`, url, filepath.Join(t.TempDir(), "snap"), addr, extra))
	return p, pbx
}

func TestCallRingsTheUserThroughAMI(t *testing.T) {
	p, pbx := pbxWorld(t, "")
	var out, errs bytes.Buffer
	if code := run([]string{"call", "-config", p, "john", "02 555 12 34"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errs.String())
	}
	if !strings.Contains(out.String(), "answered: john answered; dialing 025551234 through from-internal") {
		t.Errorf("output:\n%s", out.String())
	}
	o := pbx.Originates()
	if len(o) != 1 || o[0].Var("ODOO_CALLEE_NAME") != "ACME SA" || o[0].Var("_ODOO_AAV_PJSIP101") != "<sip:127.0.0.1>;answer-after=0" {
		t.Errorf("originate: %+v", o)
	}
	pbx.Decide(func(amitest.Originated) amitest.Outcome { return amitest.Outcome{Reason: ami.ReasonBusy} })
	out.Reset()
	if code := run([]string{"call", "-config", p, "john", "0475123456"}, &out, &errs); code != 1 || !strings.Contains(out.String(), "busy:") {
		t.Errorf("a busy user: exit %d\n%s", code, out.String())
	}
}

func TestPingChecksOdooAndAsterisk(t *testing.T) {
	p, pbx := pbxWorld(t, "")
	var out bytes.Buffer
	if code := run([]string{"ping", "-config", p}, &out, io.Discard); code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	for _, want := range []string{"ok   odoo login", "ok   asterisk manager login and ping", "ok   Asterisk 22"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("ping output lacks %q:\n%s", want, out.String())
		}
	}
	pbx.AddUser("odoo", amitest.User{Secret: "other"})
	out.Reset()
	if code := run([]string{"ping", "-config", p}, &out, io.Discard); code != 1 || !strings.Contains(out.String(), "FAIL asterisk login") ||
		!strings.Contains(out.String(), "Authentication failed") || strings.Contains(out.String(), "s3cr3t") {
		t.Errorf("a wrong AMI secret: exit %d\n%s", code, out.String())
	}
}

func TestHashPasswordPrintsAConfigLine(t *testing.T) {
	var out bytes.Buffer
	if err := cmdHashPassword(nil, strings.NewReader("correct horse battery\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var h string
	if _, err := fmt.Sscanf(out.String(), "password_hash = %q", &h); err != nil || api.CheckHash(h) != nil {
		t.Errorf("output %q", out.String())
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse battery")); err != nil {
		t.Errorf("the hash does not match the password: %v", err)
	}
}

func TestServeAnswersTheControlAPI(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	p, pbx := pbxWorld(t, fmt.Sprintf("[api]\nlisten = \"127.0.0.1:0\"\npassword_hash = %q\n[agi]\nlisten = \"127.0.0.1:0\"\n", hash))
	_, apiAddr := serveT(t, p, &wait.Buffer{})
	waitHealth(t, apiAddr, "ok")
	req, _ := http.NewRequest("POST", "http://"+apiAddr+"/api/v1/originate", strings.NewReader(`{"user": "john", "number": "+3225551234"}`))
	req.SetBasicAuth("odoo", "correct horse")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || out["status"] != "answered" || len(pbx.Originates()) != 1 {
		t.Errorf("originate: %d %v", resp.StatusCode, out)
	}
	// lookups_total counts calls' lookups only: the click-to-dial's is a
	// directory lookup.
	metrics := get(t, "http://"+apiAddr+"/metrics")
	for _, want := range []string{"odoo_agi_index_numbers 1", "odoo_agi_ami_connected 1", `odoo_agi_odoo_rpc_duration_seconds_count{method="res.partner.search_read"}`,
		`odoo_agi_lookups_total{status="FOUND"} 0`, `odoo_agi_directory_lookups_total{status="FOUND"} 1`, "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(metrics, "s3cr3t") || strings.Contains(metrics, "asterisk1\"") {
		t.Error("/metrics shows a secret")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	wait.For(t, what, 10*time.Second, cond)
}

var servingOn = regexp.MustCompile(`msg="(control API serving|odoo-agi serving FastAGI)" listen=(\S+)`)

// serveT runs serve with this config, whose listen addresses are
// 127.0.0.1:0, until the test ends. It returns the addresses serve bound,
// as its log says, or fails with serve's own error if it stops first.
func serveT(t *testing.T, config string, logs *wait.Buffer) (agiAddr, apiAddr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmdServe(ctx, []string{"-config", config}, logs) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.After(20 * time.Second)
	for agiAddr == "" || apiAddr == "" {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve stopped: %v\n%s", err, logs)
		case <-deadline:
			t.Fatalf("serve did not say where it listens:\n%s", logs)
		case <-time.After(10 * time.Millisecond):
		}
		for _, m := range servingOn.FindAllStringSubmatch(logs.String(), -1) {
			if m[1] == "control API serving" {
				apiAddr = m[2]
			} else {
				agiAddr = m[2]
			}
		}
	}
	return agiAddr, apiAddr
}

func TestServeLogsAMissedCallInOdoo(t *testing.T) {
	o, url := odootest.StartT(t)
	seller := o.AddUser("john", "John Seller")
	acme := o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 12 34", CountryID: o.CountryID("BE"), UserID: seller})
	o.SetPassword("asterisk1", "s3cret-odoo")
	hash, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	p := writeConfig(t, fmt.Sprintf(`[agi]
listen = "127.0.0.1:0"
[odoo]
url = %q
password = "s3cret-odoo"
cache_file = %q
[api]
listen = "127.0.0.1:0"
password_hash = %q
[calllog]
enabled = true
spool_dir = %q
[[users]]
login = "john"
exten = "101"
  [[users.channels]]
  name = "PJSIP/101"
`, url, filepath.Join(t.TempDir(), "snap"), hash, t.TempDir()))
	agiAddr, apiAddr := serveT(t, p, &wait.Buffer{})
	waitFor(t, "the index", func() bool {
		resp, err := http.Get("http://" + apiAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	// The handler odoo-incoming pushed runs at hangup: nobody answered 101.
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	start := fmt.Sprint(time.Now().Unix())
	res, err := agitest.Call{Script: "hangup", Args: []string{"in", "025551234", "", start, "1700000000.77", "1700000000.77", "NOANSWER", "", "", "101", "025551234"}}.Run(cctx, agiAddr)
	if err != nil || len(res.Lines) != 0 {
		t.Fatalf("hangup session: %v, %q", err, res.Lines)
	}
	waitFor(t, "the note and the activity in Odoo", func() bool { return len(o.Messages()) == 1 && len(o.Activities()) == 1 })
	m, a := o.Messages()[0], o.Activities()[0]
	if m.ResID != acme || !strings.Contains(m.Body, "Missed call from +32 2 555 12 34 (rang John Seller (101))") || a.UserID != seller || a.Summary != "Call back ACME SA" {
		t.Errorf("note %+v\nactivity %+v", m, a)
	}
	wants := []string{`odoo_agi_sessions_total{outcome="ok",route="hangup"} 1`, "odoo_agi_calllog_delivered_total 1", "odoo_agi_calllog_spool_pending_bytes 0"}
	waitFor(t, "/metrics to count the delivery", func() bool {
		metrics := get(t, "http://"+apiAddr+"/metrics")
		for _, want := range wants {
			if !strings.Contains(metrics, want) {
				return false
			}
		}
		return true
	})
	// Then a right goes missing: /healthz says so, with Odoo's words.
	o.DenyPartnerWrite(true)
	res, err = agitest.Call{Script: "hangup", Args: []string{"in", "025551234", "", start, "1700000000.78", "1700000000.78", "ANSWER", "30", "PJSIP/101-00000001", "101", "025551234"}}.Run(cctx, agiAddr)
	if err != nil || len(res.Lines) != 0 {
		t.Fatalf("hangup session: %v, %q", err, res.Lines)
	}
	health := waitHealth(t, apiAddr, "degraded")
	cl, _ := health["calllog"].(map[string]any)
	if le, _ := cl["last_error"].(string); !strings.Contains(le, "Extra Rights/Contact Creation") {
		t.Errorf("calllog.last_error = %q", le)
	}
	if m := get(t, "http://"+apiAddr+"/metrics"); !strings.Contains(m, `odoo_agi_calllog_delivery_failures_total{cause="access"}`) {
		t.Error("/metrics lacks the failure by cause")
	}
}

// TestSIGHUPReloadsTheRunningServer runs `odoo-agi serve` in a child
// process, edits its config and sends it SIGHUP, as systemctl reload does.
func TestSIGHUPReloadsTheRunningServer(t *testing.T) {
	if p := os.Getenv("ODOO_AGI_SERVE_CONFIG"); p != "" {
		os.Exit(run([]string{"serve", "-config", p}, os.Stdout, os.Stderr))
	}
	_, url := odootest.StartT(t)
	base := fmt.Sprintf("[agi]\nlisten = \"127.0.0.1:0\"\n[odoo]\nurl = %q\ncache_file = %q\n[api]\nlisten = \"127.0.0.1:0\"\n", url, filepath.Join(t.TempDir(), "snap"))
	p := writeConfig(t, base+"[[users]]\nlogin = \"john\"\n")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGHUPReloadsTheRunningServer$")
	cmd.Env = append(os.Environ(), "ODOO_AGI_SERVE_CONFIG="+p)
	logs := &wait.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitFor(t, "the server to serve", func() bool { return strings.Contains(logs.String(), "odoo-agi serving FastAGI") })
	var apiAddr string
	for _, m := range servingOn.FindAllStringSubmatch(logs.String(), -1) {
		if m[1] == "control API serving" {
			apiAddr = m[2]
		}
	}

	os.WriteFile(p, []byte(base+"[[users]]\nlogin = \"john\"\n[[users]]\nlogin = \"ann\"\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", func() bool {
		return strings.Contains(logs.String(), "reload: applied") && strings.Contains(logs.String(), "users=2")
	})

	os.WriteFile(p, []byte(base+"[pbx]\ncountry = \"XX\"\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the refusal", func() bool { return strings.Contains(logs.String(), "keeping the running config") })
	if resp, err := http.Get("http://" + apiAddr + "/healthz"); err != nil {
		t.Errorf("the server died on a bad reload: %v", err)
	} else {
		resp.Body.Close()
	}
}

// TestNoSecretReachesAnyOutput runs serve with debug on and a secret in
// every field that holds one, the Odoo URL's user info included, takes
// Odoo down and up, places calls and API requests, and runs ping and
// lookup: none of their output holds a secret.
func TestNoSecretReachesAnyOutput(t *testing.T) {
	o, url := odootest.StartT(t)
	o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 12 34", CountryID: o.CountryID("BE")})
	o.SetPassword("asterisk1", "OdooS3cret")
	pbx := amitest.New()
	pbx.AddUser("odoo", amitest.User{Secret: "AmiS3cret", Originate: true, ReadCall: true})
	amiAddr, err := pbx.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pbx.Stop)
	hash, _ := bcrypt.GenerateFromPassword([]byte("ApiS3cret"), bcrypt.MinCost)
	secrets := []string{"UrlS3cret", "OdooS3cret", "AmiS3cret", "ApiS3cret", string(hash)}
	p := writeConfig(t, fmt.Sprintf(`debug = true
[agi]
listen = "127.0.0.1:0"
[odoo]
url = %q
password = "OdooS3cret"
refresh_interval = "1s"
cache_file = %q
[ami]
address = %q
secret = "AmiS3cret"
[api]
listen = "127.0.0.1:0"
password_hash = %q
[originate]
timeout = "5s"
[[users]]
login = "john"
exten = "101"
  [[users.channels]]
  name = "PJSIP/101"
  originate = true
`, strings.Replace(url, "http://", "http://odoouser:UrlS3cret@", 1), filepath.Join(t.TempDir(), "snap"), amiAddr, hash))
	var out []string
	logs := &wait.Buffer{}
	t.Cleanup(func() { // after serve has stopped: serveT's cleanup runs first
		for _, s := range append(out, logs.String()) {
			for _, secret := range secrets {
				if strings.Contains(s, secret) {
					t.Errorf("%q was shown:\n%s", secret, s)
				}
			}
		}
	})
	agiAddr, apiAddr := serveT(t, p, logs)
	waitFor(t, "the index", func() bool {
		resp, err := http.Get("http://" + apiAddr + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200
	})
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	agitest.Call{Script: "incoming", Env: map[string]string{"callerid": "025551234"}}.Run(cctx, agiAddr)
	for _, pass := range []string{"ApiS3cret", "wrong"} {
		req, _ := http.NewRequest("POST", "http://"+apiAddr+"/api/v1/originate", strings.NewReader(`{"user":"john","number":"025551234"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("odoo", pass)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out = append(out, string(b))
		}
	}
	o.SetDown(true)
	waitFor(t, "a failed refresh", func() bool { return strings.Contains(logs.String(), "refresh failed") })
	out = append(out, get(t, "http://"+apiAddr+"/healthz"), get(t, "http://"+apiAddr+"/metrics"))
	if !strings.Contains(out[len(out)-2], "odoouser:xxxxx@") {
		t.Errorf("/healthz does not show the redacted URL in its last error:\n%s", out[len(out)-2])
	}
	for _, args := range [][]string{{"ping", "-config", p}, {"lookup", "-config", p, "025551234"}} {
		var stdout, stderr bytes.Buffer
		run(args, &stdout, &stderr)
		out = append(out, stdout.String(), stderr.String())
	}
	o.SetDown(false)
}

func TestABadTLSKeyStopsServeAtStart(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	os.WriteFile(key, []byte("not a key"), 0o600)
	hash, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	p := writeConfig(t, fmt.Sprintf("[agi]\nlisten = \"127.0.0.1:0\"\n[odoo]\ncache_file = \"\"\n[api]\nlisten = \"127.0.0.1:0\"\npassword_hash = %q\ntls_cert = %q\ntls_key = %q\n",
		hash, cert, key))
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"serve", "-config", p}, &stdout, &stderr) }()
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(stderr.String(), "tls_cert") || strings.Contains(stderr.String(), "serving") {
			t.Errorf("exit %d\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve kept running with a bad TLS key")
	}
}
