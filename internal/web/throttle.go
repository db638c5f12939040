package web

import (
	"time"

	"golang.org/x/time/rate"

	"rdvsync/internal/ratelimit"
)

// newLoginThrottle slows down token guessing on /agents/connexion: each
// client IP may fail 10 times, then once every 90 seconds. Successful
// sign-ins cost nothing (handleLogin takes a token on failure only).
func newLoginThrottle() *ratelimit.Buckets {
	return ratelimit.New(rate.Every(90*time.Second), 10)
}
