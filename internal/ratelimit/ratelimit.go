// Package ratelimit keeps one token bucket per key (a client IP), for the
// API's anonymous callers and the agents' sign-in page. Buckets idle for a
// while are dropped, so the map stays small.
package ratelimit

import (
	"net"
	"net/http"
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
	r := lim.ReserveN(now, 1)
	wait = r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}

// Has reports whether key has a token left, without spending it (the
// sign-in page spends one per failure only).
func (b *Buckets) Has(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.get(key, now).TokensAt(now) >= 1
}

// ClientIP is the request's client address: the first X-Forwarded-For
// entry when trustProxy (behind a reverse proxy), else the peer address.
func ClientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
