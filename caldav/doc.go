// Package caldav owns rdvsync's iCalendar and CalDAV code: the iCalendar
// form of an RDV (RFC 5545, produced only by go-ical's encoder, with the
// line folding go-ical leaves out), the CalDAV client the calendar push
// uses, and, later, the read-only CalDAV server backend and the ICS feed.
//
// CalDAV is defined in RFC 4791. The Client works on one calendar
// collection; objects are written with conditional requests (RFC 9110
// §13: If-None-Match: * to create, If-Match to replace or delete) so
// that a push never duplicates an event nor overwrites blindly what a
// person changed. Every request goes through one wrapper that sends Basic
// credentials, the User-Agent and the conditions, bounds the request in
// time and turns a non-2xx status into an *HTTPError that errors.Is
// matches against ErrPreconditionFailed, ErrNotFound and ErrUnauthorized;
// Retryable tells what a later attempt may fix.
//
// What real servers do, as the tests against them show (see caldavtest):
//
//   - ETags are opaque and compared byte for byte (Radicale 3.1 compares
//     If-Match with its quoted ETag as a string), so they are kept exactly
//     as received, quotes included.
//   - RFC 4791 §9.9 matches a recurring event in a time-range query by its
//     instances; Radicale 3.1 does, Xandikos 0.2 compares the range with
//     the first instance only. Busy therefore also asks for every event
//     with an RRULE and expands instances itself: Radicale 3.1 has no
//     CALDAV:expand.
//   - Xandikos 0.2 answers <C:allcomp/> with empty components, and
//     go-webdav's client (v0.6.0) drops prop-filters and fails on weak
//     ETags, so the calendar-query REPORT is built here and asks for the
//     whole object.
//   - Radicale 3.1 speaks HTTP/1.0 (a connection per request) and its PUT
//     slows down as the collection grows (about 8 ms per object at 100
//     objects, 35 ms at 600); Xandikos 0.2 commits every PUT to git
//     (25–40 ms).
//   - Xandikos 0.2 does no authentication itself (a reverse proxy does);
//     Radicale answers bad credentials with 401.
package caldav
