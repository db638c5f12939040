// Package connectors pushes RDVs into agents' external calendars and reads
// their busy times: a small Connector interface with a CalDAV
// implementation (through rdvsync/caldav's client wrapper) and a Google
// Calendar implementation (google.golang.org/api/calendar/v3). It is the
// only package that imports vendor calendar SDKs.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rdvsync/caldav"
)

// State is what rdvsync remembers of one RDV in one calendar between
// pushes (one record per (RDV, agent)).
type State struct {
	Href string `json:"href,omitempty"` // CalDAV object path
	// ETag is the CalDAV ETag or Google etag of our last write ("" if the
	// server gave none).
	ETag    string `json:"etag,omitempty"`
	EventID string `json:"event_id,omitempty"` // Google event id
	// Generation counts the Google event ids the RDV has had in this
	// calendar: an id whose deleted event Google purged can never be used
	// again, so the event is recreated under the id of the next generation.
	Generation int `json:"generation,omitempty"`
	// Written holds a digest of each field rdvsync wrote to the Google
	// event last time, so that a field the agent edited there is rewritten
	// only when the RDV's own value for it changes.
	Written map[string]string `json:"written,omitempty"`
}

// Busy is a time during which the agent is taken in its external calendar.
type Busy struct {
	Start, End time.Time
	// UID is the iCalendar UID (CalDAV) or event id (Google) when known,
	// so rdvsync's own events are not counted twice.
	UID string
}

// Connector is one agent's external calendar.
type Connector interface {
	// Kind is "caldav" or "google".
	Kind() string
	// Put creates or updates the event. prev is the state of the last
	// successful push (zero if none); Put returns the new one. Put is
	// idempotent: the object name / event id derives from ev.UID.
	Put(ctx context.Context, ev caldav.Event, prev State) (State, error)
	// Delete removes the event; an event already gone is success.
	Delete(ctx context.Context, uid string, prev State) error
	// Busy lists the opaque busy times overlapping [from, to).
	Busy(ctx context.Context, from, to time.Time) ([]Busy, error)
}

// ErrPermanent marks an error that retrying cannot fix (bad credentials,
// a calendar that does not exist, a refused object): the outbox record
// goes to the dead letter at once, with the error kept.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err as permanent.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// RetryAfterError asks for a retry no sooner than After (rate limits).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }
