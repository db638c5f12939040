package main

import (
	"context"
	"testing"
	"time"

	"rdvsync/internal/store"
)

// confirmationsBound is how long after the last of the bookings made as
// fast as possible every confirmation may still be on its way: 10 s plus
// twice the time the bookings took. Each booking gives the dispatcher
// four deliveries (email, SMS, webhook, calendar push); one that keeps up
// leaves a backlog of about the bookings' own duration on a machine whose
// cores both serve. The dispatcher before this bound drained 6 to 7 times
// slower than bookings arrived (180 emails/s for 1 300 bookings/s).
func confirmationsBound(booking time.Duration) time.Duration { return 10*time.Second + 2*booking }

// 5 000 bookings (1 000 under the race detector) made as fast as possible
// through the daemon all get their confirmations (email and SMS to the
// usager, spooled) within confirmationsBound of the last one, each exactly
// once: one spool file and one "ok" receipt per message.
func TestConfirmationsKeepUpWithBookings(t *testing.T) {
	bookings := 5000
	if raceEnabled {
		bookings = 1000
	}
	ld := startLoadDaemon(t, benchDataset(), loadOptions{})
	todo, err := ld.data.FreeSlots(time.Now(), bookings, false)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ld.bookAll(t, todo, 32)
	if t.Failed() {
		t.FailNow()
	}
	last := time.Now()
	bound := confirmationsBound(last.Sub(start))
	deadline := last.Add(bound)
	for ld.spooled(t, "mail") < bookings || ld.spooled(t, "sms") < bookings {
		if time.Now().After(deadline) {
			t.Fatalf("%v after the last booking: %d emails and %d SMS spooled for %d bookings",
				bound, ld.spooled(t, "mail"), ld.spooled(t, "sms"), bookings)
		}
		time.Sleep(100 * time.Millisecond)
	}
	done := time.Now()
	t.Logf("%d bookings in %v (%.0f/s); all confirmations %v after the last (%.0f emails/s over the run)",
		bookings, last.Sub(start).Round(time.Millisecond), float64(bookings)/last.Sub(start).Seconds(),
		done.Sub(last).Round(time.Millisecond), float64(bookings)/done.Sub(start).Seconds())

	// Exactly once: the dispatcher is drained, nothing is delivered again.
	ld.waitDrained(t, bound)
	if n := ld.spooled(t, "mail"); n != bookings {
		t.Errorf("%d emails spooled, want %d", n, bookings)
	}
	ok := map[string]int{}
	err = ld.store.View(context.Background(), func(tx *store.ReadTx) error {
		return tx.EachReceipt(func(r store.Receipt) error {
			if r.Result == "ok" {
				ok[r.MessageID+"/"+r.Channel]++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ok) != 2*bookings {
		t.Errorf("%d messages with an ok receipt, want %d", len(ok), 2*bookings)
	}
	for id, n := range ok {
		if n != 1 {
			t.Errorf("message %s: %d ok receipts, want 1", id, n)
		}
	}
}
