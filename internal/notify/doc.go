// Package notify tells the prescripteur, the usager and the agents about
// RDVs, in French, by email and SMS (docs/design.md §2 item 7 and §7).
//
// # Who gets what
//
// Service is a booking.Effect. In the transaction of every RDV change it
// works out the event — created (a new RDV), moved (its start or lieu
// changed), cancelled (its status became excused or revoked); other status
// changes say nothing — and records one outbox record per (event,
// recipient, channel):
//
//   - created: the prescripteur (email, when an external prescripteur
//     booked: the RDV, the usager's name, the instructions, and that
//     changes go through the service), the usager (email if it has an
//     address, SMS if its phone is a mobile), the agents of the RDV;
//   - moved: the usager and the agents (an agent the RDV left is told it
//     left its agenda);
//   - cancelled: the usager, the agents and the prescripteur;
//   - reminder (see below): the usager.
//
// Agents are told according to their rdv_notifications_level: all (every
// change), others (changes made by someone else), soon (changes made by
// someone else when the old or the new date is today or tomorrow in the
// organisation's zone, as in RDV Solidarités), none (never). Nothing is
// ever sent about an RDV that has started: this is checked when the record
// is written and again when it is delivered.
//
// Record keys are deterministic, notify/<rdv>/<event>/v<version>/<recipient>/<channel>
// (reminders: s<start unix> instead of v<version>), so a transaction run
// twice or a retried delivery collapses into one message, and the
// Message-ID (and the SMS id) derived from them lets a receiver recognise
// a retried send. The payload is a snapshot of what the message says (the
// start, the lieu, the previous ones for "moved"): a message describes the
// change that caused it even if the RDV changed again since. Addresses are
// not in the payload; they are read at delivery, like the SMTP and SMS
// settings, from the store and the catalogue in force (a SIGHUP reload
// applies to messages not yet sent). The usager's are the RDV's own
// contact (rdv.RDV.Contact: what the booking's author gave), not the
// stored usager: no other booking can change who hears about an RDV. A message about an RDV that was
// cancelled since is not sent, the cancellation notice follows it.
//
// Emails to usagers and agents carry the RDV as iCalendar, both as a
// text/calendar alternative and as an rdv.ics attachment, with METHOD
// REQUEST (CANCEL on cancellation), UID = RDV id and SEQUENCE = RDV
// version, as the calendar push does.
//
// # Channels
//
// Email goes through the SMTP server of notifications.email.smtp
// (github.com/wneessen/go-mail: STARTTLS, implicit TLS or none, AUTH when
// a username is set); without it each message is written as
// <spool>/mail/<message id>.eml. SMS go to the HTTP provider of
// notifications.sms.webhook (POST {"to","text","id"} with a bearer token;
// 2xx sent, 429 and 5xx retried, other 4xx dead-lettered); without it each
// SMS is written as <spool>/sms/<id>.txt. Spool files are named after the
// message id, so a retried write replaces the file instead of adding one.
//
// Every attempt leaves a store.Receipt (channel, recipient kind, event,
// result, error) and counts in rdvsync_notifications_total{channel,event,result}.
// Neither receipts nor logs carry addresses, phone numbers or bodies:
// errors from SMTP servers and SMS providers are redacted.
//
// # Reminders
//
// Each active RDV has one reminder in the store's time-ordered index,
// written in the RDV's own transaction: moving the RDV replaces it,
// cancelling deletes it, and an RDV booked (or moved) when its reminder
// time has already passed gets none. SendDueReminders, run every minute by
// the daemon's cron and once at start, turns due reminders into outbox
// records for the usager — reminders that fell due while the daemon was
// stopped go out late, as long as the RDV has not started — and the store
// keeps a trace so that one start is reminded once.
//
// The reminder time follows what people expect of "two days before": when
// notifications.reminder_before is a whole number of days (48h, 2d), the
// reminder goes out at the same wall-clock time that many days before, in
// the organisation's zone, even across a daylight-saving change (an RDV on
// Monday 29 March 2027 at 09:00 in Paris is reminded on Saturday 27 March
// at 09:00, not at 08:00 as 48 hours of elapsed time would give);
// otherwise (e.g. 36h, 90m) it is that much elapsed time before the start.
package notify
