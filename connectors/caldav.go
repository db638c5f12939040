package connectors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"rdvsync/caldav"
)

// CalDAVConfig is one agent's CalDAV calendar.
type CalDAVConfig struct {
	URL      string // the calendar collection
	Username string
	Password string
	// Timeout bounds each request; 0 means caldav.DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Location interprets floating times and all-day events when reading
	// busy times (the agent's organisation's zone); nil means UTC.
	Location *time.Location
}

// CalDAV pushes RDVs to a CalDAV calendar (RFC 4791) as objects named
// "<uid>.ics", with conditional writes so that nothing a person changed
// in between is overwritten blindly and no event is ever duplicated.
type CalDAV struct {
	client *caldav.Client
}

var _ Connector = (*CalDAV)(nil)

// NewCalDAV returns the connector of the calendar described by cfg.
func NewCalDAV(cfg CalDAVConfig) (*CalDAV, error) {
	c, err := caldav.NewClient(cfg.URL, cfg.Username, cfg.Password, caldav.ClientOptions{
		Timeout: cfg.Timeout, HTTPClient: cfg.HTTPClient, Location: cfg.Location,
	})
	if err != nil {
		return nil, Permanent(err)
	}
	return &CalDAV{client: c}, nil
}

// Kind is "caldav".
func (*CalDAV) Kind() string { return "caldav" }

func caldavObjectName(uid string) string { return uid + ".ics" }

// Put stores ev. With no previous ETag it creates the object
// (If-None-Match: *); if the object exists already — rdvsync stopped
// between the PUT and saving its state — it takes the object's ETag and
// updates it. With a previous ETag it updates (If-Match); if the object
// changed meanwhile (412) it takes the new ETag and tries once more; if
// the object is gone it creates it again.
func (c *CalDAV) Put(ctx context.Context, ev caldav.Event, prev State) (State, error) {
	name := caldavObjectName(ev.UID)
	cal := ev.Calendar("")
	etag, err := c.client.Put(ctx, name, cal, prev.ETag)
	if errors.Is(err, caldav.ErrPreconditionFailed) {
		var current string
		if current, err = c.currentETag(ctx, name); err == nil {
			etag, err = c.client.Put(ctx, name, cal, current)
		}
	}
	if err != nil {
		return State{}, classifyCalDAV(fmt.Errorf("push %s: %w", name, err))
	}
	return State{Href: c.client.Href(name), ETag: etag}, nil
}

// currentETag returns the If-Match value that replaces the object as it
// is now: its ETag, AnyETag if the server tells none, or "" (create) if
// it is gone.
func (c *CalDAV) currentETag(ctx context.Context, name string) (string, error) {
	_, etag, err := c.client.Get(ctx, name)
	switch {
	case errors.Is(err, caldav.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	case etag == "":
		return caldav.AnyETag, nil
	}
	return etag, nil
}

// Delete removes the event, only in the version rdvsync wrote when it
// knows it; if it changed meanwhile (412), it is removed all the same
// since the RDV is cancelled. An event already gone is success.
func (c *CalDAV) Delete(ctx context.Context, uid string, prev State) error {
	name := caldavObjectName(uid)
	err := c.client.Delete(ctx, name, prev.ETag)
	if errors.Is(err, caldav.ErrPreconditionFailed) {
		var current string
		if current, err = c.currentETag(ctx, name); err == nil && current != "" {
			err = c.client.Delete(ctx, name, current)
		}
	}
	if err != nil {
		return classifyCalDAV(fmt.Errorf("delete %s: %w", name, err))
	}
	return nil
}

// Busy lists the opaque busy times overlapping [from, to), recurring
// events expanded, each with its iCalendar UID.
func (c *CalDAV) Busy(ctx context.Context, from, to time.Time) ([]Busy, error) {
	bs, err := c.client.Busy(ctx, from, to)
	if err != nil {
		return nil, classifyCalDAV(fmt.Errorf("read busy times: %w", err))
	}
	out := make([]Busy, len(bs))
	for i, b := range bs {
		out[i] = Busy{Start: b.Start, End: b.End, UID: b.UID}
	}
	return out, nil
}

// classifyCalDAV tells the outbox what to do with err: wait as long as the
// server asked (429 or 503 with Retry-After), give up at once on what
// retrying cannot fix (401, 403, and other 4xx such as a calendar that
// does not exist or an object refused), retry with backoff otherwise
// (5xx, network). A 412 that survived the refetch is a race with another
// writer: retried.
func classifyCalDAV(err error) error {
	var he *caldav.HTTPError
	switch {
	case !errors.As(err, &he):
		return err
	case he.RetryAfter > 0 && (he.Status == http.StatusTooManyRequests || he.Status == http.StatusServiceUnavailable):
		return &RetryAfterError{After: he.RetryAfter, Err: err}
	case he.Status == http.StatusPreconditionFailed || caldav.Retryable(err):
		return err
	}
	return Permanent(err)
}
