package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/notify"
	"rdvsync/internal/store"
)

func TestReminderDue(t *testing.T) {
	monday := parisTime(2027, 3, 29, 9, 0) // the day after the spring DST change
	for _, tc := range []struct {
		name   string
		start  time.Time
		before time.Duration
		want   time.Time
	}{
		{"48h: same wall-clock time two days before", parisTime(2026, 12, 3, 9, 0), 48 * time.Hour, parisTime(2026, 12, 1, 9, 0)},
		{"48h across the spring change: 09:00, not 08:00", monday, 48 * time.Hour, parisTime(2027, 3, 27, 9, 0)},
		{"24h across the autumn change", parisTime(2026, 10, 26, 9, 0), 24 * time.Hour, parisTime(2026, 10, 25, 9, 0)},
		{"36h is elapsed time", monday, 36 * time.Hour, monday.Add(-36 * time.Hour)},
		{"90m is elapsed time", monday, 90 * time.Minute, parisTime(2027, 3, 29, 7, 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := notify.ReminderDue(tc.start, tc.before, paris); !got.Equal(tc.want) {
				t.Errorf("ReminderDue(%v, %v) = %v, want %v", tc.start, tc.before, got.In(paris), tc.want)
			}
		})
	}
	if elapsed := monday.Add(-48 * time.Hour).In(paris); elapsed.Hour() != 8 {
		t.Fatalf("the DST case is no DST case: 48 h of elapsed time before is %v", elapsed)
	}
}

// reminders are the reminder emails received for rdvID.
func reminders(t *testing.T, s *smtpServer, rdvID string) []*email {
	t.Helper()
	var out []*email
	for _, e := range emailsTo(t, s, lea.email) {
		if strings.Contains(e.messageID, rdvID+".reminder.") {
			out = append(out, e)
		}
	}
	return out
}

