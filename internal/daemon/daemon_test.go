package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/calllog"
	"github.com/odoo-agi/odoo-agi/internal/wait"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

func writeConfig(t testing.TB, body string) string {
	t.Helper()
	return wait.File(t, "config.toml", body)
}

func TestTheSampleConfigLoads(t *testing.T) {
	c, err := LoadConfig("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	if c.AGI.Listen != def.AGI.Listen || c.AGI.LookupTimeout != def.AGI.LookupTimeout || c.PBX.Country != "BE" || len(c.allow) != 2 {
		t.Errorf("the sample config does not carry the defaults: %+v", c.AGI)
	}
}

func TestABrokenConfigNamesTheFileAndTheLineOrKey(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"a syntax error", "[agi]\nlisten = \"127.0.0.1:4573\"\nlookup_timeout = 200ms\n", "config.toml:3:"},
		{"an unknown key", "[odoo]\npasword = \"x\"\n", "config.toml:2: unknown key `odoo.pasword`"},
		{"a number as a string", "[agi]\nlisten = \"127.0.0.1:4573\"\nmax_sessions = \"10\"\n", "config.toml:3: `agi.max_sessions` must be a number, not the string \"10\", e.g. max_sessions = 10"},
		{"an exten as a number", "[[users]]\nlogin = \"john\"\nexten = \"101\"\n[[users]]\nlogin = \"ann\"\nexten = 102\n", "config.toml:6: `users[1].exten` must be text, not the number 102, e.g. exten = \"102\""},
		{"a bad value in a second channel", "[[users]]\nlogin = \"john\"\n[[users.channels]]\nname = \"PJSIP/101\"\n[[users.channels]]\nname = \"101\"\n", "config.toml:6: users[0] (john) channels[1]: name \"101\""},
		{"a bad value", "[agi]\n\nmax_sessions = 0\n", "config.toml:3: [agi] max_sessions = 0"},
		{"a country as typed", "[pbx]\ncountry = \"xx\"\n", "[pbx] country = \"xx\""},
		{"a bad duration", "[agi]\nlookup_timeout = \"fast\"\n", "not a duration"},
		{"a bad country", "[pbx]\ncountry = \"XX\"\n", "[pbx] country = \"XX\""},
		{"a bad URL", "[odoo]\nurl = \"127.0.0.1:8069\"\n", "[odoo] url"},
		{"a bad channel", "[[users]]\nlogin = \"john\"\n[[users.channels]]\nname = \"101\"\n", "not a channel such as PJSIP/101"},
		{"an md5 password hash", "[api]\npassword_hash = \"5f4dcc3b5aa765d61d8327deb882cf99\"\n", "not a bcrypt hash"},
		{"a TLS cert without its key", "[api]\npassword_hash = \"$2a$10$abcdefghijklmnopqrstuu5UGkSqTjYLJdKNqG8.oZ9eyWGlTbCPu\"\ntls_cert = \"/x.pem\"\n", "go together"},
		{"an unknown auto-answer preset", "[[users]]\nlogin = \"john\"\n[[users.channels]]\nname = \"PJSIP/101\"\nauto_answer = \"yealnik\"\n", "want a preset"},
		{"a ring timeout of 1s", "[originate]\ntimeout = \"1s\"\n", "[originate] timeout"},
		{"an exten that is another user's login", "[[users]]\nlogin = \"john\"\nexten = \"101\"\n[[users]]\nlogin = \"101\"\nexten = \"102\"\n", "exten \"101\" is users[1]'s login"},
		{"a trusted proxy that is not an address", "[web]\ntrusted_proxies = [\"proxy.lan\"]\n", "[web] trusted_proxies: \"proxy.lan\""},
		{"a recheck of 1s", "[web]\nrecheck = \"1s\"\n", "[web] recheck"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.body)
			_, err := LoadConfig(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v; want it to name %s and say %q", err, p, tc.want)
			}
		})
	}
}

