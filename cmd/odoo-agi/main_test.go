package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTheSampleConfigLoads(t *testing.T) {
	c, err := loadConfig("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	def := defaultConfig()
	if c.AGI.Listen != def.AGI.Listen || c.AGI.LookupTimeout != def.AGI.LookupTimeout || c.PBX.Country != "BE" || len(c.allow) != 2 {
		t.Errorf("the sample config does not carry the defaults: %+v", c.AGI)
	}
}

func TestABrokenConfigNamesTheFileAndTheLineOrKey(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"a syntax error", "[agi]\nlisten = \"127.0.0.1:4573\"\nlookup_timeout = 200ms\n", "config.toml:3:"},
		{"an unknown key", "[odoo]\npasword = \"x\"\n", "unknown key odoo.pasword"},
		{"a bad duration", "[agi]\nlookup_timeout = \"fast\"\n", "not a duration"},
		{"a bad country", "[pbx]\ncountry = \"XX\"\n", "[pbx] country = \"XX\""},
		{"a bad URL", "[odoo]\nurl = \"127.0.0.1:8069\"\n", "[odoo] url"},
		{"a bad channel", "[[users]]\nlogin = \"john\"\n[[users.channels]]\nname = \"101\"\n", "not a channel such as PJSIP/101"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.body)
			_, err := loadConfig(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v; want it to name %s and say %q", err, p, tc.want)
			}
		})
	}
}

// syncBuf is a concurrency-safe writer.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestTheDemoRunsToItsTableAndExitsCleanlyWhenAsked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, logs := &syncBuf{}, &syncBuf{}
	done := make(chan error, 1)
	go func() { done <- runDemo(ctx, "127.0.0.1:0", false, out, logs) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "until Ctrl-C") {
		if time.Now().After(deadline) {
			t.Fatalf("no table after 20s:\n%s\n%s", out, logs)
		}
		time.Sleep(20 * time.Millisecond)
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
	for _, want := range []string{`"ACME SA, Zoë Müller"`, "PJSIP/101&PJSIP/101b", `"PARIS OFFICE"`, "NOTFOUND", "SKIPPED", "stopped"} {
		if !strings.Contains(table, want) {
			t.Errorf("the demo output lacks %q:\n%s", want, table)
		}
	}
}

func TestDefaultPasswordWarnsLoudly(t *testing.T) {
	p := writeConfig(t, "[odoo]\npassword = \"asterisk1\"\n")
	os.Chmod(p, 0o644)
	c, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	warnings(c, newLogger(logs, false))
	if !strings.Contains(logs.String(), "still the default") || !strings.Contains(logs.String(), "chmod 640") {
		t.Errorf("warnings:\n%s", logs)
	}
	if strings.Contains(logs.String(), "password=asterisk1") {
		t.Error("the password value was logged")
	}
}