func TestReminders(t *testing.T) {
	monday := parisTime(2026, 11, 30, 8, 30)
	start := thursday9                         // three days ahead
	due := parisTime(2026, 12, 1, 9, 0)        // start − 48 h
	afterDue := parisTime(2026, 12, 2, 18, 30) // due passed, RDV not started

	t.Run("one reminder at start − 48 h", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port()}, monday)
		b := h.bookExterne(t, start, lea)
		h.settled(t)
		h.clock.Set(due.Add(-time.Minute))
		if n := h.sendDueReminders(t); n != 0 {
			t.Fatalf("a minute early: %d reminders", n)
		}
		h.clock.Set(due)
		if n := h.sendDueReminders(t); n != 1 {
			t.Fatalf("at due: %d reminders, want 1", n)
		}
		h.clock.Set(due.Add(time.Minute))
		if n := h.sendDueReminders(t); n != 0 {
			t.Fatalf("a minute later: %d reminders, want 0", n)
		}
		h.settled(t)
		e := one(t, "reminder", reminders(t, smtpd, b.RDV.ID))
		if e.subject != "Rappel : votre rendez-vous du jeudi 3 décembre 2026 à 9 h 00" {
			t.Errorf("subject %q", e.subject)
		}
		contains(t, "reminder", e.text, "MDS Arras Centre, 1 place Foch", "Apportez une pièce d'identité", b.RDV.UsagerToken)
		checkICS(t, "reminder", e, b.RDV.ID, "REQUEST", 1, start)
		if _, err := readSMS(t, h, b.RDV.ID+".reminder."); err != nil {
			t.Errorf("reminder SMS: %v", err)
		}
	})

	t.Run("moved: the old reminder is not sent, the new one is", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port()}, monday)
		b := h.bookExterne(t, start, lea)
		next := parisTime(2026, 12, 7, 9, 0)
		h.usagerMove(t, b, next)
		h.clock.Set(afterDue)
		if n := h.sendDueReminders(t); n != 0 {
			t.Fatalf("the reminder of the old start went out")
		}
		h.clock.Set(parisTime(2026, 12, 5, 9, 0))
		if n := h.sendDueReminders(t); n != 1 {
			t.Fatalf("the reminder of the new start: %d", n)
		}
		h.settled(t)
		e := one(t, "reminder", reminders(t, smtpd, b.RDV.ID))
		contains(t, "reminder", e.subject, "lundi 7 décembre 2026 à 9 h 00")
	})

	t.Run("cancelled: none", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port()}, monday)
		b := h.bookExterne(t, start, lea)
		h.usagerCancel(t, b)
		h.clock.Set(afterDue)
		if n := h.sendDueReminders(t); n != 0 {
			t.Fatalf("%d reminders for a cancelled RDV", n)
		}
		h.settled(t)
		if n := len(reminders(t, smtpd, b.RDV.ID)); n != 0 {
			t.Errorf("%d reminders for a cancelled RDV", n)
		}
	})

	t.Run("booked inside the window: none", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port()}, parisTime(2026, 12, 2, 10, 0))
		b := h.bookExterne(t, start, lea)
		h.store.View(context.Background(), func(tx *store.ReadTx) error {
			if _, err := tx.Reminder(b.RDV.ID); !store.IsNotFound(err) {
				t.Errorf("an RDV booked inside the window has a reminder (%v)", err)
			}
			return nil
		})
		h.clock.Set(start.Add(-time.Hour))
		if n := h.sendDueReminders(t); n != 0 {
			t.Errorf("%d reminders", n)
		}
	})

	t.Run("daemon stopped across the due time: sent once after restart", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port()}, monday)
		b := h.bookExterne(t, start, lea)
		h.settled(t)
		h.stop() // down from Monday to Wednesday evening
		h.clock.Set(afterDue)
		h.restart(t)
		if n := h.sendDueReminders(t); n != 1 {
			t.Fatalf("after restart: %d reminders, want 1", n)
		}
		if n := h.sendDueReminders(t); n != 0 {
			t.Fatalf("second run: %d reminders, want 0", n)
		}
		h.settled(t)
		h.restart(t)
		if n := h.sendDueReminders(t); n != 0 {
			t.Fatalf("after a second restart: %d reminders, want 0", n)
		}
		one(t, "late reminder", reminders(t, smtpd, b.RDV.ID))
	})

	t.Run("daemon restarted after the start: not sent", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port()}, monday)
		b := h.bookExterne(t, start, lea)
		h.settled(t)
		h.stop()
		h.clock.Set(start.Add(time.Minute))
		h.restart(t)
		if n := h.sendDueReminders(t); n != 0 {
			t.Fatalf("%d reminders after the start", n)
		}
		h.settled(t)
		if n := len(reminders(t, smtpd, b.RDV.ID)); n != 0 {
			t.Errorf("%d reminders after the start", n)
		}
	})

	t.Run("queued before the start, delivered after: dropped", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port()}, monday)
		b := h.bookExterne(t, start, lea)
		h.settled(t)
		smtpd.refuse.Store(true)
		h.clock.Set(start.Add(-2 * time.Minute))
		if n := h.sendDueReminders(t); n != 1 {
			t.Fatalf("%d reminders, want 1", n)
		}
		waitFor(t, "a failed attempt", func() bool {
			for _, r := range h.receipts(t, b.RDV.ID) {
				if r.Event == "reminder" && r.Result == "failed" {
					return true
				}
			}
			return false
		})
		h.clock.Set(start)
		smtpd.refuse.Store(false)
		h.settled(t)
		if n := len(reminders(t, smtpd, b.RDV.ID)); n != 0 {
			t.Errorf("%d reminders delivered after the start", n)
		}
	})
}

// TestReminderAcrossDST: an RDV on Monday 29 March 2027 at 09:00 in Paris
// (the day after the spring change) is reminded on Saturday 27 at 09:00,
// the wall-clock time people expect, not at 08:00 (48 h of elapsed time).
func TestReminderAcrossDST(t *testing.T) {
	smtpd := newSMTPServer(t)
	h := newHarness(t, setup{smtpPort: smtpd.port(), noHolidays: true}, parisTime(2027, 3, 24, 10, 0))
	start := parisTime(2027, 3, 29, 9, 0)
	b := h.bookExterne(t, start, lea)
	h.store.View(context.Background(), func(tx *store.ReadTx) error {
		r, err := tx.Reminder(b.RDV.ID)
		if err != nil || !r.Due.Equal(parisTime(2027, 3, 27, 9, 0)) {
			t.Errorf("reminder %+v (%v), want due 2027-03-27 09:00 Paris", r, err)
		}
		return nil
	})
	h.clock.Set(parisTime(2027, 3, 27, 8, 30)) // past 48 h of elapsed time
	if n := h.sendDueReminders(t); n != 0 {
		t.Fatalf("reminder sent at 08:30 (elapsed-time rule)")
	}
	h.clock.Set(parisTime(2027, 3, 27, 9, 0))
	if n := h.sendDueReminders(t); n != 1 {
		t.Fatalf("at 09:00: %d reminders, want 1", n)
	}
	h.settled(t)
	e := one(t, "reminder", reminders(t, smtpd, b.RDV.ID))
	contains(t, "reminder", e.subject, "lundi 29 mars 2027 à 9 h 00")
}
