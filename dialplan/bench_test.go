package dialplan_test

import (
	"context"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/calllog"
	"github.com/odoo-agi/odoo-agi/dialplan"
)

// BenchmarkHangupSession is what Asterisk waits for at every hangup: a
// FastAGI session for agi://…/hangup whose record is fsync'ed before the
// session ends. It reports the p50 and p99 session time.
func BenchmarkHangupSession(b *testing.B) {
	sp, err := calllog.OpenSpool(b.TempDir(), calllog.Options{Logger: quiet, MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	f := dialplan.NewFlows(nil, dialplan.Settings{Users: dialplan.Users{{Login: "john", Exten: "101",
		Channels: []dialplan.Channel{{Name: "PJSIP/101", Context: "from-internal"}}}}}, quiet)
	f.Recorder = sp
	mux := agi.NewServeMux()
	f.Register(mux)
	srv := &agi.Server{Handler: mux, Logger: quiet}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	start := strconv.FormatInt(time.Now().Unix(), 10)
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		_, err := agitest.Call{Script: "hangup", Args: []string{"in", "025551234", "", start, "1700000000." + strconv.Itoa(i),
			"", "ANSWER", "42", "PJSIP/101-0000002a", "101", "025551234"}}.Run(context.Background(), ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
	if sp.Stats().Appended != int64(b.N) {
		b.Fatalf("%d records spooled for %d sessions", sp.Stats().Appended, b.N)
	}
}

// BenchmarkIncomingSession is one incoming call from a known caller
// through the whole FastAGI server and the incoming flow (a cached
// lookup, one MSet), against a bare responder that makes the same
// exchange, played by the same client. Allocations are per session, the
// client's included on both sides.
func BenchmarkIncomingSession(b *testing.B) {
	w := newWorld(b, dialplan.Settings{})
	env := []byte(agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": "025551234", "calleridname": "TRUNK"}}.EnvBlock())
	_, lines, err := agitest.Play(w.addr, env, true)
	if err != nil || len(lines) != 1 || !strings.Contains(lines[0], "Zoë Müller") {
		b.Fatalf("odoo-agi sent %q", lines)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go agitest.Bare(ln, lines)
	for _, side := range []struct{ name, addr string }{{"odoo-agi", w.addr}, {"bare", ln.Addr().String()}} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := agitest.Play(side.addr, env, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
