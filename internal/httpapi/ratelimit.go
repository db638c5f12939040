package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"rdvsync/internal/ratelimit"
)

// newIPLimiter returns the per-IP buckets of anonymous callers of public
// endpoints (defaults: 120 requests a minute, bursts of 30).
func newIPLimiter(perMinute, burst int) *ratelimit.Buckets {
	if perMinute <= 0 {
		perMinute = 120
	}
	if burst <= 0 {
		burst = 30
	}
	return ratelimit.New(rate.Limit(float64(perMinute)/60), burst)
}

// rateLimit applies the per-IP limit to every caller but authenticated
// agents (a forged token is limited like anonymity).
func (a *API) rateLimit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := a.caller(r); err != nil || c.Agent == nil {
			if ok, wait := a.limiter.Take(ratelimit.ClientIP(r, a.trustProxy), time.Now()); !ok {
				secs := int(wait/time.Second) + 1
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				writeErrorCode(w, http.StatusTooManyRequests, "rate_limited", "Trop de requêtes : réessayez dans "+strconv.Itoa(secs)+" secondes.")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
