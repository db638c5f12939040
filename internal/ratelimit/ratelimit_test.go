package ratelimit

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestBuckets(t *testing.T) {
	b := New(rate.Every(time.Minute), 2)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := range 2 {
		if ok, _ := b.Take("1.2.3.4", now); !ok {
			t.Fatalf("take %d refused within the burst", i+1)
		}
	}
	if ok, wait := b.Take("1.2.3.4", now); ok || wait <= 0 || wait > time.Minute {
		t.Errorf("third take: ok=%v wait=%v, want a refusal with a wait up to 1 min", ok, wait)
	}
	if b.Wait("5.6.7.8", now) != 0 || b.Wait("1.2.3.4", now) == 0 {
		t.Error("buckets are per key")
	}
	if b.Wait("1.2.3.4", now.Add(61*time.Second)) != 0 {
		t.Error("the bucket refills")
	}
}

func TestFailures(t *testing.T) {
	f := NewFailures(0, 0)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := range 10 {
		if w := f.Blocked("1.2.3.4", now); w != 0 {
			t.Fatalf("blocked after %d failures", i)
		}
		f.Failed("1.2.3.4", now)
	}
	w := f.Blocked("1.2.3.4", now)
	if w <= 0 || w > 90*time.Second {
		t.Fatalf("after 10 failures: wait %v, want up to 90 s", w)
	}
	if RetryAfter(w) < 1 || RetryAfter(w) > 90 {
		t.Errorf("Retry-After %d", RetryAfter(w))
	}
	if f.Blocked("5.6.7.8", now) != 0 {
		t.Error("another client is blocked too")
	}
	if f.Blocked("1.2.3.4", now.Add(91*time.Second)) != 0 {
		t.Error("one more try after 90 s")
	}
}

func prefixes(t *testing.T, s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func TestClientKey(t *testing.T) {
	proxy := prefixes(t, "10.0.0.0/8", "2001:db8:ffff::/48")
	for _, tc := range []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"direct", "203.0.113.7:5000", nil, nil, "203.0.113.7"},
		{"X-Forwarded-For without trusted proxies is ignored", "203.0.113.7:5000", []string{"198.51.100.1"}, nil, "203.0.113.7"},
		{"X-Forwarded-For from an untrusted peer is ignored", "203.0.113.7:5000", []string{"198.51.100.1"}, proxy, "203.0.113.7"},
		{"behind a trusted proxy", "10.0.0.1:5000", []string{"198.51.100.1"}, proxy, "198.51.100.1"},
		{"a forged leftmost hop is not believed", "10.0.0.1:5000", []string{"1.1.1.1, 198.51.100.1"}, proxy, "198.51.100.1"},
		{"two trusted proxies, two headers", "10.0.0.1:5000", []string{"1.1.1.1, 198.51.100.1", "10.2.3.4"}, proxy, "198.51.100.1"},
		{"a malformed hop stops the walk", "10.0.0.1:5000", []string{"198.51.100.1, nonsense, 10.2.3.4"}, proxy, "10.2.3.4"},
		{"only trusted hops", "10.0.0.1:5000", []string{"10.9.9.9"}, proxy, "10.9.9.9"},
		{"trusted peer without header", "10.0.0.1:5000", nil, proxy, "10.0.0.1"},
		{"IPv6 keyed by /64", "[2001:db8:1:2:a:b:c:d]:443", nil, nil, "2001:db8:1:2::/64"},
		{"IPv6 client behind an IPv6 proxy", "[2001:db8:ffff::1]:443", []string{"2001:db8:1:2::99"}, proxy, "2001:db8:1:2::/64"},
		{"IPv4-mapped is IPv4", "[::ffff:203.0.113.7]:80", nil, nil, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := ClientKey(r, tc.trusted); got != tc.want {
				t.Errorf("ClientKey = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestParseRetryAfter: both forms of RFC 9110 §10.2.3, and nothing for
// what a peer may send by mistake.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"Tue, 01 Dec 2026 09:01:30 GMT", 90 * time.Second},
		{"Tue, 01 Dec 2026 08:59:00 GMT", 0},
	} {
		if got := ParseRetryAfter(c.v, now); got != c.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}
