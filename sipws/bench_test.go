package sipws_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/odoo-agi/odoo-agi/sipws"
	"github.com/odoo-agi/odoo-agi/sipws/sipwstest"
)

// BenchmarkRelay registers 200 softphones through the relay, then times
// OPTIONS round trips to the emulated Asterisk through the relay and
// straight to it, alternating, on the same machine and run. It reports the
// p50 and p99 of both, the p99 the relay adds, and the heap one relayed
// socket costs beyond a direct one.
func BenchmarkRelay(b *testing.B) {
	const phones = 200
	secrets := map[string]string{}
	for i := range phones {
		secrets[fmt.Sprintf("webrtc_%d", i)] = fmt.Sprintf("secret-%d-long-enough", i)
	}
	ast, err := sipwstest.Start(secrets)
	if err != nil {
		b.Fatal(err)
	}
	defer ast.Close()
	rl := &sipws.Relay{Upstream: ast.URL(), PerSecond: 1e6, Burst: 1e6}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rl.Serve(r.Context(), w, r, r.URL.Query().Get("ep"))
	}))
	defer srv.Close()
	relayURL := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx := context.Background()
	opts := &websocket.DialOptions{Subprotocols: []string{"sip"}}

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	open := func(url func(i int) string) []*websocket.Conn {
		cs := make([]*websocket.Conn, phones)
		for i := range cs {
			c, _, err := websocket.Dial(ctx, url(i), opts)
			if err != nil {
				b.Fatal(err)
			}
			cs[i] = c
		}
		return cs
	}
	h0 := heap()
	direct := open(func(int) string { return ast.URL() })
	h1 := heap()
	relayed := open(func(i int) string { return fmt.Sprintf("%s/?ep=webrtc_%d", relayURL, i) })
	h2 := heap()
	defer func() {
		for _, c := range append(direct, relayed...) {
			c.CloseNow()
		}
	}()
	for i, c := range relayed {
		registerT(b, c, fmt.Sprintf("webrtc_%d", i), secrets[fmt.Sprintf("webrtc_%d", i)])
	}
	if !ast.Registered(fmt.Sprintf("webrtc_%d", phones-1)) {
		b.Fatal("not registered")
	}

	var viaRelay, straight []time.Duration
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		i := n % phones
		ep := fmt.Sprintf("webrtc_%d", i)
		for _, side := range []struct {
			c   *websocket.Conn
			out *[]time.Duration
		}{{relayed[i], &viaRelay}, {direct[i], &straight}} {
			start := time.Now()
			roundTrip(b, side.c, options(ep, n))
			*side.out = append(*side.out, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(viaRelay)
	slices.Sort(straight)
	q := func(d []time.Duration, p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(straight, .5), "direct-p50-ms")
	b.ReportMetric(q(straight, .99), "direct-p99-ms")
	b.ReportMetric(q(viaRelay, .5), "relay-p50-ms")
	b.ReportMetric(q(viaRelay, .99), "relay-p99-ms")
	b.ReportMetric(q(viaRelay, .99)-q(straight, .99), "added-p99-ms")
	b.ReportMetric(float64(int64(h2-h1)-int64(h1-h0))/phones/1024, "relay-KiB/socket")
}

func options(ep string, n int) string {
	return fmt.Sprintf("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKo%d\r\nTo: <sip:127.0.0.1>\r\n"+
		"From: <sip:%s@127.0.0.1>;tag=o%d\r\nCSeq: 1 OPTIONS\r\nCall-ID: o%d-%s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", n, ep, n, n, ep)
}

func roundTrip(b *testing.B, c *websocket.Conn, msg string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		b.Fatal(err)
	}
	_, res, err := c.Read(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return string(res)
}

// registerT registers ep over c, answering the digest challenge.
func registerT(b *testing.B, c *websocket.Conn, ep, secret string) {
	reg := func(cseq int, auth string) string {
		return fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKr%d%s\r\nTo: <sip:%s@127.0.0.1>\r\n"+
			"From: <sip:%s@127.0.0.1>;tag=r\r\nCSeq: %d REGISTER\r\nCall-ID: reg-%s\r\nMax-Forwards: 70\r\n"+
			"Contact: <sip:%s@x.invalid;transport=ws>;expires=300\r\n%sContent-Length: 0\r\n\r\n", cseq, ep, ep, ep, cseq, ep, ep, auth)
	}
	m, err := sip.ParseMessage([]byte(roundTrip(b, c, reg(1, ""))))
	if err != nil {
		b.Fatal(err)
	}
	chal, err := digest.ParseChallenge(m.(*sip.Response).GetHeader("WWW-Authenticate").Value())
	if err != nil {
		b.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: ep, Password: secret, Count: 1, Cnonce: "c0ffee"})
	if err != nil {
		b.Fatal(err)
	}
	if res := roundTrip(b, c, reg(2, "Authorization: "+cred.String()+"\r\n")); !strings.HasPrefix(res, "SIP/2.0 200") {
		b.Fatalf("register %s: %s", ep, res)
	}
}
