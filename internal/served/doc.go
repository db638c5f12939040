// Package served serves each agent's own RDVs back to it (docs/design.md §2 item
// 10, §5 "Other endpoints"): a secret ICS feed to subscribe to, and a
// read-only CalDAV calendar (RFC 4791) to add as an account.
//
// Both show the same thing: the agent's RDVs in all its organisations that
// start one month ago or later, cancelled ones included with
// STATUS:CANCELLED, each built by rdvsync/caldav.NewEvent and encoded by
// caldav.Encode — the very event the calendar push writes — so usager data
// appears only when the agent's calendar block says details: full.
//
// # ICS feed
//
// GET /calendars/{secret}.ics. The secret is 256 random bits, base64url,
// kept in the agent's "feed" state document; FeedURL creates it on first
// use and RotateFeed replaces it (the old URL then answers 404). Requests
// find the agent through an in-memory index keyed by sha256(secret), so the
// lookup's timing says nothing about the secret, and the store has the
// last word (a constant-time comparison with the stored secret). The
// response carries an ETag (a hash of the body) and a Last-Modified (the
// latest updated_at), and answers If-None-Match and If-Modified-Since with
// 304 (RFC 9110 §13).
//
// # CalDAV
//
// go-webdav's caldav.Handler over a read-only Backend, behind a gate that
// authenticates every request with HTTP Basic (RFC 7617: agent id and
// agent token), answers 404 for any path that is not the caller's own —
// an agent cannot even learn that another agent's calendar exists — and
// refuses every method that would write with 403. The layout:
//
//	/.well-known/caldav               → 301 /dav/ (RFC 6764 §5)
//	/dav/                             DAV:current-user-principal
//	/dav/principals/<agent id>/       the principal, CALDAV:calendar-home-set
//	/dav/calendars/<agent id>/        the calendar home
//	/dav/calendars/<agent id>/rdv/    the one calendar, "RDV"
//	/dav/calendars/<agent id>/rdv/<rdv id>.ics
//
// go-webdav v0.6.0 decides what a path is by its depth below the handler's
// prefix, so the principals are served by a second Handler whose prefix is
// /dav/principals. Some things are done here rather than by go-webdav:
//
//   - OPTIONS, answered before authentication with the read-only methods
//     (go-webdav's Allow lists PUT and DELETE).
//   - PROPFIND on /dav/: go-webdav names the principal's href in the
//     response for the root, which clients that match responses to the
//     requested URL (python-caldav, DAVx5) reject.
//   - calendar-query time ranges: go-webdav's matcher misses an event that
//     starts exactly at the range's start; RFC 4791 §9.9 is applied here
//     (start < DTEND and end > DTSTART).
//   - GET of an event or of the calendar collection, so that the body is
//     caldav.Encode's (folded lines) and conditional GET works.
//   - Everything package caldavext adds in front of go-webdav's handler:
//     supported-report-set, current-user-privilege-set (read and
//     read-free-busy), free-busy-query, sync-collection with sync-token and
//     getctag, calendar-data folded like GET's body (one byte sequence per
//     ETag), request bodies read as XML whatever their Content-Type.
//
// # Incremental synchronisation
//
// Each agent's calendar keeps its change history in the agent state
// document "caldav-sync": the ETag of every member and the state number
// at which it last changed, and the state number at which each removed
// member left (the last thousand). The history is brought up to date from
// what the calendar serves whenever a client asks for the sync token or
// getctag, or synchronises, so every change a client can see moves the
// token, whatever caused it: a booking, a move, a cancellation, an RDV
// given to another agent or leaving the one-month window, a motif renamed
// in the configuration. Tokens are URIs (RFC 6578 §4),
// https://rdvsync.invalid/sync/<history>/<state>; one of another history
// (a store restored from a backup) or older than the last forgotten
// removal is answered 403 DAV:valid-sync-token, and the client
// synchronises from scratch.
//
// A cancelled RDV stays in the calendar with STATUS:CANCELLED, as in the
// ICS feed: a sync reports it as changed, not removed.
//
// ETags of events are a hash of their encoding (the body of GET, and of
// calendar-data in reports): they change when the RDV, or anything shown
// of it (a motif renamed, details switched to full), changes.
package served