func TestDefaultPasswordWarnsLoudly(t *testing.T) {
	p := writeConfig(t, "[odoo]\npassword = \"asterisk1\"\n")
	os.Chmod(p, 0o644)
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	logs := &wait.Buffer{}
	warnings(c, NewLogger(logs, "text", slog.LevelInfo))
	if !strings.Contains(logs.String(), "still the default") || !strings.Contains(logs.String(), "chmod 640") {
		t.Errorf("warnings:\n%s", logs)
	}
	if strings.Contains(logs.String(), "password=asterisk1") {
		t.Error("the password value was logged")
	}
}

// newTestDaemon builds a daemon from the config file at p, on loopback
// ports, without running it.
func newTestDaemon(t *testing.T, p string, logs *wait.Buffer) *Daemon {
	t.Helper()
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(c, Options{Logs: logs, AGIListener: ln})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestReloadAppliesWhatItCanAndNamesWhatNeedsARestartUntilOne(t *testing.T) {
	base := "[api]\nlisten = \"127.0.0.1:0\"\n[odoo]\ncache_file = \"\"\n"
	p := writeConfig(t, base+"[[users]]\nlogin = \"john\"\nexten = \"101\"\n")
	logs := &wait.Buffer{}
	d := newTestDaemon(t, p, logs)
	ctx := context.Background()

	os.WriteFile(p, []byte("debug = true\n"+base+"[callerid]\nmax_length = 12\n[originate]\ntimeout = \"90s\"\n[[users]]\nlogin = \"ann\"\nexten = \"102\"\n"), 0o600)
	if err := d.ReloadFile(); err != nil {
		t.Fatal(err)
	}
	st := d.Flows.Settings()
	if _, ok := st.Users.ByLogin("ann"); !ok || st.Format.MaxLength != 12 {
		t.Errorf("not applied: %+v", st)
	}
	if !d.Log.Enabled(ctx, slog.LevelDebug) || !d.AGI.Trace {
		t.Error("debug = true did not turn tracing on")
	}
	if got := d.api.CallTimeout(); got < 90*time.Second {
		t.Errorf("the API answers a click-to-dial within %v, less than the new 90s ring time", got)
	}

	os.WriteFile(p, []byte("[pbx]\ncountry = \"XX\"\n"), 0o600)
	if d.ReloadFile() == nil || !strings.Contains(logs.String(), "keeping the running config") {
		t.Errorf("a broken file was applied, or said nothing:\n%s", logs)
	}
	if _, ok := d.Flows.Settings().Users.ByLogin("ann"); !ok {
		t.Error("a broken file replaced the settings")
	}

	os.WriteFile(p, []byte(base+"[agi]\nlisten = \"127.0.0.1:4999\"\n"), 0o600)
	d.ReloadFile()
	if !strings.Contains(logs.String(), "need a restart") || !strings.Contains(logs.String(), "[agi]") {
		t.Errorf("a listen change was not flagged:\n%s", logs)
	}
	// A second reload that changes only users still names [agi]: the old
	// listen address still runs.
	before := strings.Count(logs.String(), "need a restart")
	os.WriteFile(p, []byte(base+"[agi]\nlisten = \"127.0.0.1:4999\"\n[[users]]\nlogin = \"bob\"\n"), 0o600)
	d.ReloadFile()
	if strings.Count(logs.String(), "need a restart") != before+1 {
		t.Errorf("the second reload forgot the pending restart:\n%s", logs)
	}
	if d.Log.Enabled(ctx, slog.LevelDebug) {
		t.Error("debug stayed on after a reload without it")
	}
	os.WriteFile(p, []byte(base+"[agi]\nlisten = \"127.0.0.1:4999\"\n[webrtc]\nasterisk_ws = \"ws://127.0.0.1:8088/ws\"\n"), 0o600)
	d.ReloadFile()
	if !strings.Contains(logs.String(), "[webrtc]") {
		t.Errorf("turning the softphone on was not flagged as needing a restart:\n%s", logs)
	}
}

func TestMetricsLabelOnlyRegisteredRoutes(t *testing.T) {
	p := writeConfig(t, "[odoo]\ncache_file = \"\"\n[api]\nlisten = \"\"\n")
	d := newTestDaemon(t, p, &wait.Buffer{})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range 20000 {
		d.metrics.session(agiEnd("incoming"))
		d.metrics.session(agiEnd(fmt.Sprintf("%d-%s", i, strings.Repeat("x", 2000))))
	}
	if grew := int64(heap()) - int64(before); grew > 1<<20 {
		t.Errorf("20,000 unique 2 KB script names grew the heap by %d KB", grew>>10)
	}
	families, err := d.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "odoo_agi_sessions_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					routes[l.GetValue()] = true
				}
			}
		}
	}
	if len(routes) != 2 || !routes["incoming"] || !routes["unknown"] {
		t.Errorf("route labels %v; want incoming and unknown only", routes)
	}
}

