package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/internal/wait"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

func TestEveryCommandsHelpShowsItsArgumentsAndAnExample(t *testing.T) {
	for name, h := range helps {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// hash-password must not wait on standard input for -h.
			done := make(chan int, 1)
			go func() { done <- run([]string{name, "-h"}, &stdout, &stderr) }()
			select {
			case code := <-done:
				out := stderr.String()
				if code != 0 || !strings.Contains(out, "usage: odoo-agi "+name+" "+h.args) || !strings.Contains(out, "Example:\n  "+h.example) {
					t.Errorf("exit %d:\n%s", code, out)
				}
				if strings.Contains(h.args, "-config") && !strings.Contains(out, "-config") {
					t.Errorf("the flags are missing:\n%s", out)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("-h did not return: it waits on standard input")
			}
		})
	}
	t.Run("a missing argument shows the help and exits 2", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"lookup", "-config", "nonexistent.toml"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: odoo-agi lookup") {
			t.Errorf("exit %d:\n%s", code, stderr.String())
		}
	})
}

func TestCheckConfigValidatesWithoutConnecting(t *testing.T) {
	// Nothing listens at these addresses: check-config must not care.
	good := writeConfig(t, "[odoo]\nurl = \"http://127.0.0.1:9\"\n[ami]\naddress = \"127.0.0.1:9\"\nsecret = \"x\"\n")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config", "-config", good}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), good+": ok") {
		t.Errorf("a valid config: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	bad := writeConfig(t, "[agi]\nmax_sessions = \"10\"\n")
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"check-config", "-config", bad}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), bad+":2: `agi.max_sessions` must be a number, not the string \"10\"") {
		t.Errorf("a bad config: exit %d\n%s", code, stderr.String())
	}
}

func TestLookupExitsNonZeroWhenTheAnswerIsUnavailable(t *testing.T) {
	o, url := odootest.StartT(t)
	o.SetDown(true)
	p := writeConfig(t, "[odoo]\nurl = \""+url+"\"\ncache_file = \"\"\n")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"lookup", "-config", p, "025551234"}, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "UNAVAILABLE") {
		t.Errorf("Odoo down: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
}

func TestTheDemoRefusesATakenPageAddress(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	out, logs := &wait.Buffer{}, &wait.Buffer{}
	err = runDemo(t.Context(), demoOptions{listen: "127.0.0.1:0", http: taken.Addr().String(), every: time.Hour}, out, logs)
	if err == nil || !strings.Contains(err.Error(), taken.Addr().String()) || !strings.Contains(err.Error(), "try -http 127.0.0.1:0") {
		t.Errorf("err = %v", err)
	}
}
