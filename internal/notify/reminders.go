package notify

import (
	"context"
	"strconv"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/store"
)

const day = 24 * time.Hour

// ReminderDue is when the reminder of an RDV starting at start goes out:
// a whole number of days before is the same wall-clock time that many days
// earlier in loc (what people mean by "two days before", DST or not); any
// other duration is elapsed time.
func ReminderDue(start time.Time, before time.Duration, loc *time.Location) time.Time {
	if before <= 0 || before%day != 0 {
		return start.Add(-before)
	}
	l := start.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()-int(before/day), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), loc)
}

// scheduleReminder keeps the reminder of the changed RDV in step: a new,
// moved or reopened RDV gets one unless its time has passed; a cancelled
// one loses it; other changes leave it alone.
func (s *Service) scheduleReminder(tx *store.Tx, cat *catalog.Catalog, c booking.Change) error {
	a, b := c.After, c.Before
	if !a.Active() {
		return tx.CancelReminder(a.ID)
	}
	if b != nil && b.Active() && b.StartsAt.Equal(a.StartsAt) {
		return nil
	}
	due := ReminderDue(a.StartsAt, time.Duration(cat.Config.Notifications.ReminderBefore), zone(cat, a.OrganisationID))
	if !due.After(c.Now) {
		return tx.CancelReminder(a.ID)
	}
	return tx.ScheduleReminder(store.Reminder{RDVID: a.ID, Due: due.UTC(), Start: a.StartsAt.UTC(), Version: a.Version})
}

// reminderBatch bounds the reminders handled in one transaction.
const reminderBatch = 200

// SendDueReminders moves the reminders due now to the outbox — to the
// usager, by email and/or SMS — when their RDV is still active, at the
// same start, and has not started; others are dropped. It returns how many
// reminders were queued. Run it every minute and once at start: reminders
// missed while the daemon was stopped go out then.
func (s *Service) SendDueReminders(ctx context.Context) (int, error) {
	total := 0
	for {
		now := s.now()
		var queued, taken int
		err := s.store.Update(ctx, func(tx *store.Tx) error {
			queued, taken = 0, 0
			due, err := tx.TakeDueReminders(now, reminderBatch)
			if err != nil {
				return err
			}
			taken = len(due)
			for _, rem := range due {
				ok, err := enqueueReminder(tx, rem, now)
				if err != nil {
					return err
				}
				if ok {
					queued++
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += queued
		if queued > 0 {
			s.kick()
		}
		if dropped := taken - queued; dropped > 0 {
			s.log.Info("reminders dropped: rdv cancelled, moved or started", "count", dropped)
		}
		if taken < reminderBatch {
			break
		}
	}
	if total > 0 {
		s.log.Info("reminders queued", "count", total)
	}
	return total, nil
}

// enqueueReminder records the messages of one due reminder, or reports
// false when the RDV no longer warrants one.
func enqueueReminder(tx *store.Tx, rem store.Reminder, now time.Time) (bool, error) {
	r, err := tx.RDV(rem.RDVID)
	if store.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !r.Active() || !r.StartsAt.Equal(rem.Start) || !now.Before(r.StartsAt) {
		return false, nil
	}
	u := contactOf(r)
	if u == nil {
		return false, nil
	}
	m := message{V: messageV1, Event: EventReminder, Recipient: RecipientUsager,
		Tag: "s" + strconv.FormatInt(r.StartsAt.Unix(), 10), Version: r.Version, At: r.UpdatedAt.UTC(),
		Start: r.StartsAt.UTC(), End: r.EndsAt.UTC(), LieuID: r.LieuID, Status: r.Status}
	var out []outMessage
	if u.Email != "" {
		out = append(out, outMessage{KindEmail, m})
	}
	if u.PhoneNumber != "" && u.PhoneMobile {
		out = append(out, outMessage{KindSMS, m})
	}
	if len(out) == 0 {
		return false, nil
	}
	return true, enqueue(tx, r.ID, out, now)
}
