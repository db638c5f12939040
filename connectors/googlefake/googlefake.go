// Package googlefake is a test double of the Google Calendar API v3 and of
// Google's OAuth token endpoint, on an httptest server, for driving the
// real generated client (google.golang.org/api/calendar/v3) in tests.
//
// It covers what rdvsync uses — events insert, get, update, patch, delete
// and list, and freeBusy.query — and checks the requests it gets the way
// Google does (https://developers.google.com/calendar/api/v3/reference/events,
// https://developers.google.com/calendar/api/guides/errors):
//
//   - every API call carries "Authorization: Bearer <token>" with a token
//     the fake issued and has not revoked, else 401 authError;
//   - a client-chosen event id uses base32hex characters (a-v, 0-9) and is
//     5 to 1024 long, else 400 invalid;
//   - an id is unique per calendar, deleted events included: inserting the
//     id of a deleted event is 409 duplicate, as Google does, while an
//     update of a deleted event restores it;
//   - get, update and patch of an unknown id are 404 notFound; delete of a
//     deleted event is 410 deleted; delete of an unknown id is 404;
//   - an event ends after it starts, else 400 timeRangeEmpty;
//   - update, patch and delete with an If-Match header that is not the
//     event's current etag are 412 conditionNotMet, and change nothing;
//   - patch merges the body into the event as Google does: nested objects
//     (extendedProperties.private, reminders…) key by key, arrays replaced
//     whole, null removes a field;
//   - a malformed or unknown `fields` selection is 400 invalidParameter,
//     and a valid one trims the response to the fields selected;
//   - requests beyond a sliding minute's quota are throttled: 403
//     userRateLimitExceeded per user, 429 rateLimitExceeded per project,
//     403 rateLimitExceeded per calendar's writes (see Limits; Google's
//     published quotas by default);
//   - recurring events (RRULE, RDATE, EXDATE) are listed once, as their
//     series, or with singleEvents=true as one instance per occurrence
//     ("<id>_<start>", recurringEventId); orderBy=startTime needs
//     singleEvents; a timed recurring event needs start.timeZone;
//   - events.list filters on privateExtendedProperty (every name=value
//     given);
//   - a deleted event's id stays taken after Purge (Google empties its bin
//     after 30 days): get, update, patch and delete are then 404, insert
//     409, so such an event can never come back under that id.
//
// Beyond Google's rules it enforces one of rdvsync's: every write carries
// sendUpdates=none, since rdvsync never has Google e-mail anyone; a write
// without it fails the test. Errors have Google's JSON shape, so the
// client's *googleapi.Error carries the code, the reason and the headers.
//
// Not modelled: changed or cancelled instances of a series, syncToken,
// ACLs.
package googlefake

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/calendar/v3"
)

// apiPrefix is the path of the Calendar API under its host, which
// option.WithEndpoint must include: the generated client resolves
// "calendars/{calendarId}/events" against its base path.
const apiPrefix = "/calendar/v3"

// Server is a fake Calendar API. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the server, without the API prefix.
	URL string

	t testing.TB

	mu        sync.Mutex
	calendars map[string]*fakeCalendar
	access    map[string]bool // access tokens the API accepts
	current   string          // the newest access token
	refresh   string          // the refresh token the token endpoint accepts
	serial    int             // for tokens, generated ids and ETags
	faults    []*Fault
	requests  []Request
	codes     map[string]bool // authorization codes not yet exchanged

	limits        Limits
	now           func() time.Time
	user, project []time.Time            // accepted requests of the last minute
	writes        map[string][]time.Time // by calendar
}

type fakeCalendar struct {
	loc    *time.Location
	events map[string]*calendar.Event // deleted events stay, with status "cancelled"
	purged map[string]bool            // ids of deleted events gone from the bin: taken for ever
}

