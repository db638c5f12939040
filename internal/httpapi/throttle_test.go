package httpapi_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"rdvsync/internal/catalog"
	"rdvsync/internal/ratelimit"
)

// behindProxy is the example catalogue with the loopback test server's
// peer address as the one trusted reverse proxy.
func behindProxy(t *testing.T) *catalog.Catalog {
	cat := exampleCatalog(t)
	cat.Config.Server.Proxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	return cat
}

func from(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

// wantTooMany checks a 429 with Retry-After and the JSON error body.
func wantTooMany(t *testing.T, resp response, what string) {
	t.Helper()
	e := decodeJSON[errorJSON](t, resp)
	if resp.status != http.StatusTooManyRequests || e.Error.Code != "rate_limited" || e.Error.Message == "" {
		t.Fatalf("%s: %d %s, want 429 rate_limited", what, resp.status, resp.body)
	}
	if secs, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || secs < 1 || secs > 90 {
		t.Errorf("%s: Retry-After %q, want 1..90 seconds", what, resp.header.Get("Retry-After"))
	}
}

// TestBearerGuessingThrottled: wrong Bearer tokens were never throttled
// (600 tries in 0.6 s); now the 11th failure from one client gets 429,
// right or wrong, while other clients and successful agents are not
// slowed.
func TestBearerGuessingThrottled(t *testing.T) {
	s := newServer(t, serverOptions{catalog: behindProxy(t), failures: ratelimit.NewFailures(0, 0)})
	const list = "/api/v1/rdvs"
	for i := range 9 {
		if r := s.do(req{method: "GET", path: list, auth: "Bearer guess-" + strconv.Itoa(i), header: from("198.51.100.7")}); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i, r.status)
		}
	}
	// Successes spend nothing: an agent may call as much as it likes.
	for range 50 {
		s.must(http.StatusOK, req{method: "GET", path: list, agent: "camille-martin", header: from("198.51.100.7")})
	}
	s.must(http.StatusUnauthorized, req{method: "GET", path: list, auth: "Bearer guess-9", header: from("198.51.100.7")})
	wantTooMany(t, s.do(req{method: "GET", path: list, auth: "Bearer guess-10", header: from("198.51.100.7")}), "11th wrong token")
	// Blocked, a right token is refused too: the guesser learns nothing.
	wantTooMany(t, s.do(req{method: "GET", path: list, agent: "camille-martin", header: from("198.51.100.7")}), "right token while blocked")
	// The public routes count Bearer failures as well.
	wantTooMany(t, s.do(req{method: "GET", path: "/api/v1/catalog", auth: "Bearer x", header: from("198.51.100.7")}), "catalog with a token while blocked")
	// Another client is not affected, nor anonymous calls of the blocked one.
	s.must(http.StatusOK, req{method: "GET", path: list, agent: "camille-martin", header: from("198.51.100.8")})
	s.must(http.StatusOK, req{method: "GET", path: "/api/v1/catalog", header: from("198.51.100.7")})
}

// TestUsagerTokenGuessingThrottled: the usager link's token is a
// credential too; wrong ones (401) and tokens for unknown RDVs (404)
// are counted.
func TestUsagerTokenGuessingThrottled(t *testing.T) {
	s := newServer(t, serverOptions{failures: ratelimit.NewFailures(0, 0)})
	b := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", agent: "camille-martin",
		body: map[string]any{"motif_id": rsa, "lieu_id": arrasCentre, "starts_at": thu9, "usager": usager("Léa", "Dubois", "")}}))
	path := "/api/v1/rdvs/" + b.ID + "?token="
	for i := range 5 {
		if r := s.do(req{method: "GET", path: path + "guess" + strconv.Itoa(i)}); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong usager token %d: %d, want 401", i, r.status)
		}
		// Guessing an RDV id with the token is guessing too.
		if r := s.do(req{method: "GET", path: "/api/v1/rdvs/guess-" + strconv.Itoa(i) + "?token=x"}); r.status != http.StatusNotFound {
			t.Fatalf("unknown id %d: %d, want 404", i, r.status)
		}
	}
	wantTooMany(t, s.do(req{method: "GET", path: path + "guess10"}), "11th wrong usager token")
	wantTooMany(t, s.do(req{method: "POST", path: "/api/v1/rdvs/" + b.ID + "/cancel?token=guess11", body: map[string]any{}}), "cancel with a token while blocked")
}

// TestBehindProxyOneBucketPerVisitor: behind a trusted reverse proxy, two
// visitors have two buckets (they shared one: 10 bad sign-ins locked every
// agent out); X-Forwarded-For from an untrusted peer is ignored, and
// addresses rotated within one IPv6 /64 share a bucket.
func TestBehindProxyOneBucketPerVisitor(t *testing.T) {
	const slots = "/api/v1/slots?motif_id=rsa-orientation&from=2026-12-03&to=2026-12-03"
	t.Run("trusted proxy", func(t *testing.T) {
		s := newServer(t, serverOptions{catalog: behindProxy(t), ratePerMin: 1, burst: 2})
		for range 2 {
			s.must(http.StatusOK, req{method: "GET", path: slots, header: from("203.0.113.1")})
		}
		wantTooMany(t, s.do(req{method: "GET", path: slots, header: from("203.0.113.1")}), "first visitor's 3rd request")
		s.must(http.StatusOK, req{method: "GET", path: slots, header: from("203.0.113.2")})
		// A visitor writing its own X-Forwarded-For does not escape: the
		// proxy appends the address it saw, and that one counts.
		wantTooMany(t, s.do(req{method: "GET", path: slots, header: from("192.0.2.99, 203.0.113.1")}), "forged leftmost hop")
	})
	t.Run("IPv6 rotation within a /64", func(t *testing.T) {
		s := newServer(t, serverOptions{catalog: behindProxy(t), ratePerMin: 1, burst: 2})
		s.must(http.StatusOK, req{method: "GET", path: slots, header: from("2001:db8:1:2::1")})
		s.must(http.StatusOK, req{method: "GET", path: slots, header: from("2001:db8:1:2:aaaa::2")})
		wantTooMany(t, s.do(req{method: "GET", path: slots, header: from("2001:db8:1:2:ffff:1:2:3")}), "third address of the same /64")
		s.must(http.StatusOK, req{method: "GET", path: slots, header: from("2001:db8:1:3::1")})
	})
	t.Run("untrusted X-Forwarded-For", func(t *testing.T) {
		s := newServer(t, serverOptions{ratePerMin: 1, burst: 2})
		for i := range 2 {
			s.must(http.StatusOK, req{method: "GET", path: slots, header: from("203.0.113." + strconv.Itoa(i))})
		}
		wantTooMany(t, s.do(req{method: "GET", path: slots, header: from("203.0.113.3")}), "new X-Forwarded-For without a trusted proxy")
	})
}