func TestJSONLogs(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, "json", slog.LevelInfo).Info("hello", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["msg"] != "hello" || m["k"] != "v" {
		t.Errorf("%s: %v", buf.String(), err)
	}
}

// TestTheSampleConfigShowsEveryKey: config.toml documents every key of
// Config, so a new key cannot be forgotten there.
func TestTheSampleConfigShowsEveryKey(t *testing.T) {
	var c Config
	md, err := toml.DecodeFile("../../config.toml", &c)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(typ reflect.Type, prefix []string)
	walk = func(typ reflect.Type, prefix []string) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" || tag == "-" || tag == "users" {
				continue // [[users]] is an example in comments: it has no default
			}
			key := append(append([]string(nil), prefix...), tag)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration{}) {
				walk(f.Type, key)
				continue
			}
			if !md.IsDefined(key...) {
				t.Errorf("config.toml does not show %s", strings.Join(key, "."))
			}
		}
	}
	walk(reflect.TypeOf(c), nil)
}

func agiEnd(script string) agi.SessionEnd {
	return agi.SessionEnd{Script: script, Outcome: "ok", Commands: 1, Duration: time.Millisecond}
}

func BenchmarkMetricsSession(b *testing.B) {
	m := newMetrics(func(s string) bool { return s == "incoming" })
	e := agiEnd("incoming")
	b.ReportAllocs()
	for b.Loop() {
		m.session(e)
	}
}

func TestALoadConfigRefusesNoSessions(t *testing.T) {
	for _, n := range []string{"0", "-5"} {
		p := writeConfig(t, "[agi]\nmax_sessions = "+n+"\n")
		if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), "[agi] max_sessions") {
			t.Errorf("max_sessions = %s: %v", n, err)
		}
	}
}

func TestAWideOpenFastAGIWarnsAtStart(t *testing.T) {
	cases := []struct {
		listen, allow string
		warn          bool
	}{
		{"0.0.0.0:4573", `["0.0.0.0/0"]`, true},
		{"0.0.0.0:4573", `["192.0.2.10/32"]`, true},
		{"0.0.0.0:4573", `["127.0.0.1/32"]`, false},
		{"127.0.0.1:4573", `["0.0.0.0/0"]`, false},
	}
	for _, tc := range cases {
		p := writeConfig(t, fmt.Sprintf("[agi]\nlisten = %q\nallow = %s\n", tc.listen, tc.allow))
		c, err := LoadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		logs := &wait.Buffer{}
		warnings(c, NewLogger(logs, "text", slog.LevelInfo))
		if got := strings.Contains(logs.String(), "FastAGI has no authentication"); got != tc.warn {
			t.Errorf("listen %s, allow %s: warned %v, want %v", tc.listen, tc.allow, got, tc.warn)
		}
	}
}

