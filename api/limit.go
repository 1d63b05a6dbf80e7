package api

import (
	"cmp"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Limiter caps credential checks: failures per key (a login, a client
// address) in a sliding window, and checks in flight per key and in all.
// A check reserves its place before the slow step (Odoo's authenticate,
// bcrypt), so parallel guesses cannot all pass the count before the first
// failure is known; a success or an outage refunds the place.
//
// Memory is bounded by Keys. When the table is full and its least recently
// used key still counts, new keys share one overflow bucket: flooding it
// with addresses or logins blocks only new keys, and resets nobody's count.
type Limiter struct {
	Max      int           // failures plus checks in flight, per key and window; default 5
	PerLogin int           // Max for login keys; default Max
	InFlight int           // checks per key at once; default 2
	Total    int           // checks at once over all keys; default 8
	Window   time.Duration // default 1m
	Keys     int           // keys tracked; default 10,000
	Now      func() time.Time

	mu       sync.Mutex
	keys     *simplelru.LRU[string, *bucket]
	overflow bucket
	inflight int
}

type bucket struct {
	fails    []time.Time // the latest failures, oldest first, at most max(Max, PerLogin)
	inflight int
}

func (l *Limiter) defaults() {
	if l.keys != nil {
		return
	}
	l.Max = cmp.Or(max(l.Max, 0), 5)
	l.PerLogin = cmp.Or(max(l.PerLogin, 0), l.Max)
	l.InFlight = cmp.Or(max(l.InFlight, 0), 2)
	l.Total = cmp.Or(max(l.Total, 0), 8)
	l.Window = cmp.Or(max(l.Window, 0), time.Minute)
	l.Keys = cmp.Or(max(l.Keys, 0), 10_000)
	if l.Now == nil {
		l.Now = time.Now
	}
	l.keys, _ = simplelru.NewLRU[string, *bucket](l.Keys+1, nil)
}

// recent drops failures older than the window and returns those left.
func (b *bucket) recent(now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(b.fails) && now.Sub(b.fails[i]) >= window {
		i++
	}
	b.fails = b.fails[i:]
	return b.fails
}

func (b *bucket) idle(now time.Time, window time.Duration) bool {
	return b.inflight == 0 && len(b.recent(now, window)) == 0
}

// bucket returns key's bucket, making one if there is room.
func (l *Limiter) bucket(key string, now time.Time) *bucket {
	if b, ok := l.keys.Get(key); ok {
		return b
	}
	if l.keys.Len() >= l.Keys {
		if _, oldest, ok := l.keys.GetOldest(); ok && !oldest.idle(now, l.Window) {
			return &l.overflow
		}
		l.keys.RemoveOldest()
	}
	b := &bucket{}
	l.keys.Add(key, b)
	return b
}

// Reservation is one admitted check. Call Done exactly once.
type Reservation struct {
	l       *Limiter
	buckets []*bucket
}

// Reserve admits one check counted against every key, or returns nil and
// how long to wait before a try can pass.
func (l *Limiter) Reserve(keys ...string) (*Reservation, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.defaults()
	now := l.Now()
	if l.inflight >= l.Total {
		return nil, time.Second
	}
	bs := make([]*bucket, 0, len(keys))
	var wait time.Duration
	for _, k := range keys {
		b := l.bucket(k, now)
		limit := l.Max
		if strings.HasPrefix(k, loginPrefix) {
			limit = l.PerLogin
		}
		fails := b.recent(now, l.Window)
		n := len(fails) + b.inflight
		if n < limit && b.inflight < l.InFlight {
			bs = append(bs, b)
			continue
		}
		w := time.Second // only checks in flight: they end soon
		if k := n - limit; k >= 0 && k < len(fails) {
			w = fails[k].Add(l.Window).Sub(now) // when enough failures age out
		}
		wait = max(wait, w)
	}
	if wait > 0 {
		return nil, wait
	}
	for _, b := range bs {
		b.inflight++
	}
	l.inflight++
	return &Reservation{l: l, buckets: bs}, 0
}

// Done ends the check: a failure counts against every key; a success, or
// a check that could not be made, is refunded.
func (r *Reservation) Done(failed bool) {
	l := r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	for _, b := range r.buckets {
		b.inflight--
		if failed {
			b.fails = append(b.recent(now, l.Window), now)
			if keep := max(l.Max, l.PerLogin); len(b.fails) > keep {
				b.fails = append(b.fails[:0], b.fails[len(b.fails)-keep:]...)
			}
		}
	}
	l.inflight--
	r.buckets = nil
}

// Fail counts a failure against every key without a check in flight (a
// login that has no [[users]] entry, refused before any slow step).
func (l *Limiter) Fail(keys ...string) {
	if r, _ := l.Reserve(keys...); r != nil {
		r.Done(true)
	}
}

// addrKey is the limiter key of a client address: IPv6 counts per /64,
// which one subscriber usually holds whole.
func addrKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "addr:" + ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "addr:" + p.String()
	}
	return "addr:" + a.String()
}

// loginKey is the limiter key of a login, case folded so that case
// variants of one login share one count.
func loginKey(login string) string { return loginPrefix + strings.ToLower(login) }

const loginPrefix = "login:"
