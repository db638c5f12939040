package httpapi_test

import (
	"net/http"
	"strconv"
	"testing"
)

// TestRateLimit: anonymous callers of public endpoints are limited per IP;
// agents are not.
func TestRateLimit(t *testing.T) {
	s := newServer(t, serverOptions{ratePerMin: 1, burst: 2})
	const slots = "/api/v1/slots?motif_id=rsa-orientation&from=2026-12-03&to=2026-12-03"
	for range 2 {
		s.must(http.StatusOK, req{method: "GET", path: slots})
	}
	resp := s.do(req{method: "GET", path: slots})
	if e := decodeJSON[errorJSON](t, resp); resp.status != http.StatusTooManyRequests || e.Error.Code != "rate_limited" || e.Error.Message == "" {
		t.Fatalf("3rd anonymous request: %d %s, want 429 rate_limited", resp.status, resp.body)
	}
	if secs, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After %q, want 1..60 seconds", resp.header.Get("Retry-After"))
	}
	// The limit covers every public route, bookings included.
	if resp := s.do(req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, thu9, "")}); resp.status != http.StatusTooManyRequests {
		t.Errorf("anonymous booking over the limit: %d, want 429", resp.status)
	}
	for range 10 {
		s.must(http.StatusOK, req{method: "GET", path: slots, agent: "camille-martin"})
	}
	s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", agent: "camille-martin",
		body: map[string]any{"motif_id": rsa, "lieu_id": arrasCentre, "starts_at": thu9, "usager": usager("Léa", "Dubois", "")}})
	s.must(http.StatusOK, req{method: "GET", path: "/healthz"})
}
