package calllog

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/odoo-agi/odoo-agi/internal/ratelog"
)

// Claims keep two or more odoo-agi that serve the same PBXs from posting
// one call twice. Stock Odoo gives a least-rights account no unique key to
// insert against (the marker search before a post is not atomic across
// processes), so the instances decide among themselves: before it posts a
// call, an instance asks every peer. A peer that holds the same call and
// has not yielded keeps it if its name sorts first, and refuses; one that
// owns it refuses; any other grants, and yields the call if it holds it.
// Each side decides under one lock, with the same rule, so one of two
// racing instances posts. Owned calls are remembered for an hour; after
// that the marker search finds the note, long committed.
type Claims struct {
	Self   string   // this instance's name
	Peers  []string // the other instances' control API base URLs
	Secret string   // shared by all instances, sent as a bearer token
	// Grace is how long a peer may be unreachable before calls are posted
	// without its answer (a dead peer posts nothing); default 2m.
	Grace time.Duration
	// Probe is how often a peer past its grace is asked again; the calls
	// in between do not wait on it. Default 10s.
	Probe  time.Duration
	Client *http.Client
	Logger *slog.Logger

	once      sync.Once
	mu        sync.Mutex
	calls     *expirable.LRU[string, claimState]
	unreached map[string]time.Time // since when each peer has not answered
	probed    map[string]time.Time // when a peer past its grace was last asked
	peerAddrs []netip.Addr         // the peers' addresses, resolved at peersAt
	peersAt   time.Time
	limit     ratelog.Limiter // refusals anyone who reaches the port can repeat
}

type claimState int

const (
	holding claimState = iota + 1 // spooled here, asking the peers
	owned                         // every peer granted: this instance posts it
	yielded                       // a peer posts it
)

func (c *Claims) init() {
	c.once.Do(func() {
		c.calls = expirable.NewLRU[string, claimState](100_000, nil, time.Hour)
		c.unreached, c.probed = map[string]time.Time{}, map[string]time.Time{}
		if c.Client == nil {
			c.Client = &http.Client{Timeout: 5 * time.Second}
		}
		if c.Grace <= 0 {
			c.Grace = 2 * time.Minute
		}
		if c.Probe <= 0 {
			c.Probe = 10 * time.Second
		}
		if c.Logger == nil {
			c.Logger = slog.Default()
		}
	})
}

// Acquire reports whether this instance posts the call named key. An error
// means a peer did not answer within its grace: try again later.
func (c *Claims) Acquire(ctx context.Context, key string) (bool, error) {
	c.init()
	c.mu.Lock()
	switch st, _ := c.calls.Get(key); st {
	case owned:
		c.mu.Unlock()
		return true, nil
	case yielded:
		c.mu.Unlock()
		return false, nil
	}
	c.calls.Add(key, holding)
	c.mu.Unlock()
	granted := true
	for _, p := range c.Peers {
		if c.passedOver(p) {
			continue
		}
		ok, err := c.ask(ctx, p, key)
		if err != nil {
			if c.unreachedFor(p) < c.Grace {
				return false, fmt.Errorf("calllog: peer %s did not answer a claim: %w", p, err)
			}
			continue
		}
		granted = granted && ok
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, _ := c.calls.Get(key); st == yielded || !granted {
		c.calls.Add(key, yielded)
		return false, nil
	}
	c.calls.Add(key, owned)
	return true, nil
}

// grant answers a peer's claim on key.
func (c *Claims) grant(key, from string) bool {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch st, _ := c.calls.Get(key); {
	case st == owned, st == holding && c.Self < from:
		return false
	case st == holding:
		c.calls.Add(key, yielded)
	}
	return true
}

type claimRequest struct {
	Call string `json:"call"`
	From string `json:"from"`
}

// ServeHTTP is POST /cluster/claim, a peer's claim: {"call", "from"} with
// the shared secret, from a peer's address; it answers {"granted": bool}.
func (c *Claims) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.init()
	if !c.fromPeer(r.Context(), r.RemoteAddr) {
		c.limit.Log(c.Logger, slog.LevelWarn, "claim from a stranger", "calllog: a claim from an address that is no [cluster] peer was refused", "remote", r.RemoteAddr)
		http.Error(w, "claims are taken from [cluster] peers only", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodPost || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+c.Secret)) != 1 || c.Secret == "" {
		http.Error(w, "a peer's claim needs POST and the [cluster] secret", http.StatusForbidden)
		return
	}
	var req claimRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil || req.Call == "" || req.From == "" || req.From == c.Self {
		http.Error(w, `want {"call": KEY, "from": NAME}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]bool{"granted": c.grant(req.Call, req.From)})
}

func (c *Claims) ask(ctx context.Context, peer, key string) (bool, error) {
	body, _ := json.Marshal(claimRequest{Call: key, From: c.Self})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, peer+"/cluster/claim", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Client.Do(req)
	if err == nil && resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		err = fmt.Errorf("HTTP %s (is [cluster] secret the same on both?)", resp.Status)
	}
	var out struct{ Granted bool }
	if err == nil {
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if _, ok := c.unreached[peer]; !ok {
			c.unreached[peer] = time.Now()
		}
		return false, err
	}
	if _, ok := c.probed[peer]; ok {
		c.Logger.Info("calllog: a [cluster] peer answers again; calls are claimed with it", "peer", peer)
		delete(c.probed, peer)
	}
	delete(c.unreached, peer)
	return out.Granted, nil
}

// passedOver reports whether a peer past its grace is left out of this
// claim: it is asked once per Probe, so a host that is off (each ask
// waiting for the client's timeout) does not hold every call.
func (c *Claims) passedOver(peer string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	since, down := c.unreached[peer]
	if !down || time.Since(since) < c.Grace {
		return false
	}
	last, probing := c.probed[peer]
	if !probing {
		c.Logger.Warn("calllog: a [cluster] peer has not answered for a while; calls are posted without it (the marker search still applies), and it is asked again now and then",
			"peer", peer, "since", since.Round(time.Second))
	} else if time.Since(last) < c.Probe {
		return true
	}
	c.probed[peer] = time.Now()
	return false // this claim probes it
}

func (c *Claims) unreachedFor(peer string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.unreached[peer]; ok {
		return time.Since(t)
	}
	return 0
}

// fromPeer reports whether remote (host:port, as the connection gave it) is
// one of the peers' addresses. Names are resolved at most once a minute;
// a name that does not resolve admits no one.
func (c *Claims) fromPeer(ctx context.Context, remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	c.mu.Lock()
	addrs, fresh := c.peerAddrs, time.Since(c.peersAt) < time.Minute
	c.mu.Unlock()
	if !fresh {
		addrs = c.resolvePeers(ctx)
		c.mu.Lock()
		c.peerAddrs, c.peersAt = addrs, time.Now()
		c.mu.Unlock()
	}
	return slices.Contains(addrs, ap.Addr().Unmap())
}

func (c *Claims) resolvePeers(ctx context.Context) []netip.Addr {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var out []netip.Addr
	for _, p := range c.Peers {
		u, err := url.Parse(p)
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			out = append(out, a.Unmap())
			continue
		}
		as, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
		if err != nil {
			c.Logger.Warn("calllog: a [cluster] peer's name does not resolve; its claims are refused", "peer", p, "err", err)
			continue
		}
		for _, a := range as {
			out = append(out, a.Unmap())
		}
	}
	return out
}
