package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"rdvsync/internal/ratelimit"
)

// clientKey names the request's client for the limiters, through the
// trusted proxies of the configuration in force.
func (a *API) clientKey(r *http.Request) string {
	return ratelimit.ClientKey(r, a.booking.Catalog().Config.Server.Proxies)
}

// rateLimit applies the per-IP limit to every caller but authenticated
// agents (a forged token is limited like anonymity).
func (a *API) rateLimit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := a.caller(r); err != nil || c.Agent == nil {
			if ok, wait := a.limiter.Take(a.clientKey(r), time.Now()); !ok {
				writeTooMany(w, wait, "Trop de requêtes : réessayez dans %d secondes.")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// throttleFailures refuses credentials (a Bearer token, an usager link's
// token) from a client that failed to authenticate too often, and counts
// the failures: a 401, or a 404 to an usager token (a wrong token and an
// unknown RDV look the same). Requests without credentials cost nothing
// here, nor do successful ones.
func (a *API) throttleFailures(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bearer := r.Header.Get("Authorization") != ""
		usager := !bearer && r.URL.Query().Get("token") != ""
		if !bearer && !usager {
			h.ServeHTTP(w, r)
			return
		}
		key := a.clientKey(r)
		if wait := a.failures.Blocked(key, time.Now()); wait > 0 {
			a.log.Warn("authentication throttled", "route", r.Pattern)
			writeTooMany(w, wait, "Trop de tentatives d'authentification échouées depuis cette adresse : réessayez dans %d secondes.")
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == http.StatusUnauthorized || (usager && sw.status == http.StatusNotFound) {
			a.failures.Failed(key, time.Now())
		}
	})
}

// writeTooMany answers 429 with Retry-After and the JSON error body;
// format has one %d, the seconds to wait.
func writeTooMany(w http.ResponseWriter, wait time.Duration, format string) {
	secs := ratelimit.RetryAfter(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeErrorCode(w, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf(format, secs))
}
