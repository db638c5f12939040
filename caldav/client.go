package caldav

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"rdvsync/internal/ratelimit"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
)

// DefaultTimeout bounds each CalDAV request when ClientOptions.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// AnyETag as the ifMatch of Put or Delete matches any existing version of
// the object ("If-Match: *"): for an object known to exist whose ETag the
// server never told.
const AnyETag = "*"

// ClientOptions tunes a Client. The zero value is usable.
type ClientOptions struct {
	// Timeout bounds each request, response body included; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Location interprets floating times and all-day events read by Busy
	// (the agent's time zone); nil means UTC.
	Location *time.Location
}

// Client reads and writes the objects of one calendar collection. Every
// request goes through one wrapper (transport, a go-webdav HTTPClient)
// that authenticates, bounds the request in time, adds the conditional
// headers and turns non-2xx statuses into *HTTPError.
type Client struct {
	calendar *url.URL // the collection, path ending with "/", no credentials
	http     *transport
	loc      *time.Location
}

// NewClient returns a client of the calendar collection at calendarURL.
// Credentials are sent with HTTP Basic authentication; credentials
// written in the URL are used when username and password are empty, and
// are never printed.
func NewClient(calendarURL, username, password string, opts ClientOptions) (*Client, error) {
	u, err := url.Parse(calendarURL)
	if err != nil {
		return nil, fmt.Errorf("caldav: calendar URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("caldav: calendar URL %q: want an http:// or https:// URL", u.Redacted())
	}
	if u.User != nil && username == "" && password == "" {
		username = u.User.Username()
		password, _ = u.User.Password()
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	t := &transport{username: username, password: password, timeout: opts.Timeout}
	if t.timeout <= 0 {
		t.timeout = DefaultTimeout
	}
	t.base = http.DefaultClient
	if opts.HTTPClient != nil {
		t.base = opts.HTTPClient
	}
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	return &Client{calendar: u, http: t, loc: loc}, nil
}

// Href is the path (unescaped) of the object named name in the
// collection.
func (c *Client) Href(name string) string {
	return c.objectURL(name).Path
}

func (c *Client) objectURL(name string) *url.URL {
	return c.calendar.JoinPath(name)
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
		return fmt.Errorf("caldav: %q is not an object name", name)
	}
	return nil
}

// Put stores cal as the object name and returns its new ETag (the entity
// tag as the server sent it, quotes included: some servers, Radicale
// among them, compare If-Match byte for byte).
//
// ifMatch "" creates the object and fails with ErrPreconditionFailed if
// it exists (If-None-Match: *); otherwise the object is replaced only if
// its current ETag is ifMatch (If-Match), ErrPreconditionFailed if not,
// or if it is gone. AnyETag replaces any existing version.
//
// A server that changes the object as it stores it sends no ETag (RFC
// 4791 §5.3.4); Put then reads it back with a GET. If that GET gives none
// either, Put returns "" and a nil error: the next conditional write can
// only be a create, which fails with ErrPreconditionFailed, so callers
// recover by fetching the object (Get) and writing with AnyETag.
func (c *Client) Put(ctx context.Context, name string, cal *ical.Calendar, ifMatch string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := Encode(&buf, cal); err != nil {
		return "", err
	}
	cond := condition{ifMatch: ifMatch, ifNoneMatch: ifMatch == ""}
	req, err := http.NewRequestWithContext(withCondition(ctx, cond), http.MethodPut, c.objectURL(name).String(), bytes.NewReader(buf.Bytes()))
	if err != nil {
		return "", fmt.Errorf("caldav: %w", err)
	}
	req.Header.Set("Content-Type", "text/calendar; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	closeBody(resp)
	if etag := resp.Header.Get("ETag"); etag != "" {
		return etag, nil
	}
	_, etag, err := c.Get(ctx, name)
	if err != nil {
		return "", nil // stored; the ETag is merely unknown (see above)
	}
	return etag, nil
}

// Get reads the object name and its ETag ("" if the server sends none).
// A missing object is ErrNotFound.
func (c *Client) Get(ctx context.Context, name string) (*ical.Calendar, string, error) {
	if err := checkName(name); err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.objectURL(name).String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("caldav: %w", err)
	}
	req.Header.Set("Accept", ical.MIMEType)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer closeBody(resp)
	cal, err := ical.NewDecoder(resp.Body).Decode()
	if err != nil {
		return nil, "", fmt.Errorf("caldav: GET %s: decode iCalendar: %w", redact(req.URL), err)
	}
	return cal, resp.Header.Get("ETag"), nil
}

// Delete removes the object name, only if its ETag is ifMatch when
// ifMatch is not "" (ErrPreconditionFailed otherwise). An object already
// gone (404, 410) is success.
func (c *Client) Delete(ctx context.Context, name, ifMatch string) error {
	if err := checkName(name); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(withCondition(ctx, condition{ifMatch: ifMatch}), http.MethodDelete, c.objectURL(name).String(), nil)
	if err != nil {
		return fmt.Errorf("caldav: %w", err)
	}
	resp, err := c.http.Do(req)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	closeBody(resp)
	return nil
}

// Object is one calendar object resource of the collection.
type Object struct {
	Name     string         // last segment of Href
	Href     string         // path, unescaped
	ETag     string         // as the server sent it, quotes included
	Calendar *ical.Calendar // its VEVENTs at least (VTIMEZONEs may be left out)
}

// List returns every object of the collection that holds a VEVENT, with
// one calendar-query REPORT (RFC 4791 §7.8).
func (c *Client) List(ctx context.Context) ([]Object, error) {
	return c.query(ctx, eventFilter{})
}

// transport is the one wrapper every CalDAV request goes through. It is a
// go-webdav HTTPClient wrapping another, so go-webdav's own calls (service
// discovery, say) can go through it too.
type transport struct {
	base               webdav.HTTPClient
	username, password string
	timeout            time.Duration
}

var _ webdav.HTTPClient = (*transport)(nil)

// condition is the precondition of a write. It travels in the request
// context so that the wrapper writes the conditional headers whoever
// built the request (go-webdav's calls take no headers).
type condition struct {
	ifMatch     string // If-Match value, "" for none
	ifNoneMatch bool   // If-None-Match: * (create only)
}

type conditionKey struct{}

func withCondition(ctx context.Context, c condition) context.Context {
	return context.WithValue(ctx, conditionKey{}, c)
}

// userAgent names rdvsync to CalDAV servers.
const userAgent = "rdvsync"

func (t *transport) Do(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	req = req.Clone(ctx)
	if t.username != "" || t.password != "" {
		req.SetBasicAuth(t.username, t.password)
	}
	req.Header.Set("User-Agent", userAgent)
	if c, ok := ctx.Value(conditionKey{}).(condition); ok {
		if c.ifMatch != "" {
			req.Header.Set("If-Match", c.ifMatch)
		}
		if c.ifNoneMatch {
			req.Header.Set("If-None-Match", "*")
		}
	}
	resp, err := t.base.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("caldav: %s %s: %w", req.Method, redact(req.URL), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		closeBody(resp)
		cancel()
		return nil, &HTTPError{
			Method:     req.Method,
			URL:        redact(req.URL),
			Status:     resp.StatusCode,
			RetryAfter: ratelimit.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases the request's timeout once its body is read.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// closeBody drains a little of the body so the connection can be reused.
func closeBody(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// redact prints u without credentials, query or fragment.
func redact(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.Fragment = nil, "", ""
	return v.String()
}