// Request is one request the server got, as Requests lists it.
type Request struct {
	Method string
	// Path is the URL path without the API prefix, unescaped, e.g.
	// "/calendars/primary/events/abc12"; the token endpoint is "/token".
	Path    string
	Query   url.Values
	IfMatch string // the If-Match header
	Status  int    // the status the server answered
}

// Fault makes matching requests fail with a Google error, after the
// Authorization check. Faults are tried in the order they were injected.
type Fault struct {
	Method string // "" matches every method
	Path   string // prefix of Request.Path; "" matches every path
	Status int
	// Reason is the errors[0].reason of the body; "" picks Google's usual
	// one for Status (authError, forbidden, rateLimitExceeded, …).
	Reason     string
	RetryAfter string // value of the Retry-After header, if any
	Times      int    // how many requests fail; 0 means one
}

// New starts a server with one calendar, "primary" (time zone
// Europe/Paris), and one valid access token; it is closed when t ends.
func New(t testing.TB) *Server {
	s := &Server{t: t, calendars: map[string]*fakeCalendar{}, access: map[string]bool{},
		limits: GoogleLimits, now: time.Now, writes: map[string][]time.Time{}}
	s.AddCalendar("primary", "Europe/Paris")
	s.current = s.newAccessToken()
	s.refresh = s.nextToken("1//fake-refresh-")

	mux := http.NewServeMux()
	event, events, freeBusy := reflect.TypeFor[calendar.Event](), reflect.TypeFor[calendar.Events](), reflect.TypeFor[calendar.FreeBusyResponse]()
	mux.HandleFunc("POST "+apiPrefix+"/calendars/{cal}/events", s.api(s.insert, event))
	mux.HandleFunc("GET "+apiPrefix+"/calendars/{cal}/events", s.api(s.list, events))
	mux.HandleFunc("GET "+apiPrefix+"/calendars/{cal}/events/{id}", s.api(s.get, event))
	mux.HandleFunc("PUT "+apiPrefix+"/calendars/{cal}/events/{id}", s.api(s.update, event))
	mux.HandleFunc("PATCH "+apiPrefix+"/calendars/{cal}/events/{id}", s.api(s.patch, event))
	mux.HandleFunc("DELETE "+apiPrefix+"/calendars/{cal}/events/{id}", s.api(s.delete, event))
	mux.HandleFunc("POST "+apiPrefix+"/freeBusy", s.api(s.freeBusy, freeBusy))
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("googlefake: unexpected request %s %s", r.Method, r.URL.Path)
		writeReply(w, errorReply(http.StatusNotFound, "notFound", "Not Found"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Endpoint is the value for option.WithEndpoint.
func (s *Server) Endpoint() string { return s.URL + apiPrefix + "/" }

// TokenURL is the OAuth token endpoint, for oauth2.Endpoint.TokenURL. It
// answers the refresh_token grant with a new access token and a new
// refresh token (rotation), and refuses any refresh token but the last.
func (s *Server) TokenURL() string { return s.URL + "/token" }

// AccessToken is the newest access token the API accepts.
func (s *Server) AccessToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// RefreshToken is the refresh token the token endpoint accepts.
func (s *Server) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh
}

// RotateToken revokes every access token issued so far (the API answers
// 401 to them) and issues a new one, which AccessToken returns.
func (s *Server) RotateToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
	s.current = s.newAccessToken()
}

// AddCalendar creates an empty calendar; timeZone is an IANA name, used
// for all-day events and returned by events.list.
func (s *Server) AddCalendar(id, timeZone string) {
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		s.t.Fatalf("googlefake: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calendars[id] = &fakeCalendar{loc: loc, events: map[string]*calendar.Event{}, purged: map[string]bool{}}
}

// Purge empties the calendar's bin, as Google does 30 days after a
// deletion: the deleted events are gone, but their ids stay taken.
func (s *Server) Purge(calendarID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendars[calendarID]
	for id, e := range c.events {
		if e.Status == "cancelled" {
			delete(c.events, id)
			c.purged[id] = true
		}
	}
}

// PutEvent stores ev as the agent would through Google Calendar's own
// interface, without the checks the API makes; an empty id is generated.
// It returns the id.
func (s *Server) PutEvent(calendarID string, ev *calendar.Event) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendars[calendarID]
	if c == nil {
		s.t.Fatalf("googlefake: no calendar %q", calendarID)
	}
	e := clone(ev)
	if e.Id == "" {
		e.Id = s.nextToken("gen")
	}
	s.stamp(e, nil)
	c.events[e.Id] = e
	return e.Id
}

// Edit changes an event as the agent would in Google Calendar's own
// interface: the event gets a new etag and a higher sequence.
func (s *Server) Edit(calendarID, id string, edit func(*calendar.Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.calendars[calendarID].events[id]
	if old == nil {
		s.t.Fatalf("googlefake: no event %s in %s", id, calendarID)
	}
	e := clone(old)
	edit(e)
	s.stamp(e, old)
	s.calendars[calendarID].events[id] = e
}

// Events returns the events of a calendar that are not deleted, by start.
func (s *Server) Events(calendarID string) []*calendar.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*calendar.Event
	if c := s.calendars[calendarID]; c != nil {
		for _, e := range c.sorted() {
			if e.Status != "cancelled" {
				out = append(out, clone(e))
			}
		}
	}
	return out
}

// Event returns one event, deleted ones included (with status "cancelled").
func (s *Server) Event(calendarID, id string) (*calendar.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calendars[calendarID]; c != nil && c.events[id] != nil {
		return clone(c.events[id]), true
	}
	return nil, false
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// reply is what an API handler answers.
type reply struct {
	status     int
	body       any // encoded as JSON; nil for no body
	retryAfter string
}

func (s *Server) api(h func(*http.Request) reply, resource reflect.Type) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		rep := s.serve(r, h, resource)
		s.requests = append(s.requests, Request{
			Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, apiPrefix), Query: r.URL.Query(),
			IfMatch: r.Header.Get("If-Match"), Status: rep.status,
		})
		s.mu.Unlock()
		writeReply(w, rep)
	}
}

