package connectors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"rdvsync/caldav"
	"rdvsync/internal/ratelimit"
)

// GoogleConfig is one agent's Google calendar.
type GoogleConfig struct {
	AgentID    string // for error messages
	CalendarID string // default "primary"
	// TokenSource gives the access tokens; it should cache them, as
	// PersistingTokenSource and ServiceAccountTokenSource do. When Google
	// answers 401 the request is retried once with a new token: if the
	// source has an Invalidate(*oauth2.Token) method (those two do), it is
	// first told which token Google refused, so that it gets a new one.
	TokenSource oauth2.TokenSource
	// Endpoint replaces https://www.googleapis.com/calendar/v3/ (tests:
	// googlefake.Server.Endpoint).
	Endpoint string
	// HTTPClient carries the requests (default http.DefaultTransport); the
	// connector adds the Authorization header to a copy of it.
	HTTPClient *http.Client
	// Timeout bounds each Put, Delete and Busy call (default 30 s); a Put
	// may take two API requests.
	Timeout time.Duration
}

// Google is one agent's Google Calendar, through the Calendar API v3.
//
// The event of an RDV has the RDV id without its dashes as event id (a
// UUID is hex, hence valid base32hex, the alphabet Google requires), so a
// push is idempotent without any lookup: Put inserts with that id and,
// on 409 (the id exists), updates. Every write sends sendUpdates=none and
// the events have no attendees: Google never e-mails anyone for rdvsync.
type Google struct {
	agentID    string
	calendarID string
	timeout    time.Duration
	svc        *calendar.Service
}

var _ Connector = (*Google)(nil)

// NewGoogle returns the connector of one agent's calendar. It makes no
// request.
func NewGoogle(ctx context.Context, cfg GoogleConfig) (*Google, error) {
	if cfg.TokenSource == nil {
		return nil, errors.New("google connector: no token source")
	}
	g := &Google{agentID: cfg.AgentID, calendarID: cfg.CalendarID, timeout: cfg.Timeout}
	if g.calendarID == "" {
		g.calendarID = "primary"
	}
	if g.timeout <= 0 {
		g.timeout = 30 * time.Second
	}
	client := &http.Client{}
	if cfg.HTTPClient != nil {
		*client = *cfg.HTTPClient
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = &authTransport{src: cfg.TokenSource, base: base}
	opts := []option.ClientOption{option.WithHTTPClient(client), option.WithUserAgent("rdvsync")}
	if cfg.Endpoint != "" {
		// The client resolves "calendars/…" against the endpoint: without
		// the final slash it would drop its last segment.
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(cfg.Endpoint, "/")+"/"))
	}
	svc, err := calendar.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("google connector: %w", err)
	}
	g.svc = svc
	return g, nil
}

// Kind implements Connector.
func (g *Google) Kind() string { return "google" }

// Put implements Connector.
//
// rdvsync owns some fields of its events and leaves the rest to the
// agent: an event is inserted whole once, then only patched
// (events.patch), never replaced, so the colour, reminders, guests, other
// applications' extended properties and anything else the agent set in
// Google survive every change of the RDV. A patch always sends start,
// end and status (the RDV's time is rdvsync's to keep: it is moved in
// rdvsync, not in the calendar); summary, location, description and
// source only when the RDV's value differs from what rdvsync wrote last
// time (State.Written), so an agent's note added to the description
// survives a move; the private extended property rdvsync_uid only when
// nothing is known of the event (it never changes, and other keys of
// extendedProperties.private may be another application's).
//
// A patch carries If-Match with the etag of rdvsync's last write. On 412
// (the agent changed the event since) the event is fetched again and the
// patch retried with its new etag.
//
// Without prev it inserts, and on 409 (a push whose state was lost, or an
// event the agent deleted: Google keeps deleted ids and refuses them
// again) it patches. With prev it patches, and on 404 (the calendar never
// had it) it inserts. A patch of an event the agent deleted restores it,
// as the RDV still holds: Google keeps a deleted event in the bin and
// setting its status to "confirmed" brings it back. Once Google has
// purged it from the bin, the id answers 404 to the patch and 409 to the
// insert, for ever (and some deletions made in Google's interface answer
// 403 to the patch instead): the event is then recreated under the id of
// the next generation (GoogleEventIDOf), which State keeps. A calendar
// that refuses every write (403 to the insert too) is a permanent error.
//
// No sequence is sent: Google keeps its own and refuses one lower than
// it has (400), which ours can be after the agent edited the event.
func (g *Google) Put(ctx context.Context, ev caldav.Event, prev State) (State, error) {
	base, err := GoogleEventID(ev.UID)
	if err != nil {
		return prev, Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	known := prev
	if known.EventID == "" {
		known = State{Generation: prev.Generation}
	}
	for range maxGenerations {
		id := known.EventID
		if id == "" {
			id = GoogleEventIDOf(base, known.Generation)
		}
		st, err := g.put(ctx, ev, id, known)
		if !errors.Is(err, errPurged) {
			if err != nil {
				return prev, g.fail("put", id, err)
			}
			return st, nil
		}
		known = State{Generation: known.Generation + 1}
	}
	return prev, Permanent(fmt.Errorf("google calendar %s of agent %s: rdv %s: %d event ids purged in a row", g.calendarID, g.agentID, ev.UID, maxGenerations))
}

// maxGenerations bounds the event ids tried for one RDV in one Put: each
// needs the agent to delete the event and Google to purge it.
const maxGenerations = 5

// errPurged is an id Google refuses both to patch (404) and to insert
// (409): its event was deleted and purged from the bin.
var errPurged = errors.New("event id purged")

// put writes ev under id; known is the state of rdvsync's last write of
// that id, if any.
func (g *Google) put(ctx context.Context, ev caldav.Event, id string, known State) (State, error) {
	fields := googleFields(ev)
	if known.EventID == "" {
		e, err := g.insert(ctx, googleEvent(ev, id))
		if statusOf(err) != http.StatusConflict {
			return stateOf(e, known.Generation, fields), err
		}
		// The id exists: ours, pushed without its state saved, or deleted.
		e, err = g.patch(ctx, ev, id, "", fields, nil)
		if unusable(err) {
			return known, errPurged
		}
		return stateOf(e, known.Generation, fields), err
	}
	etag := known.ETag
	for attempt := 0; ; attempt++ {
		e, err := g.patch(ctx, ev, id, etag, fields, known.Written)
		switch statusOf(err) {
		case http.StatusPreconditionFailed:
			if attempt == 2 {
				return known, err // the agent keeps editing: the outbox retries later
			}
			// Edited since our last write: only the etag is needed, the
			// patch leaves the agent's fields alone.
			cur, gerr := g.svc.Events.Get(g.calendarID, id).Fields("etag").Context(ctx).Do()
			if gerr != nil {
				return known, gerr
			}
			etag = cur.Etag
			continue
		case http.StatusNotFound, http.StatusForbidden:
			if !unusable(err) {
				break
			}
			e, err = g.insert(ctx, googleEvent(ev, id))
			if statusOf(err) == http.StatusConflict {
				return known, errPurged
			}
		}
		return stateOf(e, known.Generation, fields), err
	}
}

// unusable tells whether a patch failed because the id can no longer
// carry an event: 404 (purged, or never there), or a 403 that is no rate
// limit (Google refuses to restore some events deleted in its interface).
// An insert of the id then tells: 409 means it is taken for ever.
func unusable(err error) bool {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return false
	}
	_, limited := rateLimited(gerr)
	return gerr.Code == http.StatusNotFound || gerr.Code == http.StatusForbidden && !limited
}

func stateOf(e *calendar.Event, generation int, fields map[string]string) State {
	if e == nil {
		return State{}
	}
	written := make(map[string]string, len(fields))
	for k, v := range fields {
		written[k] = digest(v)
	}
	return State{EventID: e.Id, ETag: e.Etag, Generation: generation, Written: written}
}

func (g *Google) insert(ctx context.Context, e *calendar.Event) (*calendar.Event, error) {
	return g.svc.Events.Insert(g.calendarID, e).SendUpdates("none").Fields(writeFields).Context(ctx).Do()
}

// writeFields is what rdvsync reads back from a write.
const writeFields = "id,etag"

// patch sends the fields rdvsync owns: always the time and status; the
// texts only when they differ from what was written last time; all of
// them and the ownership mark when written is nil (nothing known). etag
// "" sends no If-Match.
func (g *Google) patch(ctx context.Context, ev caldav.Event, id, etag string, fields, written map[string]string) (*calendar.Event, error) {
	full := googleEvent(ev, id)
	p := &calendar.Event{Start: full.Start, End: full.End, Status: full.Status}
	if written == nil {
		p.ExtendedProperties = full.ExtendedProperties
	}
	for name, v := range fields {
		if written != nil && written[name] == digest(v) {
			continue
		}
		switch name {
		case "summary":
			p.Summary = full.Summary
		case "location":
			p.Location = full.Location
		case "description":
			p.Description = full.Description
		case "source":
			p.Source = full.Source
			if p.Source == nil {
				p.NullFields = append(p.NullFields, "Source")
			}
			continue
		}
		if v == "" { // clear it: an empty string would be left out
			p.ForceSendFields = append(p.ForceSendFields, strings.ToUpper(name[:1])+name[1:])
		}
	}
	call := g.svc.Events.Patch(g.calendarID, id, p).SendUpdates("none").Fields(writeFields).Context(ctx)
	if etag != "" {
		call.Header().Set("If-Match", etag)
	}
	return call.Do()
}

