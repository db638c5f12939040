package web

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// loginThrottle slows down token guessing on /agents/connexion: each client
// IP may fail 10 times, then once every 90 seconds. Successful sign-ins
// cost nothing.
type loginThrottle struct {
	mu      sync.Mutex
	buckets map[string]*throttleBucket
	swept   time.Time
}

type throttleBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLoginThrottle() *loginThrottle { return &loginThrottle{buckets: map[string]*throttleBucket{}} }

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (t *loginThrottle) bucket(ip string, now time.Time) *throttleBucket {
	if now.Sub(t.swept) > 10*time.Minute {
		for k, b := range t.buckets {
			if now.Sub(b.seen) > 30*time.Minute {
				delete(t.buckets, k)
			}
		}
		t.swept = now
	}
	b := t.buckets[ip]
	if b == nil {
		b = &throttleBucket{lim: rate.NewLimiter(rate.Every(90*time.Second), 10)}
		t.buckets[ip] = b
	}
	b.seen = now
	return b
}

// allowed reports whether ip may try to sign in now.
func (t *loginThrottle) allowed(ip string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bucket(ip, now).lim.TokensAt(now) >= 1
}

// failed records a failed sign-in of ip.
func (t *loginThrottle) failed(ip string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bucket(ip, now).lim.AllowN(now, 1)
}
