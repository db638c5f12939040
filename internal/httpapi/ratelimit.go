package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter is a token bucket per client IP for anonymous callers of
// public endpoints. Idle buckets are dropped so the map stays small.
type ipLimiter struct {
	mu         sync.Mutex
	buckets    map[string]*bucket
	limit      rate.Limit
	burst      int
	trustProxy bool
	lastSweep  time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiter(perMinute, burst int, trustProxy bool) *ipLimiter {
	if perMinute <= 0 {
		perMinute = 120
	}
	if burst <= 0 {
		burst = 30
	}
	return &ipLimiter{buckets: map[string]*bucket{}, limit: rate.Limit(float64(perMinute) / 60), burst: burst, trustProxy: trustProxy}
}

func (l *ipLimiter) clientIP(r *http.Request) string {
	if l.trustProxy {
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

// reserve takes a token for ip, or returns how long to wait.
func (l *ipLimiter) reserve(ip string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b := l.buckets[ip]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[ip] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	r := b.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}

// rateLimit applies the per-IP limit to every caller but authenticated
// agents (a forged token is limited like anonymity).
func (a *API) rateLimit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := a.caller(r); err != nil || c.Agent == nil {
			if ok, wait := a.limiter.reserve(a.limiter.clientIP(r), time.Now()); !ok {
				secs := int(wait/time.Second) + 1
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				writeErrorCode(w, http.StatusTooManyRequests, "rate_limited", "Trop de requêtes : réessayez dans "+strconv.Itoa(secs)+" secondes.")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