func (s *Server) serve(r *http.Request, h func(*http.Request) reply, resource reflect.Type) reply {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !s.access[tok] {
		return errorReply(http.StatusUnauthorized, "authError", "Invalid Credentials")
	}
	if rep, ok := s.throttle(r); !ok {
		return rep
	}
	var sel selection
	if f := r.URL.Query()["fields"]; strings.Join(f, "") != "" {
		var err error
		msg := ""
		if sel, err = parseFields(strings.Join(f, ",")); err != nil {
			msg = "Invalid field selection: " + err.Error()
		} else if bad := sel.check(resource, ""); bad != "" {
			msg = "Invalid field selection " + bad
		}
		if msg != "" {
			return errorReply(http.StatusBadRequest, "invalidParameter", msg)
		}
	}
	path := strings.TrimPrefix(r.URL.Path, apiPrefix)
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(path, f.Path) {
			if f.Times--; f.Times == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			rep := errorReply(f.Status, f.Reason, "Injected by googlefake")
			rep.retryAfter = f.RetryAfter
			return rep
		}
	}
	if r.Method != http.MethodGet && r.URL.Path != apiPrefix+"/freeBusy" && r.URL.Query().Get("sendUpdates") != "none" {
		s.t.Errorf("googlefake: %s %s without sendUpdates=none", r.Method, path)
		return errorReply(http.StatusBadRequest, "invalid", "googlefake: rdvsync writes must send sendUpdates=none")
	}
	rep := h(r)
	if rep.body == nil {
		return rep
	}
	// Encoded here, under the lock: the body may hold the stored events.
	b, _ := json.Marshal(rep.body)
	if sel != nil && rep.status == http.StatusOK {
		var v any
		json.Unmarshal(b, &v)
		b, _ = json.Marshal(sel.apply(v))
	}
	rep.body = json.RawMessage(b)
	return rep
}

// event finds the event named in the path; a purged one is gone (404).
func (s *Server) event(r *http.Request) (*fakeCalendar, *calendar.Event, reply, bool) {
	c, rep, ok := s.calendar(r)
	if !ok {
		return nil, nil, rep, false
	}
	e := c.events[r.PathValue("id")]
	if e == nil {
		return c, nil, errorReply(http.StatusNotFound, "notFound", "Not Found"), false
	}
	return c, e, reply{}, true
}

// precondition is Google's answer to an If-Match that names another
// version of the event than the current one.
func precondition(r *http.Request, e *calendar.Event) (reply, bool) {
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != e.Etag {
		return errorReply(http.StatusPreconditionFailed, "conditionNotMet", "Precondition Failed"), false
	}
	return reply{}, true
}

func (s *Server) calendar(r *http.Request) (*fakeCalendar, reply, bool) {
	c := s.calendars[r.PathValue("cal")]
	if c == nil {
		return nil, errorReply(http.StatusNotFound, "notFound", "Not Found"), false
	}
	return c, reply{}, true
}

// base32hex is the alphabet of Event.id (RFC 2938 §3.1.2).
var base32hex = regexp.MustCompile(`^[a-v0-9]*$`)

// validID is Google's rule for a client-chosen event id.
func validID(id string) bool { return len(id) >= 5 && len(id) <= 1024 && base32hex.MatchString(id) }

func (s *Server) insert(r *http.Request) reply {
	c, rep, ok := s.calendar(r)
	if !ok {
		return rep
	}
	var e calendar.Event
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
		return errorReply(http.StatusBadRequest, "parseError", "Parse Error")
	}
	switch {
	case e.Id == "":
		e.Id = s.nextToken("gen")
	case !validID(e.Id):
		return errorReply(http.StatusBadRequest, "invalid", "Invalid resource id value.")
	case c.events[e.Id] != nil || c.purged[e.Id]:
		return errorReply(http.StatusConflict, "duplicate", "The requested identifier already exists.")
	}
	if rep, ok := checkTimes(c, &e); !ok {
		return rep
	}
	if msg := checkRecurrence(c, &e); msg != "" {
		return errorReply(http.StatusBadRequest, "invalid", msg)
	}
	s.stamp(&e, nil)
	c.events[e.Id] = &e
	return reply{status: http.StatusOK, body: clone(&e)}
}

func (s *Server) get(r *http.Request) reply {
	_, e, rep, ok := s.event(r)
	if !ok {
		return rep
	}
	return reply{status: http.StatusOK, body: clone(e)}
}

func (s *Server) update(r *http.Request) reply {
	var e calendar.Event
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
		return errorReply(http.StatusBadRequest, "parseError", "Parse Error")
	}
	return s.replace(r, &e)
}

// patch merges the body into the stored event with Google's patch
// semantics (https://developers.google.com/calendar/api/guides/performance#patch):
// objects are merged key by key, arrays replaced whole, null removes.
func (s *Server) patch(r *http.Request) reply {
	_, old, rep, ok := s.event(r)
	if !ok {
		return rep
	}
	var fields map[string]any
	var patch any
	b, _ := json.Marshal(old)
	json.Unmarshal(b, &fields)
	if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
		return errorReply(http.StatusBadRequest, "parseError", "Parse Error")
	}
	var e calendar.Event
	b, _ = json.Marshal(merge(fields, patch))
	if err := json.Unmarshal(b, &e); err != nil {
		return errorReply(http.StatusBadRequest, "invalid", err.Error())
	}
	return s.replace(r, &e)
}

// merge applies patch to v as a JSON merge patch (RFC 7396), which is
// what Google's patch semantics amount to.
func merge(v, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	m, ok := v.(map[string]any)
	if !ok {
		m = map[string]any{}
	}
	for k, pv := range p {
		if pv == nil {
			delete(m, k)
		} else {
			m[k] = merge(m[k], pv)
		}
	}
	return m
}

// replace stores e as the new version of the event named in the path. A
// deleted event is restored if e's status is not "cancelled", as Google
// does on its organizer's calendar.
func (s *Server) replace(r *http.Request, e *calendar.Event) reply {
	c, old, rep, ok := s.event(r)
	if !ok {
		return rep
	}
	if rep, ok := precondition(r, old); !ok {
		return rep
	}
	id := r.PathValue("id")
	switch {
	case e.Id != "" && e.Id != id:
		return errorReply(http.StatusBadRequest, "invalid", "Invalid value for: id")
	case e.Sequence != 0 && e.Sequence < old.Sequence:
		return errorReply(http.StatusBadRequest, "invalid", "Invalid sequence value. The specified sequence number is below the current sequence number of the resource.")
	}
	e.Id = id
	if rep, ok := checkTimes(c, e); !ok {
		return rep
	}
	if msg := checkRecurrence(c, e); msg != "" {
		return errorReply(http.StatusBadRequest, "invalid", msg)
	}
	s.stamp(e, old)
	c.events[id] = e
	return reply{status: http.StatusOK, body: clone(e)}
}

func (s *Server) delete(r *http.Request) reply {
	_, e, rep, ok := s.event(r)
	if !ok {
		return rep
	}
	if rep, ok := precondition(r, e); !ok {
		return rep
	}
	if e.Status == "cancelled" {
		return errorReply(http.StatusGone, "deleted", "Resource has been deleted")
	}
	e.Status = "cancelled"
	s.stamp(e, e)
	return reply{status: http.StatusNoContent}
}

// list answers events.list: events overlapping [timeMin, timeMax), by
// start, deleted ones only with showDeleted=true, maxResults a page; a
// series once, or with singleEvents=true each of its instances.
func (s *Server) list(r *http.Request) reply {
	c, rep, ok := s.calendar(r)
	if !ok {
		return rep
	}
	q := r.URL.Query()
	from, to, rep, ok := window(q.Get("timeMin"), q.Get("timeMax"))
	if !ok {
		return rep
	}
	single := q.Get("singleEvents") == "true"
	switch q.Get("orderBy") {
	case "", "updated":
	case "startTime":
		if !single {
			return errorReply(http.StatusBadRequest, "invalid", "The requested ordering is not available for the particular query.")
		}
	default:
		return errorReply(http.StatusBadRequest, "invalidParameter", "Invalid value for orderBy")
	}
	var items []*calendar.Event
	for _, e := range c.sorted() {
		if e.Status == "cancelled" && q.Get("showDeleted") != "true" || !hasProperties(e, q["privateExtendedProperty"]) {
			continue
		}
		occ := c.occurrences(e, from, to)
		switch {
		case single:
			items = append(items, occ...)
		case len(occ) > 0:
			items = append(items, e)
		}
	}
	if single {
		slices.SortStableFunc(items, func(a, b *calendar.Event) int {
			sa, _, _ := c.span(a)
			sb, _, _ := c.span(b)
			return sa.Compare(sb)
		})
	}
	page := &calendar.Events{Kind: "calendar#events", TimeZone: c.loc.String()}
	offset, _ := strconv.Atoi(q.Get("pageToken"))
	size, _ := strconv.Atoi(q.Get("maxResults"))
	if size <= 0 || size > 2500 {
		size = 250 // Google's default page size, and its maximum is 2500
	}
	if offset+size < len(items) {
		page.NextPageToken = strconv.Itoa(offset + size)
		items = items[:offset+size]
	}
	page.Items = items[min(offset, len(items)):]
	return reply{status: http.StatusOK, body: page}
}

// hasProperties tells whether e has every private extended property
// "name=value" of the privateExtendedProperty filter.
func hasProperties(e *calendar.Event, filter []string) bool {
	for _, f := range filter {
		name, value, _ := strings.Cut(f, "=")
		if e.ExtendedProperties == nil || e.ExtendedProperties.Private[name] != value {
			return false
		}
	}
	return true
}

// freeBusy answers freeBusy.query: the merged busy periods of confirmed,
// opaque events, clipped to the window; an unknown calendar gets an
// errors entry, not a failure, as with Google.
func (s *Server) freeBusy(r *http.Request) reply {
	var req calendar.FreeBusyRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return errorReply(http.StatusBadRequest, "parseError", "Parse Error")
	}
	from, to, rep, ok := window(req.TimeMin, req.TimeMax)
	if !ok {
		return rep
	}
	res := &calendar.FreeBusyResponse{Kind: "calendar#freeBusy", TimeMin: req.TimeMin, TimeMax: req.TimeMax,
		Calendars: map[string]calendar.FreeBusyCalendar{}}
	for _, item := range req.Items {
		c := s.calendars[item.Id]
		if c == nil {
			res.Calendars[item.Id] = calendar.FreeBusyCalendar{Errors: []*calendar.Error{{Domain: "global", Reason: "notFound"}}}
			continue
		}
		var periods [][2]time.Time
		for _, e := range c.sorted() {
			if e.Status == "cancelled" || e.Transparency == "transparent" {
				continue
			}
			for _, o := range c.occurrences(e, from, to) {
				start, end, _ := c.span(o)
				periods = append(periods, [2]time.Time{start.UTC(), end.UTC()})
			}
		}
		slices.SortFunc(periods, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
		var busy []*calendar.TimePeriod
		var lastEnd time.Time
		for _, p := range periods {
			start, end := p[0], p[1]
			start, end = maxTime(start, from), minTime(end, to)
			if len(busy) > 0 && !start.After(lastEnd) {
				if end.After(lastEnd) {
					lastEnd = end
					busy[len(busy)-1].End = end.Format(time.RFC3339)
				}
				continue
			}
			lastEnd = end
			busy = append(busy, &calendar.TimePeriod{Start: start.Format(time.RFC3339), End: end.Format(time.RFC3339)})
		}
		res.Calendars[item.Id] = calendar.FreeBusyCalendar{Busy: busy}
	}
	return reply{status: http.StatusOK, body: res}
}

// IssueCode returns an authorization code, as Google's consent page gives
// one to the redirect URI; the token endpoint exchanges it once.
func (s *Server) IssueCode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.codes == nil {
		s.codes = map[string]bool{}
	}
	c := s.nextToken("4/fake-code-")
	s.codes[c] = true
	return c
}

// token is the OAuth 2.0 token endpoint (RFC 6749 §4.1.3 and §6): the
// authorization_code grant for codes from IssueCode, and refresh.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	status := http.StatusOK
	defer func() { s.requests = append(s.requests, Request{Method: r.Method, Path: "/token", Status: status}) }()
	w.Header().Set("Content-Type", "application/json")
	if r.FormValue("grant_type") == "authorization_code" && s.codes[r.FormValue("code")] {
		delete(s.codes, r.FormValue("code"))
		s.current = s.newAccessToken()
		s.refresh = s.nextToken("1//fake-refresh-")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": s.current, "token_type": "Bearer", "expires_in": 3599, "refresh_token": s.refresh,
		})
		return
	}
	if r.FormValue("grant_type") != "refresh_token" || r.FormValue("refresh_token") != s.refresh {
		status = http.StatusBadRequest
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
		return
	}
	s.current = s.newAccessToken()
	s.refresh = s.nextToken("1//fake-refresh-")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": s.current, "token_type": "Bearer", "expires_in": 3599, "refresh_token": s.refresh,
	})
}

func (s *Server) nextToken(prefix string) string {
	s.serial++
	return fmt.Sprintf("%s%05d", prefix, s.serial)
}

func (s *Server) newAccessToken() string {
	tok := s.nextToken("ya29.fake-")
	s.access[tok] = true
	return tok
}

// stamp sets what Google sets on a write; old is the previous version.
func (s *Server) stamp(e, old *calendar.Event) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	e.Kind, e.Updated, e.ICalUID = "calendar#event", now, e.Id+"@google.com"
	e.Etag = strconv.Quote(s.nextToken(""))
	e.Created = now
	if old != nil {
		e.Created, e.Sequence = old.Created, old.Sequence+1
	}
	if e.Status == "" {
		e.Status = "confirmed"
	}
}

func checkTimes(c *fakeCalendar, e *calendar.Event) (reply, bool) {
	start, end, err := c.span(e)
	switch {
	case err != nil:
		return errorReply(http.StatusBadRequest, "invalid", err.Error()), false
	case !end.After(start):
		return errorReply(http.StatusBadRequest, "timeRangeEmpty", "The specified time range is empty."), false
	}
	return reply{}, true
}

// span is when e takes place; an all-day event spans whole days of the
// calendar's time zone, its end date exclusive.
func (c *fakeCalendar) span(e *calendar.Event) (start, end time.Time, err error) {
	if start, err = c.instant(e.Start); err == nil {
		end, err = c.instant(e.End)
	}
	return start, end, err
}

func (c *fakeCalendar) instant(d *calendar.EventDateTime) (time.Time, error) {
	switch {
	case d == nil:
		return time.Time{}, errors.New("missing start or end time")
	case d.DateTime != "":
		return time.Parse(time.RFC3339, d.DateTime)
	default:
		return time.ParseInLocation(time.DateOnly, d.Date, c.loc)
	}
}

func (c *fakeCalendar) sorted() []*calendar.Event {
	type keyed struct {
		start time.Time
		e     *calendar.Event
	}
	keys := make([]keyed, 0, len(c.events))
	for _, e := range c.events {
		start, _, _ := c.span(e)
		keys = append(keys, keyed{start, e})
	}
	slices.SortFunc(keys, func(a, b keyed) int {
		return cmp.Or(a.start.Compare(b.start), strings.Compare(a.e.Id, b.e.Id))
	})
	events := make([]*calendar.Event, len(keys))
	for i, k := range keys {
		events[i] = k.e
	}
	return events
}

func window(timeMin, timeMax string) (from, to time.Time, _ reply, _ bool) {
	from, to = time.Unix(0, 0), time.Unix(1<<40, 0)
	var err error
	if timeMin != "" {
		from, err = time.Parse(time.RFC3339, timeMin)
	}
	if err == nil && timeMax != "" {
		to, err = time.Parse(time.RFC3339, timeMax)
	}
	switch {
	case err != nil:
		return from, to, errorReply(http.StatusBadRequest, "invalid", err.Error()), false
	case !to.After(from):
		return from, to, errorReply(http.StatusBadRequest, "timeRangeEmpty", "The specified time range is empty."), false
	}
	return from, to, reply{}, true
}

// usualReasons are Google's reasons when a Fault gives none.
var usualReasons = map[int]string{
	400: "invalid", 401: "authError", 403: "forbidden", 404: "notFound", 409: "duplicate",
	410: "deleted", 412: "conditionNotMet", 429: "rateLimitExceeded", 500: "backendError", 503: "backendError",
}

// errorReply is Google's JSON error body:
// {"error":{"code":403,"message":"…","errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"…"}]}}
func errorReply(status int, reason, message string) reply {
	if reason == "" {
		reason = usualReasons[status]
	}
	domain := "global"
	if strings.HasSuffix(reason, "LimitExceeded") || reason == "quotaExceeded" {
		domain = "usageLimits"
	}
	body := map[string]any{"error": map[string]any{
		"code": status, "message": message,
		"errors": []map[string]string{{"domain": domain, "reason": reason, "message": message}},
	}}
	return reply{status: status, body: body}
}

func writeReply(w http.ResponseWriter, rep reply) {
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(rep.status)
	json.NewEncoder(w).Encode(rep.body)
}

func clone(e *calendar.Event) *calendar.Event {
	b, _ := json.Marshal(e)
	var c calendar.Event
	json.Unmarshal(b, &c)
	return &c
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
