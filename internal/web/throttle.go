package web

import (
	"net/http"
	"strconv"
	"time"

	"rdvsync/internal/ratelimit"
)

// clientKey names the request's client for the limiters, through the
// trusted proxies of the configuration in force.
func clientKey(r *http.Request, c *reqCtx) string {
	return ratelimit.ClientKey(r, c.cat.Config.Server.Proxies)
}

// limited applies the anonymous callers' limit (the API's, shared: one
// budget per visitor) to a page that computes slots or books: a visitor
// could otherwise book through the pages what the API refuses. Signed-in
// agents are not limited, as in the API.
func (w *Web) limited(h pageHandler) pageHandler {
	return func(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
		if c.agent == nil {
			if ok, wait := w.anonymous.Take(clientKey(r, c), time.Now()); !ok {
				w.log.Warn("page rate limited", "route", r.Pattern)
				w.tooMany(rw, r, c, wait, "Trop de demandes depuis ce poste en peu de temps. Patientez un instant, puis rechargez la page.")
				return
			}
		}
		h(rw, r, c)
	}
}

// authBlocked answers 429 and returns true when the client failed to
// authenticate too often (sign-in form, usager links, API tokens, CalDAV:
// one throttle for all).
func (w *Web) authBlocked(rw http.ResponseWriter, r *http.Request, c *reqCtx) bool {
	wait := w.failures.Blocked(clientKey(r, c), time.Now())
	if wait <= 0 {
		return false
	}
	w.log.Warn("authentication throttled", "route", r.Pattern)
	w.tooMany(rw, r, c, wait, "Trop de tentatives avec un lien ou un identifiant incorrect depuis ce poste. Réessayez dans quelques minutes.")
	return true
}

// authFailed counts a failed authentication of the request's client.
func (w *Web) authFailed(r *http.Request, c *reqCtx) {
	w.failures.Failed(clientKey(r, c), time.Now())
}

// tooMany shows the error page with 429 and Retry-After.
func (w *Web) tooMany(rw http.ResponseWriter, r *http.Request, c *reqCtx, wait time.Duration, message string) {
	rw.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfter(wait)))
	w.renderError(rw, r, c, http.StatusTooManyRequests, "Trop de tentatives", message)
}
