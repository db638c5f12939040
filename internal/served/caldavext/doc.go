// Package caldavext completes go-webdav's CalDAV server (caldav.Handler,
// v0.6.0) with what RFC 4791 requires or clients rely on and go-webdav
// does not do. It is an http.Handler placed in front of go-webdav's: it
// answers some requests itself, rewrites some responses, and passes the
// rest through, so go-webdav keeps doing what it does.
//
// What it adds:
//
//   - DAV:supported-report-set (RFC 3253 §3.1.5), which RFC 4791 §7 says a
//     CalDAV server MUST offer on calendar collections and calendar object
//     resources;
//   - DAV:current-user-privilege-set (RFC 3744 §5.4), so that a client can
//     tell a read-only calendar before a write fails;
//   - the CALDAV:free-busy-query report (RFC 4791 §7.10), computed from the
//     events the backend's QueryCalendarObjects finds in the time range;
//   - the DAV:sync-collection report (RFC 6578 §3) and the DAV:sync-token
//     property (RFC 6578 §4), with the backend keeping the change history;
//     the members' properties come from a calendar-multiget sent to the
//     wrapped handler, so they are exactly what go-webdav serves;
//   - the CalendarServer getctag property (caldav-ctag-02 §4.1), equal to
//     the sync token, which clients without RFC 6578 poll instead;
//   - calendar-data folded to 75 octets (RFC 5545 §3.1) in every
//     multistatus: go-ical's encoder does not fold, and a server whose GET
//     folds would otherwise serve two byte sequences under one strong ETag
//     (RFC 9110 §8.8.3);
//   - request bodies read as XML whatever their Content-Type says (RFC 4918
//     §8.2 only says SHOULD be application/xml), and an empty PROPFIND body
//     read as allprop even with an XML Content-Type (RFC 4918 §9.1 MUST).
//
// The properties are added to go-webdav's multistatus responses: a
// property go-webdav answered 404 for is moved to a 200 propstat with its
// value. Following RFC 3253, RFC 3744 and RFC 6578, none of them is
// returned for DAV:allprop; DAV:propname lists them.
//
// The free-busy report counts each VEVENT from DTSTART to DTEND (or
// DURATION); it does not expand recurrences, which a backend serving
// recurring events would have to do in QueryCalendarObjects.
package caldavext
