package calllog_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/calllog"
	"github.com/odoo-agi/odoo-agi/internal/wait"
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

// claimsPair is two instances that list each other as peers.
func claimsPair(t *testing.T) (a, b *calllog.Claims) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	const secret = "a shared secret of both"
	a = &calllog.Claims{Self: "agi1", Secret: secret, Logger: quiet}
	b = &calllog.Claims{Self: "agi2", Secret: secret, Logger: quiet}
	sa, sb := httptest.NewServer(a), httptest.NewServer(b)
	t.Cleanup(sa.Close)
	t.Cleanup(sb.Close)
	a.Peers, b.Peers = []string{sb.URL}, []string{sa.URL}
	return a, b
}

// TestOfTwoInstancesClaimingACallOnePostsIt: 200 calls, each claimed by
// both instances at once (32 calls in flight, so that no claim meets the
// client's timeout on a loaded machine); each call has exactly one owner,
// and asking again gives the same answer.
func TestOfTwoInstancesClaimingACallOnePostsIt(t *testing.T) {
	a, b := claimsPair(t)
	const calls = 200
	owners := make([][2]bool, calls)
	inFlight := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range calls {
		inFlight <- struct{}{}
		var both sync.WaitGroup
		for j, c := range []*calllog.Claims{a, b} {
			both.Go(func() {
				mine, err := c.Acquire(context.Background(), fmt.Sprintf("pbx:1733400000.%d", i))
				if err != nil {
					t.Error(err)
				}
				owners[i][j] = mine
			})
		}
		wg.Go(func() { both.Wait(); <-inFlight })
	}
	wg.Wait()
	for i, o := range owners {
		if o[0] == o[1] {
			t.Errorf("call %d: agi1 posts %v, agi2 posts %v; want exactly one", i, o[0], o[1])
		}
		for j, c := range []*calllog.Claims{a, b} {
			if again, _ := c.Acquire(context.Background(), fmt.Sprintf("pbx:1733400000.%d", i)); again != o[j] {
				t.Errorf("call %d: agi%d answers %v, then %v", i, j+1, o[j], again)
			}
		}
	}
}

// TestAPeerThatIsDownHoldsCallsForItsGraceThenIsPassedOver: claims fail
// (the call waits in the spool) while a dead peer is within its grace,
// and succeed without it after.
func TestAPeerThatIsDownHoldsCallsForItsGraceThenIsPassedOver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // connections are refused from now on
	c := &calllog.Claims{Self: "agi1", Peers: []string{dead}, Secret: "a shared secret of both",
		Grace: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := c.Acquire(context.Background(), "pbx:1.1"); err == nil || !strings.Contains(err.Error(), "did not answer a claim") {
		t.Fatalf("the first claim with the peer down: %v; want an error that names the peer", err)
	}
	wait.For(t, "the grace to pass", 10*time.Second, func() bool {
		mine, err := c.Acquire(context.Background(), "pbx:1.1")
		return err == nil && mine
	})
}

// TestAClaimGrantedBeforeThePeerHeldTheCallIsYieldedIfThePeerClaimsFirst
// forces the race the rule must settle: agi2 asks agi1, which does not
// hold the call yet and grants; then, before agi2 hears that, agi1 claims
// the same call and agi2, still asking, yields it. Exactly one posts.
func TestAClaimGrantedBeforeThePeerHeldTheCallIsYieldedIfThePeerClaimsFirst(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	const secret = "a shared secret of both"
	a := &calllog.Claims{Self: "agi1", Secret: secret, Logger: quiet}
	b := &calllog.Claims{Self: "agi2", Secret: secret, Logger: quiet}
	var aMine bool
	sa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, r) // granted: agi1 does not hold the call
		var err error
		if aMine, err = a.Acquire(r.Context(), "pbx:1733400000.1"); err != nil {
			t.Error(err)
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer sa.Close()
	sb := httptest.NewServer(b)
	defer sb.Close()
	a.Peers, b.Peers = []string{sb.URL}, []string{sa.URL}
	bMine, err := b.Acquire(context.Background(), "pbx:1733400000.1")
	if err != nil {
		t.Fatal(err)
	}
	if aMine == bMine {
		t.Errorf("agi1 posts %v, agi2 posts %v; want exactly one", aMine, bMine)
	}
}

// TestAPeerThatNeverAnswersIsAskedOncePerProbe: a peer that takes the
// connection and stays silent (a host behind a firewall that drops) costs
// each claim the client's timeout while it is within its grace; after it,
// the calls are claimed without asking it until the next probe.
func TestAPeerThatNeverAnswersIsAskedOncePerProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var asked int
	var held []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			asked++
			held = append(held, conn) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	c := &calllog.Claims{Self: "agi1", Peers: []string{"http://" + ln.Addr().String()}, Secret: "a shared secret of both",
		Grace: 300 * time.Millisecond, Probe: time.Hour, Client: &http.Client{Timeout: 100 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n := 0
	wait.For(t, "the grace to pass", 10*time.Second, func() bool {
		n++
		mine, err := c.Acquire(context.Background(), fmt.Sprintf("pbx:1.%d", n))
		return err == nil && mine
	})
	mu.Lock()
	before := asked
	mu.Unlock()
	for i := range 20 {
		if mine, err := c.Acquire(context.Background(), fmt.Sprintf("pbx:2.%d", i)); err != nil || !mine {
			t.Fatalf("call %d past the grace: %v, %v", i, mine, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// The call that crossed the grace did so while asking; the next one
	// probes, and the rest wait for the next probe.
	if asked-before > 1 {
		t.Errorf("the silent peer was asked %d times for 20 calls past its grace; want at most the one probe", asked-before)
	}
}