// TestADeadListenerEndsRun: the service manager restarts what exits, so a
// listener that dies while serving ends Run with an error.
func TestADeadListenerEndsRun(t *testing.T) {
	p := writeConfig(t, "[odoo]\ncache_file = \"\"\nurl = \"http://127.0.0.1:1\"\n[api]\nlisten = \"\"\n")
	d := newTestDaemon(t, p, &wait.Buffer{})
	done := make(chan error, 1)
	go func() { done <- d.Run(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	d.agiLn.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "FastAGI stopped") {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run went on without its FastAGI listener")
	}
}

// TestOdoo19WithAKeyIsServedOverJSON2Only: a refresh cycle of serve, the
// call log and a lookup make no XML-RPC request, so Odoo 19 logs no
// deprecation warning.
func TestOdoo19WithAKeyIsServedOverJSON2Only(t *testing.T) {
	o, url := odootest.StartT(t)
	o.SetVersion(19)
	o.Upsert(odootest.Partner{Name: "ACME SA", Phone: "02 555 12 34", CountryID: o.CountryID("BE")})
	key := o.AddAPIKey("asterisk1")
	p := writeConfig(t, fmt.Sprintf("[odoo]\nurl = %q\napi_key = %q\npassword = \"\"\nrefresh_interval = \"1s\"\ncache_file = \"\"\n[api]\nlisten = \"\"\n[calllog]\nenabled = true\nspool_dir = %q\n",
		url, key, t.TempDir()))
	d := newTestDaemon(t, p, &wait.Buffer{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wait.For(t, "a sync and a refresh", 10*time.Second, func() bool {
		return d.Directory.State().Loaded && o.Calls("res.partner.search_read") >= 2
	})
	if err := d.Spool.Append(ctx, calllog.Record{UniqueID: "1.1", Direction: calllog.Incoming, Number: "025551234", Status: "NOANSWER"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the call log", 10*time.Second, func() bool { return len(o.Messages()) == 1 && len(o.Activities()) == 1 })
	if x, j := o.Requests(); x != 0 || j == 0 || o.Deprecations() != 0 {
		t.Errorf("%d XML-RPC and %d JSON-2 requests, %d deprecation warnings; want JSON-2 only", x, j, o.Deprecations())
	}
}

func TestSwitchingTheAPIOnReloadNeedsARestart(t *testing.T) {
	base := "[api]\nlisten = \"\"\n[odoo]\ncache_file = \"\"\n"
	p := writeConfig(t, base)
	logs := &wait.Buffer{}
	d := newTestDaemon(t, p, logs)
	os.WriteFile(p, []byte(base+"api = \"xmlrpc\"\n"), 0o600)
	d.ReloadFile()
	if !strings.Contains(logs.String(), "need a restart") || !strings.Contains(logs.String(), "[odoo]") {
		t.Errorf("the switch was not flagged:\n%s", logs)
	}
}

func TestJSON2WithoutAKeyIsAConfigError(t *testing.T) {
	p := writeConfig(t, "[odoo]\napi = \"json2\"\n")
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), "api_key") {
		t.Errorf("err = %v", err)
	}
}

func TestPingSaysWhichAPIAndWarnsOfXMLRPCOn19(t *testing.T) {
	o, url := odootest.StartT(t)
	o.SetVersion(19)
	key := o.AddAPIKey("asterisk1")
	text := func(cfg string) string {
		c, err := LoadConfig(writeConfig(t, fmt.Sprintf("[odoo]\nurl = %q\n%s", url, cfg)))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, ch := range Ping(context.Background(), c) {
			fmt.Fprintf(&b, "%v %s %s\n", ch.OK, ch.Name, ch.Detail)
		}
		return b.String()
	}
	if out := text(fmt.Sprintf("api_key = %q\npassword = \"\"\n", key)); !strings.Contains(out, "over JSON-2") || strings.Contains(out, "deprecates") {
		t.Errorf("with a key:\n%s", out)
	}
	if out := text("password = \"asterisk1\"\n"); !strings.Contains(out, "over XML-RPC") || !strings.Contains(out, "Odoo 19 deprecates XML-RPC") || !strings.Contains(out, "New API Key") {
		t.Errorf("without a key:\n%s", out)
	}
}
