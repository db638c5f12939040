package caldav

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel errors matched by an *HTTPError with errors.Is.
var (
	// ErrPreconditionFailed is 412: If-Match or If-None-Match did not hold
	// (the object changed, vanished, or already exists).
	ErrPreconditionFailed = errors.New("caldav: precondition failed")
	// ErrNotFound is 404 or 410.
	ErrNotFound = errors.New("caldav: not found")
	// ErrUnauthorized is 401 or 403: wrong credentials or no access.
	ErrUnauthorized = errors.New("caldav: unauthorized")
)

// HTTPError is a CalDAV request that got a non-2xx status. go-webdav does
// not expose statuses, so the client wrapper builds this from every
// response before go-webdav sees it.
type HTTPError struct {
	Method, URL string // URL without credentials
	Status      int
	// RetryAfter is the server's Retry-After (429, 503), 0 if absent.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("caldav: %s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
}

// Is lets errors.Is match the sentinels against the status.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrPreconditionFailed:
		return e.Status == http.StatusPreconditionFailed
	case ErrNotFound:
		return e.Status == http.StatusNotFound || e.Status == http.StatusGone
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	}
	return false
}

// Retryable reports whether trying err's request again later may succeed:
// 408, 425, 429 and 5xx, and every error without an HTTP status (network
// failures, timeouts, truncated responses). Other 4xx are permanent: the
// same request will be refused again.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var he *HTTPError
	if !errors.As(err, &he) {
		return true
	}
	switch he.Status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return he.Status >= 500
}
