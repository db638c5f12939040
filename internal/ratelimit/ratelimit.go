// Package ratelimit keeps one token bucket per client, for the anonymous
// callers of the API and the booking pages, and the failed-authentication
// throttle shared by every way of presenting a credential (sign-in form,
// API Bearer tokens, usager links, CalDAV Basic). It also owns the one
// function that says who the client of a request is (ClientKey), so that
// every limiter counts the same visitor the same way, behind a reverse
// proxy too. Buckets idle for a while are dropped, so the maps stay small.
package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// idle is how long an unused bucket is kept; it must exceed the time a
// bucket takes to refill, which every use here keeps under 20 minutes.
const idle = 30 * time.Minute

// Buckets is a token bucket per key.
type Buckets struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns buckets that refill at limit and hold burst tokens.
func New(limit rate.Limit, burst int) *Buckets {
	return &Buckets{limit: limit, burst: burst, buckets: map[string]*bucket{}}
}

// PerMinute returns the buckets of anonymous callers: perMinute requests a
// minute in bursts of burst (defaults, for zero values: 120 and 30, those
// of server.rate_limit).
func PerMinute(perMinute, burst int) *Buckets {
	if perMinute <= 0 {
		perMinute = 120
	}
	if burst <= 0 {
		burst = 30
	}
	return New(rate.Limit(float64(perMinute)/60), burst)
}

func (b *Buckets) get(key string, now time.Time) *rate.Limiter {
	if now.Sub(b.swept) > time.Minute {
		for k, x := range b.buckets {
			if now.Sub(x.seen) > idle {
				delete(b.buckets, k)
			}
		}
		b.swept = now
	}
	x := b.buckets[key]
	if x == nil {
		x = &bucket{lim: rate.NewLimiter(b.limit, b.burst)}
		b.buckets[key] = x
	}
	x.seen = now
	return x.lim
}

// Take spends a token of key, or says how long to wait for one.
func (b *Buckets) Take(key string, now time.Time) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim := b.get(key, now)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, b.delay(lim, now)
}

// Wait says how long key must wait for a token (0: it has one), without
// spending it.
func (b *Buckets) Wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	lim := b.get(key, now)
	if lim.TokensAt(now) >= 1 {
		return 0
	}
	return b.delay(lim, now)
}

func (b *Buckets) delay(lim *rate.Limiter, now time.Time) time.Duration {
	r := lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return wait
}

// ParseRetryAfter reads a peer's Retry-After header (RFC 9110 §10.2.3):
// delay-seconds or an HTTP date, relative to now; 0 when absent, invalid
// or already past. It is the one reader of the header for every client
// rdvsync runs (CalDAV, Google, outgoing webhooks, the SMS provider).
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// RetryAfter is the value of a Retry-After header (RFC 9110 §10.2.3):
// whole seconds, rounded up, at least 1.
func RetryAfter(wait time.Duration) int {
	return int((wait + time.Second - 1) / time.Second)
}

// Failures throttles failed authentications per client: each client may
// fail a few times, then once per interval. Only failures spend tokens,
// so a client that authenticates successfully is never slowed down; a
// client out of tokens is refused before its credential is even looked
// at, so that guessing learns nothing while it waits.
type Failures struct {
	b *Buckets
}

// NewFailures returns a failed-authentication throttle: burst failures,
// then one every interval. The zero values give the daemon's: 10 failures,
// then one every 90 seconds (a guesser gets 960 tries a day per client; an
// agent who mistypes its token is not locked out).
func NewFailures(burst int, every time.Duration) *Failures {
	if burst <= 0 {
		burst = 10
	}
	if every <= 0 {
		every = 90 * time.Second
	}
	return &Failures{b: New(rate.Every(every), burst)}
}

// Blocked says how long the client key must wait before presenting a
// credential again (0: it may now).
func (f *Failures) Blocked(key string, now time.Time) time.Duration {
	return f.b.Wait(key, now)
}

// Failed records a failed authentication of the client key.
func (f *Failures) Failed(key string, now time.Time) {
	f.b.Take(key, now)
}

// ClientKey names the client of r for the limiters: its address (see
// ClientIP), an IPv6 address reduced to its /64, since one subscriber or
// host gets a whole /64 and may rotate addresses within it (RFC 8981).
func ClientKey(r *http.Request, trusted []netip.Prefix) string {
	a := ClientIP(r, trusted)
	if !a.IsValid() {
		return r.RemoteAddr
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// ClientIP is the address of r's client. It is the peer address unless
// the peer is a trusted proxy: then the X-Forwarded-For hops are read from
// the right (the nearest proxy appends the address it saw), skipping those
// of trusted proxies, and the first untrusted one is the client. Hops left
// of it were written by the client itself and prove nothing. Without
// trusted proxies X-Forwarded-For is ignored: anybody can send it.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !isTrusted(peer, trusted) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop := parseAddr(strings.TrimSpace(parts[j]))
			if !hop.IsValid() {
				// A malformed hop: stop at the last address a trusted
				// proxy vouched for.
				return client
			}
			client = hop
			if !isTrusted(hop, trusted) {
				return hop
			}
		}
	}
	return client
}

// parseAddr reads "ip", "ip:port" or "[ip]:port", as IPv4 when it is an
// IPv4-mapped IPv6 address; the zero Addr when it is none of these.
func parseAddr(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
