package ratelimit

import (
	"net/http/httptest"
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
	if !b.Has("5.6.7.8", now) || b.Has("1.2.3.4", now) {
		t.Error("buckets are per key")
	}
	if !b.Has("1.2.3.4", now.Add(61*time.Second)) {
		t.Error("the bucket refills")
	}
}

func TestClientIP(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "203.0.113.7, 10.0.0.1")
	if got := ClientIP(r, false); got != "10.0.0.1" {
		t.Errorf("without a trusted proxy: %s", got)
	}
	if got := ClientIP(r, true); got != "203.0.113.7" {
		t.Errorf("behind a trusted proxy: %s", got)
	}
}