// googleFields are the texts rdvsync owns in an event, as written.
func googleFields(ev caldav.Event) map[string]string {
	return map[string]string{"summary": ev.Summary, "location": ev.Location, "description": ev.Description, "source": ev.URL}
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// Delete implements Connector: an event already deleted (410) or never
// created (404) is success.
//
// Without prev, a push may still have succeeded without its state being
// saved, under any generation's id: rdvsync's events of the RDV are found
// by their private mark (privateExtendedProperty=rdvsync_uid=…).
func (g *Google) Delete(ctx context.Context, uid string, prev State) error {
	if _, err := GoogleEventID(uid); err != nil {
		return Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	ids := []string{prev.EventID}
	if prev.EventID == "" {
		ids = nil
		err := g.svc.Events.List(g.calendarID).PrivateExtendedProperty(ownerKey+"="+uid).
			Fields("nextPageToken", "items(id)").Pages(ctx, func(page *calendar.Events) error {
			for _, e := range page.Items {
				ids = append(ids, e.Id)
			}
			return nil
		})
		if err != nil {
			return g.fail("find events of rdv", uid, err)
		}
	}
	for _, id := range ids {
		err := g.svc.Events.Delete(g.calendarID, id).SendUpdates("none").Context(ctx).Do()
		if s := statusOf(err); err != nil && s != http.StatusNotFound && s != http.StatusGone {
			return g.fail("delete", id, err)
		}
	}
	return nil
}

// ownerKey is the private extended property that marks rdvsync's events
// with their RDV's id.
const ownerKey = "rdvsync_uid"

// Busy implements Connector with events.list, not freeBusy.query: freeBusy
// merges periods and names no event, so rdvsync's own events could not be
// told apart, while each listed event brings its id, which is returned as
// UID (for rdvsync's events, the RDV id without dashes). An event counts
// unless it is cancelled, transparent ("free"), a working location, or
// declined by the agent — what Google's own free/busy leaves out too.
// Only the fields needed are requested: nothing of the agent's other
// events (titles, guests) reaches rdvsync.
func (g *Google) Busy(ctx context.Context, from, to time.Time) ([]Busy, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	call := g.svc.Events.List(g.calendarID).
		TimeMin(from.UTC().Format(time.RFC3339)).TimeMax(to.UTC().Format(time.RFC3339)).
		SingleEvents(true).MaxResults(2500).
		Fields("nextPageToken", "timeZone", "items(id,status,transparency,eventType,start,end,attendees(self,responseStatus))")
	var busy []Busy
	err := call.Pages(ctx, func(page *calendar.Events) error {
		loc := time.UTC
		if l, err := time.LoadLocation(page.TimeZone); err == nil {
			loc = l
		}
		for _, e := range page.Items {
			if !blocksTime(e) {
				continue
			}
			start, err := eventTime(e.Start, loc)
			if err != nil {
				return fmt.Errorf("event %s: %w", e.Id, err)
			}
			end, err := eventTime(e.End, loc)
			if err != nil {
				return fmt.Errorf("event %s: %w", e.Id, err)
			}
			busy = append(busy, Busy{Start: start, End: end, UID: e.Id})
		}
		return nil
	})
	if err != nil {
		return nil, g.fail("list busy times of", g.calendarID, err)
	}
	return busy, nil
}

func blocksTime(e *calendar.Event) bool {
	if e.Status == "cancelled" || e.Transparency == "transparent" || e.EventType == "workingLocation" {
		return false
	}
	for _, a := range e.Attendees {
		if a.Self && a.ResponseStatus == "declined" {
			return false
		}
	}
	return true
}

// eventTime reads a start or end: a date-time, or for an all-day event a
// date, which starts at midnight in the calendar's time zone (an end date
// is exclusive, so this is right for both).
func eventTime(d *calendar.EventDateTime, loc *time.Location) (time.Time, error) {
	switch {
	case d == nil:
		return time.Time{}, errors.New("no start or end")
	case d.DateTime != "":
		return time.Parse(time.RFC3339, d.DateTime)
	default:
		return time.ParseInLocation(time.DateOnly, d.Date, loc)
	}
}

// base32hex is the alphabet of a client-chosen event id (RFC 2938 §3.1.2);
// Google also wants 5 to 1024 of them (regexp repeats stop at 1000).
var base32hex = regexp.MustCompile(`^[a-v0-9]*$`)

// GoogleEventIDOf is the event id of generation n of an RDV whose first
// id is base: base itself, then base + "g" + n. "g" is base32hex, and
// the result is longer than any RDV's own id, so no two RDVs share one.
func GoogleEventIDOf(base string, n int) string {
	if n == 0 {
		return base
	}
	return base + "g" + strconv.Itoa(n)
}

// GoogleEventID is the event id of an RDV in Google Calendar: its id (a
// UUID) without dashes, lowercased.
func GoogleEventID(uid string) (string, error) {
	id := strings.ToLower(strings.ReplaceAll(uid, "-", ""))
	if len(id) < 5 || len(id) > 1024 || !base32hex.MatchString(id) {
		return "", fmt.Errorf("rdv id %q makes no valid google event id (base32hex, 5 to 1024 long)", uid)
	}
	return id, nil
}

// googleEvent is the Google form of ev: no attendees, no reminders (the
// calendar's defaults apply), times in UTC, and the RDV id in a private
// extended property (private to this calendar's copy of the event), so
// rdvsync's events can be found with privateExtendedProperty.
func googleEvent(ev caldav.Event, id string) *calendar.Event {
	e := &calendar.Event{
		Id:           id,
		Summary:      ev.Summary,
		Location:     ev.Location,
		Description:  ev.Description,
		Start:        &calendar.EventDateTime{DateTime: ev.Start.UTC().Format(time.RFC3339)},
		End:          &calendar.EventDateTime{DateTime: ev.End.UTC().Format(time.RFC3339)},
		Status:       "confirmed",
		Transparency: "opaque",
		ExtendedProperties: &calendar.EventExtendedProperties{
			Private: map[string]string{ownerKey: ev.UID},
		},
	}
	if ev.Cancelled {
		e.Status = "cancelled"
	}
	if ev.URL != "" {
		e.Source = &calendar.EventSource{Title: "rdvsync", Url: ev.URL}
	}
	return e
}

// fail wraps err with what failed and classes it for the outbox:
//
//   - 429, and 403 with a rate or quota reason: *RetryAfterError, after
//     Retry-After if Google sent one, else after a delay fit for the limit;
//   - 401 (after the one retry with a new token), other 403s (forbidden,
//     insufficient permissions), 400, 404 (no such calendar), 410, and
//     the other 4xx but 408, 409 and 412 (races): permanent;
//   - a token refresh that Google refused (invalid_grant: access revoked):
//     permanent;
//   - 5xx, network errors, timeouts: returned as they are, for backoff.
func (g *Google) fail(op, what string, err error) error {
	err = fmt.Errorf("google calendar %s of agent %s: %s %s: %w", g.calendarID, g.agentID, op, what, err)
	var gerr *googleapi.Error
	var rerr *oauth2.RetrieveError
	switch {
	case errors.Is(err, ErrPermanent):
		return err
	case errors.As(err, &gerr):
		if wait, ok := rateLimited(gerr); ok {
			return &RetryAfterError{After: retryAfterOr(gerr.Header, wait), Err: err}
		}
		switch gerr.Code {
		case http.StatusRequestTimeout, http.StatusConflict, http.StatusPreconditionFailed:
			// A race with another write: the next attempt sees its result.
		default:
			if gerr.Code >= 400 && gerr.Code < 500 {
				return Permanent(err)
			}
		}
	case errors.As(err, &rerr):
		if rerr.ErrorCode == "invalid_grant" || rerr.ErrorCode == "unauthorized_client" || rerr.ErrorCode == "invalid_client" {
			return Permanent(err)
		}
	}
	return err
}

// rateLimited tells whether Google asks to slow down and, if so, a delay
// when it gives none: rate limits are per minute, the "Calendar usage
// limits" (quotaExceeded) take from minutes to hours to replenish, and
// the daily project quota resets once a day.
func rateLimited(e *googleapi.Error) (time.Duration, bool) {
	if e.Code == http.StatusTooManyRequests {
		return 30 * time.Second, true
	}
	if e.Code != http.StatusForbidden {
		return 0, false
	}
	for _, item := range e.Errors {
		switch item.Reason {
		case "rateLimitExceeded", "userRateLimitExceeded":
			return 30 * time.Second, true
		case "quotaExceeded":
			return 15 * time.Minute, true
		case "dailyLimitExceeded":
			return time.Hour, true
		}
	}
	return 0, false
}

// retryAfterOr is Google's Retry-After, or fallback when it sent none.
func retryAfterOr(h http.Header, fallback time.Duration) time.Duration {
	if d := ratelimit.ParseRetryAfter(h.Get("Retry-After"), time.Now()); d > 0 {
		return d
	}
	return fallback
}

func statusOf(err error) int {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code
	}
	return 0
}

// tokenInvalidator is a token source that can be told the API refused a
// token, so its next Token call gets a new one instead of the cached one.
type tokenInvalidator interface {
	Invalidate(refused *oauth2.Token)
}

// authTransport sets the bearer token and, on 401, retries once with a new
// token: the access token may have been revoked or rotated before its
// expiry, which the token source cannot know. Google's advice for 401 is
// to refresh and, if that fails too, to have the user authorize again:
// the second 401 is returned, and Google.fail makes it permanent.
type authTransport struct {
	src  oauth2.TokenSource
	base http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, res, err := t.send(req, req.Body)
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		return res, err
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return res, nil
		}
	} else if req.Body != nil && req.Body != http.NoBody {
		return res, nil // cannot be sent again
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if inv, ok := t.src.(tokenInvalidator); ok {
		inv.Invalidate(tok)
	}
	_, res, err = t.send(req, body)
	return res, err
}

func (t *authTransport) send(req *http.Request, body io.ReadCloser) (*oauth2.Token, *http.Response, error) {
	tok, err := t.src.Token()
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	tok.SetAuthHeader(r)
	res, err := t.base.RoundTrip(r)
	return tok, res, err
}
