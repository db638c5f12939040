package caldav

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a fake CalDAV server that keeps the requests it got and
// answers with the next canned response.
type recorder struct {
	mu        sync.Mutex
	requests  []*http.Request
	responses []func(http.ResponseWriter)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req.Clone(context.Background()))
	if len(r.responses) == 0 {
		http.Error(w, "unexpected request", http.StatusTeapot)
		return
	}
	resp := r.responses[0]
	r.responses = r.responses[1:]
	resp(w)
}

func status(code int, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

func calendarBody(etag string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		w.Header().Set("Content-Type", "text/calendar")
		Encode(w, Event{UID: "u", Stamp: time.Unix(0, 0), Start: time.Unix(0, 0), End: time.Unix(60, 0)}.Calendar(""))
	}
}

func fakeClient(t *testing.T, responses ...func(http.ResponseWriter)) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{responses: responses}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL+"/cal/camille", "camille", "secret", ClientOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestPutSendsConditionsAndCredentials(t *testing.T) {
	c, rec := fakeClient(t, status(201, "ETag", `"v1"`), status(204, "ETag", `"v2"`))
	ctx := context.Background()
	cal := Event{UID: "u", Start: time.Unix(0, 0), End: time.Unix(60, 0)}.Calendar("")
	if etag, err := c.Put(ctx, "u.ics", cal, ""); err != nil || etag != `"v1"` {
		t.Fatalf("create: %q, %v", etag, err)
	}
	if etag, err := c.Put(ctx, "u.ics", cal, `"v1"`); err != nil || etag != `"v2"` {
		t.Fatalf("update: %q, %v", etag, err)
	}
	create, update := rec.requests[0], rec.requests[1]
	for _, r := range rec.requests {
		if u, p, ok := r.BasicAuth(); !ok || u != "camille" || p != "secret" {
			t.Errorf("%s: Basic auth %q %q %v", r.Method, u, p, ok)
		}
		if ua := r.Header.Get("User-Agent"); ua != "rdvsync" {
			t.Errorf("User-Agent %q", ua)
		}
		if r.URL.Path != "/cal/camille/u.ics" || r.Method != http.MethodPut {
			t.Errorf("%s %s, want PUT /cal/camille/u.ics", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/calendar") {
			t.Errorf("Content-Type %q", ct)
		}
	}
	if create.Header.Get("If-None-Match") != "*" || create.Header.Get("If-Match") != "" {
		t.Errorf("create: If-None-Match %q, If-Match %q; want *, none", create.Header.Get("If-None-Match"), create.Header.Get("If-Match"))
	}
	if update.Header.Get("If-Match") != `"v1"` || update.Header.Get("If-None-Match") != "" {
		t.Errorf("update: If-Match %q, If-None-Match %q; want \"v1\", none", update.Header.Get("If-Match"), update.Header.Get("If-None-Match"))
	}
}

func TestPutWithoutETagReadsItBack(t *testing.T) {
	c, rec := fakeClient(t, status(201), calendarBody(`"from-get"`))
	etag, err := c.Put(context.Background(), "u.ics", Event{UID: "u"}.Calendar(""), "")
	if err != nil || etag != `"from-get"` {
		t.Fatalf("Put: %q, %v; want the ETag of the GET", etag, err)
	}
	if len(rec.requests) != 2 || rec.requests[1].Method != http.MethodGet || rec.requests[1].Header.Get("If-Match") != "" {
		t.Errorf("requests %v, want PUT then an unconditional GET", rec.requests)
	}

	c, _ = fakeClient(t, status(204), calendarBody(""))
	if etag, err := c.Put(context.Background(), "u.ics", Event{UID: "u"}.Calendar(""), `"old"`); err != nil || etag != "" {
		t.Errorf("server that never tells the ETag: %q, %v; want \"\", nil", etag, err)
	}
}

func TestStatusesBecomeTypedErrors(t *testing.T) {
	tests := []struct {
		status    int
		header    []string
		sentinel  error
		retryable bool
		after     time.Duration
	}{
		{412, nil, ErrPreconditionFailed, false, 0},
		{404, nil, ErrNotFound, false, 0},
		{410, nil, ErrNotFound, false, 0},
		{401, nil, ErrUnauthorized, false, 0},
		{403, nil, ErrUnauthorized, false, 0},
		{400, nil, nil, false, 0},
		{409, nil, nil, false, 0},
		{408, nil, nil, true, 0},
		{425, nil, nil, true, 0},
		{429, []string{"Retry-After", "120"}, nil, true, 2 * time.Minute},
		{500, nil, nil, true, 0},
		{503, []string{"Retry-After", "7"}, nil, true, 7 * time.Second},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			c, _ := fakeClient(t, status(tc.status, tc.header...))
			_, err := c.Put(context.Background(), "u.ics", Event{UID: "u"}.Calendar(""), "")
			var he *HTTPError
			if !errors.As(err, &he) || he.Status != tc.status || he.Method != http.MethodPut || !strings.HasSuffix(he.URL, "/cal/camille/u.ics") {
				t.Fatalf("got %v, want an *HTTPError for PUT with status %d", err, tc.status)
			}
			for _, s := range []error{ErrPreconditionFailed, ErrNotFound, ErrUnauthorized} {
				if errors.Is(err, s) != (s == tc.sentinel) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, !(s == tc.sentinel))
				}
			}
			if Retryable(err) != tc.retryable {
				t.Errorf("Retryable = %v, want %v", !tc.retryable, tc.retryable)
			}
			if he.RetryAfter != tc.after {
				t.Errorf("RetryAfter = %v, want %v", he.RetryAfter, tc.after)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestDeleteOfAGoneObjectSucceeds(t *testing.T) {
	c, rec := fakeClient(t, status(404), status(410), status(204))
	for i := range 3 {
		if err := c.Delete(context.Background(), "u.ics", `"v1"`); err != nil {
			t.Errorf("delete %d: %v", i, err)
		}
	}
	if got := rec.requests[2].Header.Get("If-Match"); got != `"v1"` {
		t.Errorf("If-Match %q", got)
	}
}

func TestRequestTimeoutIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL+"/cal/", "u", "p", ClientOptions{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Get(context.Background(), "u.ics")
	if !errors.Is(err, context.DeadlineExceeded) || !Retryable(err) {
		t.Errorf("got %v, want a retryable deadline error", err)
	}
}

func TestNewClientKeepsCredentialsOutOfURLs(t *testing.T) {
	c, err := NewClient("https://camille:secret@dav.example.org/cal/camille/rdv", "", "", ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.http.username != "camille" || c.http.password != "secret" {
		t.Errorf("credentials from the URL not used")
	}
	if got := c.Href("x.ics"); got != "/cal/camille/rdv/x.ics" {
		t.Errorf("Href = %q", got)
	}
	if strings.Contains(c.calendar.String(), "secret") {
		t.Errorf("URL keeps the password: %s", c.calendar)
	}
	for _, bad := range []string{"", "dav.example.org/cal", "ftp://x/cal/"} {
		if _, err := NewClient(bad, "u", "p", ClientOptions{}); err == nil {
			t.Errorf("NewClient(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "..", "a/b.ics"} {
		if _, err := c.Put(context.Background(), bad, Event{UID: "u"}.Calendar(""), ""); err == nil {
			t.Errorf("object name %q accepted", bad)
		}
	}
}
